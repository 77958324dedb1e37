import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/**
 * A `fetch` for the openai SDK on node:http with keep-alive agents. A successful answer's body
 * stays a Node stream, read through `successBody`: undici's web streams cost the worker about
 * twice the CPU per streamed token (measured with 100 streams against the simulator).
 * An error answer is buffered into a regular `Response` so the SDK builds its `APIError` as usual.
 * Redirects are not followed: a 3xx reaches the caller as an error.
 */
export interface NodeFetch {
  fetch: typeof fetch;
  /** the body of a 2xx answer this fetch returned, as a Node stream */
  successBody(response: Response): IncomingMessage | undefined;
  close(): void;
}

/**
 * An idle pooled connection is closed after this long: under the 5 s keep-alive of common
 * servers (Node's default), so a call never goes out on a connection the server is closing.
 */
const IDLE_CONNECTION_MS = 4000;

function responseHeaders(answer: IncomingMessage): Headers {
  const headers = new Headers();
  for (let index = 0; index < answer.rawHeaders.length; index += 2) headers.append(answer.rawHeaders[index], answer.rawHeaders[index + 1]);
  return headers;
}

export function createNodeFetch(): NodeFetch {
  const options = { keepAlive: true, maxSockets: Infinity, timeout: IDLE_CONNECTION_MS };
  const agents = { 'http:': new http.Agent(options), 'https:': new https.Agent(options) };
  const bodies = new WeakMap<Response, IncomingMessage>();

  // The SDK calls with a string URL and a string body; anything else is a misuse, not a case to serve.
  const nodeFetch = (input: string | URL, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input);
      const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      const body = init.body;
      if (!transport) throw new TypeError(`unsupported protocol ${url.protocol}`);
      if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array)) throw new TypeError('the request body must be a string');

      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      const request = transport.request(url, {
        method: init.method ?? 'GET',
        headers,
        agent: agents[url.protocol as keyof typeof agents],
        signal: init.signal ?? undefined,
      });
      request.on('error', reject);
      request.on('response', (answer) => {
        const fail = (error: unknown) => {
          answer.destroy();
          reject(error);
        };
        try {
          const status = answer.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            const response = new Response(null, { status, headers: responseHeaders(answer) });
            bodies.set(response, answer);
            resolve(response);
            return;
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', fail);
          answer.on('end', () => {
            try {
              resolve(new Response(chunks.length ? Buffer.concat(chunks) : null, { status, headers: responseHeaders(answer) }));
            } catch (error) {
              fail(error); // a status `Response` refuses, such as 1xx
            }
          });
        } catch (error) {
          fail(error);
        }
      });
      request.end(body ?? undefined);
    });

  return {
    fetch: nodeFetch as typeof fetch,
    successBody: (response) => bodies.get(response),
    close: () => {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}
