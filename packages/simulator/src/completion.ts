import type { ServerResponse } from 'node:http';
import type { CompletionPlan } from './plan.js';

export const SYSTEM_FINGERPRINT = 'fp_spoolsim';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What a finished, non-streamed reply is made of. */
export interface FinishedReply {
  id: string;
  created: number;
  model: string;
  tokens: string[];
  finishReason: 'stop' | 'length';
  promptTokens: number;
}

export function usageOf(reply: Pick<FinishedReply, 'tokens' | 'promptTokens'>): Usage {
  const completion = reply.tokens.length;
  return { prompt_tokens: reply.promptTokens, completion_tokens: completion, total_tokens: reply.promptTokens + completion };
}

/** The `chat.completion` object of a whole reply: the body of a non-streamed answer, and of a Batch API output line. */
export function chatCompletion(reply: FinishedReply) {
  return {
    id: reply.id,
    object: 'chat.completion',
    created: reply.created,
    model: reply.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.tokens.join(''), refusal: null },
        logprobs: null,
        finish_reason: reply.finishReason,
      },
    ],
    usage: usageOf(reply),
  };
}

export interface WriterHooks {
  /** Called once the writer ended the response itself: with the finish reason, or null for a fault. */
  onEnd(finishReason: string | null): void;
  /** The shortest gap between two writes to this stream now; tokens due in between go out together. */
  writeGapMs(): number;
}

/**
 * Writes a completion on its own schedule: one timer at a time, and every token that is due
 * goes out in one write, whether the timer fell behind or the write budget spaced writes out.
 */
export class CompletionWriter {
  private sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private epoch = 0;
  private epochIndex = 0;
  private faultDone = false;
  private readonly interval: number;
  private readonly head: string;
  private readonly tail: string;
  private readonly onTimer = () => this.tick();

  constructor(
    private readonly response: ServerResponse,
    private readonly plan: CompletionPlan,
    private readonly hooks: WriterHooks,
  ) {
    this.interval = plan.tokensPerSecond > 0 ? 1000 / plan.tokensPerSecond : 0;
    // Chunks differ only in their choice, so the JSON around it is built once per stream.
    this.head =
      `data: {"id":${JSON.stringify(plan.id)},"object":"chat.completion.chunk","created":${plan.created},` +
      `"model":${JSON.stringify(plan.model)},"system_fingerprint":"${SYSTEM_FINGERPRINT}","choices":[`;
    this.tail = plan.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  }

  /** Content chunks written so far. */
  get chunksSent(): number {
    return this.sent;
  }

  start(): void {
    if (this.plan.stream) this.after(this.plan.ttftMs, () => this.beginStream());
    else this.scheduleBody();
  }

  /** Stops every timer; the response is left as it is. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private after(ms: number, run: () => void): void {
    if (ms <= 0) run();
    else this.timer = setTimeout(run, ms);
  }

  private beginStream(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    this.epoch = Date.now();
    this.epochIndex = 0;
    this.tick(`${this.head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}${this.tail}`);
  }

  private tick(batch = ''): void {
    this.timer = undefined;
    const { tokens, fault } = this.plan;
    const now = Date.now();
    const due =
      this.interval === 0
        ? tokens.length
        : Math.min(tokens.length, this.epochIndex + Math.floor((now - this.epoch) / this.interval) + 1);
    const stopAt = fault && !this.faultDone ? Math.min(fault.after, tokens.length) : tokens.length;
    while (this.sent < Math.min(due, stopAt)) batch += this.contentChunk(tokens[this.sent++]);

    if (fault && !this.faultDone && this.sent === fault.after) {
      this.faultDone = true;
      if (fault.kind === 'break') {
        this.hooks.onEnd(null);
        // Destroying in the same tick would drop the chunks still corked in the socket.
        if (batch) this.response.write(batch, () => this.response.destroy());
        else this.response.destroy();
      } else if (fault.kind === 'truncate') {
        this.hooks.onEnd(null);
        this.response.end(`${batch}data: [DONE]\n\n`);
      } else {
        if (batch) this.response.write(batch);
        if (fault.resumeAfterMs !== undefined) {
          this.timer = setTimeout(() => {
            this.epoch = Date.now();
            this.epochIndex = this.sent;
            this.tick();
          }, fault.resumeAfterMs);
        }
      }
      return;
    }
    if (this.sent === tokens.length) {
      batch += `${this.head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${this.plan.finishReason}"}${this.tail}`;
      if (this.plan.includeUsage) batch += `${this.head}],"usage":${JSON.stringify(usageOf(this.plan))}}\n\n`;
      this.hooks.onEnd(this.plan.finishReason);
      this.response.end(`${batch}data: [DONE]\n\n`);
      return;
    }
    if (batch) this.response.write(batch);
    const next = Math.max(this.epoch + (this.sent - this.epochIndex) * this.interval, now + this.hooks.writeGapMs());
    this.timer = setTimeout(this.onTimer, next - now);
  }

  private contentChunk(token: string): string {
    return `${this.head}{"index":0,"delta":{"content":${JSON.stringify(token)}},"logprobs":null,"finish_reason":null}${this.tail}`;
  }

  private scheduleBody(): void {
    const { fault, ttftMs } = this.plan;
    const pace = (count: number) => ttftMs + count * this.interval;
    if (fault?.kind === 'break') {
      this.after(pace(fault.after), () => {
        this.hooks.onEnd(null);
        this.response.destroy();
      });
    } else if (fault?.kind === 'stall') {
      // A stalled body never comes unless the stall has an end.
      if (fault.resumeAfterMs !== undefined) this.after(pace(this.plan.tokens.length) + fault.resumeAfterMs, () => this.sendBody());
    } else {
      this.after(pace(this.plan.tokens.length), () => this.sendBody());
    }
  }

  private sendBody(): void {
    const { plan } = this;
    this.sent = plan.tokens.length;
    const body = JSON.stringify(chatCompletion(plan));
    this.hooks.onEnd(plan.finishReason);
    this.response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    this.response.end(body);
  }
}
