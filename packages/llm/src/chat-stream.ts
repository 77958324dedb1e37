import type { IncomingMessage } from 'node:http';
import { APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { createParser } from 'eventsource-parser';

/**
 * Reads a chat completion's Server-Sent Events from the raw body, as the SDK's own stream does:
 * one JSON chunk per event until `[DONE]`, an event carrying `error` is an `APIError`. Resolves
 * at the end of the stream; rejects when the connection breaks before it.
 */
export function readChatStream(body: IncomingMessage, headers: Headers, onChunk: (chunk: ChatCompletionChunk) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let ended = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      body.destroy();
      reject(error);
    };
    const parser = createParser({
      onEvent: (event) => {
        if (ended || settled) return;
        if (event.data.startsWith('[DONE]')) {
          ended = true; // the rest of the body is read, so the connection goes back to the pool
          return;
        }
        const data = JSON.parse(event.data) as ChatCompletionChunk & { error?: unknown };
        if (data?.error) throw new APIError(undefined, data.error as object, undefined, headers);
        onChunk(data);
      },
    });
    body.setEncoding('utf8');
    body.on('data', (text: string) => {
      try {
        parser.feed(text);
      } catch (error) {
        fail(error);
      }
    });
    body.on('error', fail);
    body.on('end', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    body.on('close', () => fail(new Error('Upstream connection closed mid-stream')));
    if (body.destroyed) fail(new Error('Upstream connection closed before the stream was read'));
  });
}
