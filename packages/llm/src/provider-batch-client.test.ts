/**
 * Reading an upstream batch's output file over real HTTP from an upstream that misbehaves: a
 * line far too long to hold, a file without newlines, a download that stalls.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderBatchClient, type ProviderBatchClientOptions } from './provider-batch-client.js';
import { UpstreamError } from './upstream-error.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An upstream whose `GET /v1/files/{id}/content` is answered by `send`. */
async function upstream(send: (response: ServerResponse) => void | Promise<void>, options: ProviderBatchClientOptions = {}) {
  const server = createServer((request, response) => {
    request.resume();
    if (!request.url?.endsWith('/content')) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    void send(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return new ProviderBatchClient({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'sk-test', ...options });
}

/** Writes `text` in pieces of `size` characters, each once the socket has taken the last. */
async function writeInPieces(response: ServerResponse, text: string, size: number): Promise<void> {
  for (let start = 0; start < text.length; start += size) {
    if (!response.write(text.slice(start, start + size))) await new Promise((resolve) => response.once('drain', resolve));
  }
}

async function readAll(client: ProviderBatchClient, onSkipped?: (chars: number) => void): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of client.fileLines('file-x', onSkipped)) lines.push(line);
  return lines;
}

describe('ProviderBatchClient.fileLines', () => {
  it('gives each non-blank line, whatever the pieces it came in (a character split between two included)', async () => {
    const text = '{"a":"é"}\n\n{"b":"😀"}\r\n{"c":3}';
    const bytes = Buffer.from(text);
    const client = await upstream(async (response) => {
      for (let start = 0; start < bytes.length; start += 3) {
        response.write(bytes.subarray(start, start + 3));
        await new Promise((resolve) => setImmediate(resolve));
      }
      response.end();
    });
    expect(await readAll(client)).toEqual(['{"a":"é"}', '{"b":"😀"}\r', '{"c":3}']);
  });

  it('drops a line longer than maxLineChars as it comes, and one that never ends, keeping the lines around them', async () => {
    const huge = 'x'.repeat(5 * 1024 * 1024);
    const client = await upstream(
      async (response) => {
        response.write('{"first":1}\n');
        await writeInPieces(response, `${huge}\n{"second":2}\n`, 64 * 1024);
        await writeInPieces(response, huge.slice(0, 3 * 1024 * 1024), 64 * 1024);
        response.end();
      },
      { maxLineChars: 1024 * 1024 },
    );
    const skipped: number[] = [];
    expect(await readAll(client, (chars) => skipped.push(chars))).toEqual(['{"first":1}', '{"second":2}']);
    expect(skipped).toEqual([5 * 1024 * 1024, 3 * 1024 * 1024]);
  });

  it('fails, retryable, when the download stalls; a caller slow with the lines is no stall', async () => {
    const stalling = await upstream((response) => void response.write('{"first":1}\n'), { stallTimeoutMs: 300 });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const line of stalling.fileLines('file-x')) seen.push(line);
    })().catch((error: unknown) => error);
    expect(seen).toEqual(['{"first":1}']);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure).toMatchObject({ code: 'upstream_timeout', retryable: true });

    const slowReader = await upstream((response) => void response.end('{"a":1}\n{"b":2}\n'), { stallTimeoutMs: 100 });
    const lines: string[] = [];
    for await (const line of slowReader.fileLines('file-x')) {
      lines.push(line);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the slowness is what is tested
    }
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });
});
