/**
 * The root of every error Spool throws on purpose: each package roots its own classes on it
 * (`StoreError`, `JobsError`, `WorkerError`, ...), with a stable `code` and the original `cause`.
 */
export class SpoolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
