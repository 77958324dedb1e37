import type { Directive } from './directives.js';
import type { SimulatedReply } from './reply.js';
import type { CompletionBody } from './request-body.js';

/** A fault that interrupts the body after `after` content chunks. */
export type BodyFault =
  | { kind: 'break'; after: number }
  | { kind: 'truncate'; after: number }
  | { kind: 'stall'; after: number; resumeAfterMs?: number };

/** Everything needed to write one chat completion response. */
export interface CompletionPlan {
  id: string;
  created: number;
  model: string;
  tokens: string[];
  finishReason: 'stop' | 'length';
  promptTokens: number;
  stream: boolean;
  includeUsage: boolean;
  ttftMs: number;
  tokensPerSecond: number;
  fault?: BodyFault;
}

export interface PlanInput {
  id: string;
  body: CompletionBody;
  reply: SimulatedReply;
  promptTokens: number;
  fault?: BodyFault;
  directive?: Directive;
  /** The simulator's speed, which a directive's `ttft=` and `tps=` override. */
  defaults: { ttftMs?: number; tokensPerSecond?: number };
}

export function planCompletion({ id, body, reply, promptTokens, fault, directive, defaults }: PlanInput): CompletionPlan {
  const stream = body.stream === true;
  return {
    id: `chatcmpl-${id}`,
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    tokens: reply.tokens,
    finishReason: reply.finishReason,
    promptTokens,
    stream,
    includeUsage: stream && body.stream_options?.include_usage === true,
    ttftMs: directive?.ttftMs ?? defaults.ttftMs ?? 0,
    tokensPerSecond: directive?.tokensPerSecond ?? defaults.tokensPerSecond ?? 0,
    fault,
  };
}

/**
 * The body fault a directive asks for, if it can happen within a reply of `length` chunks.
 * A break must leave a strict prefix, so that a continuation can always finish the reply;
 * a truncate only exists on a stream.
 */
export function selectBodyFault(directive: Directive, length: number, stream: boolean): BodyFault | undefined {
  if (directive.breakAfter !== undefined && directive.breakAfter < length) return { kind: 'break', after: directive.breakAfter };
  if (stream && directive.truncateAfter !== undefined && directive.truncateAfter <= length) {
    return { kind: 'truncate', after: directive.truncateAfter };
  }
  if (directive.stallAfter !== undefined && (!stream || directive.stallAfter <= length)) {
    return { kind: 'stall', after: Math.min(directive.stallAfter, length), resumeAfterMs: directive.stallMs };
  }
  return undefined;
}
