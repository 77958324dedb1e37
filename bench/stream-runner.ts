/** One streamed reply as a client saw it; times are `performance.now()` in this process. */
export interface StreamResult {
  ok: boolean;
  startedAt: number;
  /** when the first piece of text arrived */
  firstDeltaAt?: number;
  endedAt: number;
  /** tokens received (words of simulator text) */
  tokens: number;
  /** completion tokens the server reported, when it did */
  reportedTokens?: number;
  error?: string;
  /** when intermediate steps happened (Spool: `accepted` = the 202, `running` = the running status event) */
  marks?: Record<string, number>;
}

export interface StreamRunOptions {
  /** called as text arrives, with its token count and the time it arrived */
  onTokens?(count: number, at: number): void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A way to get one streamed chat reply: Spool (POST + SSE) or the bare SDK. */
export interface StreamRunner {
  readonly name: string;
  run(content: string, options?: StreamRunOptions): Promise<StreamResult>;
  /** waits until work left behind by aborted clients has ended (Spool's jobs go on without a watcher) */
  settle?(timeoutMs: number): Promise<void>;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
