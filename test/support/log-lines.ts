import { Writable } from 'node:stream';

/** A log destination that keeps every chunk written to it in `lines` (a test reads what was logged). */
export function logDestination(lines: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
}
