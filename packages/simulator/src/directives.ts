import { messageText, type ChatMessage } from './messages.js';
import { SimulatorError } from './simulator-error.js';

/** A fault or speed override asked for inside a message: `[[sim status=429 retry_after_ms=1500]]`. */
export interface Directive {
  /** The directive as written; requests carrying the same text share one `times` counter. */
  text: string;
  /** Answer with this HTTP status and an OpenAI error body (`status=N`). */
  status?: number;
  /** Error code for `status`, e.g. `insufficient_quota` (`code=X`). */
  code?: string;
  /** Adds `retry-after-ms` and `retry-after` to an error response (`retry_after_ms=M`). */
  retryAfterMs?: number;
  /** Destroy the socket after this many content chunks (`break=N`). */
  breakAfter?: number;
  /** End the stream with `[DONE]` but no finish_reason after this many content chunks (`truncate=N`). */
  truncateAfter?: number;
  /** Stop sending after this many content chunks (`stall=N`). */
  stallAfter?: number;
  /** Resume a stall after this long instead of waiting for the client to leave (`stall_ms=M`). */
  stallMs?: number;
  /** The fault applies to the first K requests carrying this text only (`times=K`). */
  times?: number;
  /** Reply length in tokens (`tokens=N`). */
  tokens?: number;
  /** Time to first token for this request (`ttft=MS`). */
  ttftMs?: number;
  /** Pace for this request (`tps=N`). */
  tokensPerSecond?: number;
  /** The fault applies only on the simulator of this name (`on=NAME`, its `name` option); speed and length apply everywhere. */
  on?: string;
  /**
   * A fault of the whole Batch API batch whose input file holds this request (`batch=failed` or
   * `batch=expired`); a live request carrying it is answered as usual.
   */
  batch?: BatchFault;
}

/** What a `batch=` directive does to a Batch API batch. */
export type BatchFault = 'failed' | 'expired';
const BATCH_FAULTS: readonly string[] = ['failed', 'expired'] satisfies BatchFault[];

/** A directive the simulator cannot read; answered with 400 so a typo never passes silently. */
export class DirectiveError extends SimulatorError {
  constructor(message: string) {
    super('invalid_directive', message);
  }
}

type NumericKey = Exclude<keyof Directive, 'text' | 'code' | 'on' | 'batch'>;

const NUMERIC_KEYS: Record<string, NumericKey> = {
  status: 'status',
  retry_after_ms: 'retryAfterMs',
  break: 'breakAfter',
  truncate: 'truncateAfter',
  stall: 'stallAfter',
  stall_ms: 'stallMs',
  times: 'times',
  tokens: 'tokens',
  ttft: 'ttftMs',
  tps: 'tokensPerSecond',
};

const DIRECTIVE = /\[\[sim(?:\s+([^\]]*?))?\s*\]\]/;

/** Reads the first `[[sim ...]]` in `text`, or undefined when there is none. */
export function parseDirective(text: string): Directive | undefined {
  const match = DIRECTIVE.exec(text);
  if (!match) return undefined;
  const directive: Directive = { text: match[0] };
  for (const pair of (match[1] ?? '').split(/\s+/).filter(Boolean)) {
    const [key, value, ...rest] = pair.split('=');
    if (value === undefined || value === '' || rest.length > 0) {
      throw new DirectiveError(`Simulator directive: expected key=value, got "${pair}".`);
    }
    if (key === 'code' || key === 'on') {
      directive[key] = value;
      continue;
    }
    if (key === 'batch') {
      if (!BATCH_FAULTS.includes(value)) throw new DirectiveError(`Simulator directive: batch must be ${BATCH_FAULTS.join(' or ')}.`);
      directive.batch = value as BatchFault;
      continue;
    }
    const field = NUMERIC_KEYS[key];
    if (!field) throw new DirectiveError(`Simulator directive: unknown key "${key}".`);
    if (!/^\d+$/.test(value)) throw new DirectiveError(`Simulator directive: ${key} must be a whole number.`);
    directive[field] = Number(value);
  }
  if (directive.status !== undefined && (directive.status < 400 || directive.status > 599)) {
    throw new DirectiveError('Simulator directive: status must be between 400 and 599.');
  }
  if (directive.stallMs !== undefined && directive.stallAfter === undefined) directive.stallAfter = 0;
  return directive;
}

/** The first directive found scanning the messages in order. */
export function findDirective(messages: readonly ChatMessage[]): Directive | undefined {
  for (const message of messages) {
    const directive = parseDirective(messageText(message));
    if (directive) return directive;
  }
  return undefined;
}

/** Whether the directive asks for a fault (as opposed to only length or speed) of the simulator named `name`. */
export function hasFault(directive: Directive, name?: string): boolean {
  if (directive.on !== undefined && directive.on !== name) return false;
  return (
    directive.status !== undefined ||
    directive.breakAfter !== undefined ||
    directive.truncateAfter !== undefined ||
    directive.stallAfter !== undefined
  );
}
