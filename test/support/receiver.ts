import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** How the receiver answers the nth (0-based) request to a path; `null` never answers. */
export type Script = (n: number) => number | null;

/** A webhook receiver on 127.0.0.1 only: each path answers by its script (200 by default). */
export class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Script>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        const n = this.received.filter((entry) => entry.path === path).length;
        this.received.push({ path, headers: request.headers, body, at: Date.now() });
        const status = (this.scripts.get(path) ?? (() => 200))(n);
        if (status === null) this.hanging.add(response);
        else response.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Sets how `path` answers; returns its full URL. */
  on(path: string, script: Script = () => 200): string {
    this.scripts.set(path, script);
    return `${this.url}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((entry) => entry.path === path);
  }

  /** Resolves once `path` has had `count` requests, or rejects after `timeoutMs`. */
  async waitFor(path: string, count = 1, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.at(path).length < count) {
      if (Date.now() > deadline) throw new Error(`${path}: ${this.at(path).length} of ${count} requests after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.at(path);
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
