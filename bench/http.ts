import { Agent, request as httpRequest } from 'node:http';

/** Keep-alive connections without a cap: the load, not the pool, decides how many are open. */
export function keepAliveAgent(maxSockets = Infinity): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets === Infinity ? 4096 : maxSockets });
}

export interface HttpAnswer {
  status: number;
  text: string;
}

export interface PostOptions {
  agent: Agent;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** more request headers (the API key) */
  headers?: Record<string, string>;
}

/** POSTs a JSON body that is already a string (so the client's cost is the same on both sides). */
export function postJson(url: string, body: string, options: PostOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        agent: options.agent,
        signal: options.signal,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...options.headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      },
    );
    if (options.timeoutMs) request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`no answer from ${url} in ${options.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

