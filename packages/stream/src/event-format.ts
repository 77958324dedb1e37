import type { JobEvent, JobEventName } from '@spool/contracts';

/** A log entry is `event\ndata`; its id is its position in the log, counting from 1. */
export function encodeEntry(event: JobEventName, data: string): string {
  return `${event}\n${data}`;
}

export function decodeEntry(id: number, entry: string): JobEvent {
  const newline = entry.indexOf('\n');
  return { id, event: entry.slice(0, newline) as JobEventName, data: entry.slice(newline + 1) };
}

/** A pub/sub message is `id\nevent\ndata`: the entry, prefixed with its id. */
export function decodeMessage(message: string): JobEvent {
  const newline = message.indexOf('\n');
  return decodeEntry(Number(message.slice(0, newline)), message.slice(newline + 1));
}

/** Server-Sent Events framing of one event. */
export function formatSse(event: JobEvent): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${event.data}\n\n`;
}

/** The text a watcher has seen: every delta after the last reset. */
export function streamedText(events: readonly JobEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.event === 'reset') text = '';
    else if (event.event === 'delta') text += (JSON.parse(event.data) as { content: string }).content;
  }
  return text;
}
