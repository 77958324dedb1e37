import type { Request, RequestHandler, Response } from 'express';

/** Told once a response is over: answered, or its client gone (an SSE stream); `durationMs` from its start. */
export type RequestEndObserver = (req: Request, res: Response, durationMs: number) => void;

const STARTED = Symbol('spool.started');

type TimedResponse = Response & { [STARTED]?: number };

/**
 * Calls every observer (the request log line, the HTTP metrics) when a response closes, through
 * one listener function shared by all requests: no closure or timer is kept per request, which
 * is what an open event stream would hold for its whole life.
 */
export function onRequestEnd(observers: RequestEndObserver[]): RequestHandler {
  function ended(this: TimedResponse): void {
    const durationMs = performance.now() - (this[STARTED] ?? 0);
    for (const observe of observers) observe(this.req, this, durationMs);
  }
  return (req, res, next) => {
    (res as TimedResponse)[STARTED] = performance.now();
    // Asked now, the socket keeps its peer's address for the log line; asked once the client is gone, it has none.
    void req.socket.remoteAddress;
    // `close` follows every answer's `finish`, and comes alone when the client leaves first.
    res.on('close', ended);
    next();
  };
}
