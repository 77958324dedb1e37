import { SpoolError } from '@spool/contracts';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface ClientOptions {
  url: string;
  key?: string;
}

/** A failure worth one clear line to the user; the root of the CLI's errors. */
export class CliError extends SpoolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('cli_error', message, options);
  }
}

export interface StreamEvent {
  id: number;
  event: string;
  data: string;
}

/** The few calls the CLI makes to a Spool API, with errors a person can act on. */
export class SpoolClient {
  constructor(private readonly options: ClientOptions) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.options.key ? { authorization: `Bearer ${this.options.key}` } : {}), ...extra };
  }

  async request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<any> {
    const response = await this.fetch(path, { method, body, headers: this.headers(body ? { 'content-type': contentType } : {}) });
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        const error = JSON.parse(text).error;
        message = `${error.message}${error.param ? ` (${error.param})` : ''}`;
      } catch {
        // not the envelope: show the text as it came
      }
      throw new CliError(`Spool answered ${response.status}: ${message}`);
    }
    return path.endsWith('/results') ? text : JSON.parse(text);
  }

  /** Every event of a job after `after`, resuming with Last-Event-ID if the connection drops. */
  async follow(jobId: string, onEvent: (event: StreamEvent) => void, after = 0): Promise<void> {
    let lastId = after;
    for (let attempt = 0; attempt < 20; attempt++) {
      let done = false;
      try {
        const response = await this.fetch(`/v1/jobs/${jobId}/events`, { headers: this.headers({ 'last-event-id': String(lastId) }) });
        if (!response.ok) throw new CliError(`Spool answered ${response.status} for job ${jobId}`);
        const parser = createParser({
          onEvent: (message: EventSourceMessage) => {
            lastId = Number(message.id);
            const event = { id: lastId, event: message.event ?? 'message', data: message.data };
            if (event.event === 'done') done = true;
            onEvent(event);
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
        if (done) return;
      } catch (error) {
        if (error instanceof CliError) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5000)));
    }
    throw new CliError(`Lost the stream of ${jobId} and could not resume it`);
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.options.url), init);
    } catch (error) {
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`Cannot reach Spool at ${this.options.url} (${reason}). Is it running? Set --url or SPOOL_URL.`);
    }
  }
}
