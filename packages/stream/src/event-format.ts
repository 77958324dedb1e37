import type { JobEvent, JobEventData, JobEventName } from '@spool/contracts';

/**
 * A log entry is `event\ndata`; its id is its position in the log, counting from 1. Scripts write
 * entries with commands/event-log.lua, the same format.
 */
export function encodeEntry(event: JobEventName, data: string): string {
  return `${event}\n${data}`;
}

/** The entry of an event, its data typed by the event's schema in @spool/contracts. */
export function encodeEvent<Name extends JobEventName>(event: Name, data: JobEventData[Name]): string {
  return encodeEntry(event, JSON.stringify(data));
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

/**
 * The data of `event` if it is a `name` event, else null. Not validated: only Spool writes the
 * log, and a delta is parsed once per watcher.
 */
export function eventData<Name extends JobEventName>(event: JobEvent, name: Name): JobEventData[Name] | null {
  return event.event === name ? (JSON.parse(event.data) as JobEventData[Name]) : null;
}

/** Server-Sent Events framing of one event. */
export function formatSse(event: JobEvent): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${event.data}\n\n`;
}

const encoded = new WeakMap<JobEvent, Buffer>();

/**
 * `formatSse` as bytes, encoded once per event object: a live event reaches every watcher of its
 * job as the same object, so thousands of streams write (and queue, when a client is slow) one buffer.
 */
export function sseBytes(event: JobEvent): Buffer {
  let bytes = encoded.get(event);
  if (!bytes) {
    bytes = Buffer.from(formatSse(event));
    encoded.set(event, bytes);
  }
  return bytes;
}

/** The text a watcher has seen: every delta after the last reset. */
export function streamedText(events: readonly JobEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.event === 'reset') text = '';
    else text += eventData(event, 'delta')?.content ?? '';
  }
  return text;
}
