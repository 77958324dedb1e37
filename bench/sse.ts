import { get, type Agent } from 'node:http';
import { createParser } from 'eventsource-parser';
import { keepAliveAgent, postJson } from './http.js';
import { BENCH_AUTH } from './processes.js';
import { countWords } from './stats.js';
import { errorText, type StreamResult, type StreamRunOptions, type StreamRunner } from './stream-runner.js';

interface DoneJob {
  status?: string;
  result?: { usage?: { completion_tokens?: number } } | null;
  error?: { code?: string; message?: string } | null;
}

/**
 * A Spool client as an application would write one: `POST /v1/jobs`, then right after the 202
 * `GET /v1/jobs/{id}/events`, read until `done`. Time to first delta runs from sending the POST.
 */
export class SpoolStreamRunner implements StreamRunner {
  readonly name = 'spool';

  constructor(
    private readonly baseUrl: string,
    /** jobs queued or running in Spool, for `settle` */
    private readonly backlog?: () => Promise<number>,
    private readonly model = 'gpt-4o-mini',
    private readonly agent: Agent = keepAliveAgent(),
  ) {}

  async run(content: string, options: StreamRunOptions = {}): Promise<StreamResult> {
    const startedAt = performance.now();
    const fail = (error: string, partial: Partial<StreamResult> = {}): StreamResult => ({
      ok: false,
      startedAt,
      endedAt: performance.now(),
      tokens: 0,
      ...partial,
      error,
    });
    const body = JSON.stringify({ model: this.model, messages: [{ role: 'user', content }] });
    let jobId: string;
    let accepted: number;
    try {
      const answer = await postJson(`${this.baseUrl}/v1/jobs`, body, { agent: this.agent, signal: options.signal, timeoutMs: options.timeoutMs, headers: BENCH_AUTH });
      if (answer.status !== 202) return fail(`POST /v1/jobs answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      accepted = performance.now();
      jobId = (JSON.parse(answer.text) as { id: string }).id;
    } catch (error) {
      return fail(`POST /v1/jobs: ${errorText(error)}`);
    }
    return this.watch(jobId, startedAt, { accepted }, options);
  }

  /** Waits until `backlog` (jobs queued or running) is zero. */
  async settle(timeoutMs: number): Promise<void> {
    if (!this.backlog) return;
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && (await this.backlog()) > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }

  private watch(jobId: string, startedAt: number, marks: Record<string, number>, options: StreamRunOptions): Promise<StreamResult> {
    return new Promise((resolve) => {
      let firstDeltaAt: number | undefined;
      let tokens = 0;
      let done: DoneJob | undefined;
      let settled = false;
      const finish = (error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const endedAt = performance.now();
        const reportedTokens = done?.result?.usage?.completion_tokens;
        if (!error && !done) error = 'the stream ended without a done event';
        if (!error && done?.status !== 'succeeded') error = `job ${done?.status}: ${done?.error?.code} ${done?.error?.message}`;
        resolve({ ok: !error, startedAt, firstDeltaAt, endedAt, tokens, reportedTokens, error, marks });
      };
      const parser = createParser({
        onEvent: (event) => {
          if (event.event === 'delta') {
            const at = performance.now();
            firstDeltaAt ??= at;
            const count = countWords((JSON.parse(event.data) as { content: string }).content);
            tokens += count;
            options.onTokens?.(count, at);
          } else if (event.event === 'status') {
            if (marks.running === undefined && event.data.includes('"running"')) marks.running = performance.now();
          } else if (event.event === 'done') {
            done = JSON.parse(event.data) as DoneJob;
          }
        },
      });
      const request = get(
        `${this.baseUrl}/v1/jobs/${jobId}/events`,
        { agent: this.agent, signal: options.signal, headers: { accept: 'text/event-stream', ...BENCH_AUTH } },
        (response) => {
          marks.headers = performance.now();
          response.setEncoding('utf8');
          if (response.statusCode !== 200) {
            let text = '';
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => finish(`GET events answered ${response.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          response.on('data', (chunk: string) => parser.feed(chunk));
          response.on('end', () => finish());
          response.on('error', (error) => finish(`events: ${errorText(error)}`));
          response.on('aborted', () => finish('events: aborted'));
        },
      );
      const timer = setTimeout(() => request.destroy(new Error(`no done within ${options.timeoutMs} ms`)), options.timeoutMs ?? 60_000);
      request.on('error', (error) => finish(`events: ${errorText(error)}`));
    });
  }
}
