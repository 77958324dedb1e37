import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  id: number;
  event: string;
  data: string;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

export interface ReadEventsOptions {
  headers?: Record<string, string>;
  /** stop (and abort the connection) after this many events */
  limit?: number;
  /** also collect `: ping` comments */
  onComment?: (comment: string) => void;
  signal?: AbortSignal;
}

/** Reads a job's SSE stream until the server closes it (after `done`) or `limit` events came. */
export async function readEvents(url: string, options: ReadEventsOptions = {}): Promise<SseEvent[]> {
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort());
  const response = await fetch(url, { headers: options.headers, signal: controller.signal });
  if (response.status !== 200) throw new Error(`events answered ${response.status}: ${await response.text()}`);
  const events: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message: EventSourceMessage) => {
      events.push({ id: Number(message.id), event: message.event ?? 'message', data: message.data });
    },
    onComment: options.onComment,
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (options.limit && events.length >= options.limit) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return options.limit ? events.slice(0, options.limit) : events;
}

/** Every delta after the last reset, joined: what a watcher shows. */
export function joinDeltas(events: SseEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.event === 'reset') text = '';
    if (event.event === 'delta') text += JSON.parse(event.data).content;
  }
  return text;
}
