import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedWebhookUrl } from './webhook-url.js';

export interface PostResult {
  /** null when no answer came */
  statusCode: number | null;
  /** why no answer came; null when one did */
  error: string | null;
}

/** Connects to the address that was checked, whatever the host resolves to now (no DNS rebinding). */
function pinnedLookup(target: CheckedWebhookUrl): LookupFunction {
  const [{ address, family }] = target.addresses;
  return (_hostname, options, callback) => {
    if (options.all) (callback as (error: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

/** A connection failure in words fit for the delivery log: the error code, never a library's message. */
function describeFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `connection failed (${code})` : 'connection failed';
}

/**
 * POSTs `body` once and reports the status, or why none came within `timeoutMs`. Redirects are
 * not followed (a 3xx is just not a 2xx), and the response body is drained unread.
 */
export function postWebhook(target: CheckedWebhookUrl, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const options: RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: pinnedLookup(target),
      agent: false,
    };
    const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(target.url, options, (response) => {
      settle({ statusCode: response.statusCode ?? null, error: null });
      // A receiver that keeps streaming a body is cut off; its status is what counted.
      const drain = setTimeout(() => request.destroy(), timeoutMs);
      response.on('close', () => clearTimeout(drain));
      response.resume();
    });
    const timer = setTimeout(() => {
      settle({ statusCode: null, error: `timeout: no answer in ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error) => settle({ statusCode: null, error: describeFailure(error) }));
    request.end(body);
  });
}
