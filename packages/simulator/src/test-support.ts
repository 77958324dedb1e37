import OpenAI from 'openai';
import { afterEach } from 'vitest';
import { createSimulator, type Simulator, type SimulatorOptions } from './server.js';

export interface Started {
  simulator: Simulator;
  baseURL: string;
  client: OpenAI;
}

const open: Simulator[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((simulator) => simulator.close()));
});

/** A simulator on a free 127.0.0.1 port and an SDK client for it; closed after each test. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Started> {
  const simulator = createSimulator(options);
  open.push(simulator);
  const baseURL = await simulator.listen();
  return { simulator, baseURL, client: new OpenAI({ baseURL, apiKey: options.apiKey ?? 'sk-test', maxRetries: 0 }) };
}

/** Every chunk of an SDK stream; rejects with the stream's error and the chunks seen so far. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const chunks: T[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The content of an SDK stream read until it ends or fails, and the failure if any. */
export async function readContent(
  stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>,
): Promise<{ content: string; chunks: number; error?: unknown; finishReason?: string | null }> {
  let content = '';
  let chunks = 0;
  let finishReason: string | null | undefined;
  try {
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        content += choice.delta.content;
        chunks++;
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
    }
    return { content, chunks, finishReason };
  } catch (error) {
    return { content, chunks, error, finishReason };
  }
}
