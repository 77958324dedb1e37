import OpenAI from 'openai';
import { countWords } from './stats.js';
import { errorText, type StreamResult, type StreamRunOptions, type StreamRunner } from './stream-runner.js';

/**
 * The baseline: the bare `openai` SDK streaming straight from the upstream, no queue and no SSE
 * hop. It asks exactly what Spool's worker asks (stream with usage), and the clock starts at the call.
 */
export class SdkStreamRunner implements StreamRunner {
  readonly name = 'sdk';
  private readonly client: OpenAI;

  /** `apiKey`: the bench's key, sent to Spool's door and to the simulator alike (the same client both sides). */
  constructor(baseURL: string, apiKey: string, private readonly model = 'gpt-4o-mini') {
    this.client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
  }

  async run(content: string, options: StreamRunOptions = {}): Promise<StreamResult> {
    const startedAt = performance.now();
    let firstDeltaAt: number | undefined;
    let tokens = 0;
    let reportedTokens: number | undefined;
    let finishReason: string | null = null;
    try {
      const stream = await this.client.chat.completions.create(
        { model: this.model, messages: [{ role: 'user', content }], stream: true, stream_options: { include_usage: true } },
        { signal: options.signal, timeout: options.timeoutMs },
      );
      for await (const chunk of stream) {
        if (chunk.usage) reportedTokens = chunk.usage.completion_tokens;
        const choice = chunk.choices[0];
        if (!choice) continue;
        const text = choice.delta?.content;
        if (text) {
          const at = performance.now();
          firstDeltaAt ??= at;
          const count = countWords(text);
          tokens += count;
          options.onTokens?.(count, at);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      const error = finishReason ? undefined : 'the stream ended without a finish_reason';
      return { ok: !error, startedAt, firstDeltaAt, endedAt: performance.now(), tokens, reportedTokens, error };
    } catch (error) {
      return { ok: false, startedAt, firstDeltaAt, endedAt: performance.now(), tokens, error: errorText(error) };
    }
  }
}
