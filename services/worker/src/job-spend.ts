import { setImmediate as nextTurn } from 'node:timers/promises';
import type { UpstreamRequest } from '@spool/contracts';
import type { JobFields } from '@spool/jobs';
import { classifyUpstreamError, countPromptTokens, countTokens, uncountedPromptTokens, type Completion } from '@spool/llm';
import type { Budget, Charge, Reservation } from './budget.js';
import { FRESH_EVENT_COUNT } from './attempt-rules.js';
import { BudgetUnavailableError } from './errors.js';

/** What a failed call used: upstream's answer, or the text it streamed before it broke, counted with the tokenizer. */
function failedCharge(error: unknown, promptTokens: number, streamed: string): Charge {
  if (streamed) return { reached: true, tokens: { prompt_tokens: promptTokens, completion_tokens: countTokens(streamed) } };
  return { reached: classifyUpstreamError(error).status !== undefined, tokens: null };
}

/**
 * One job's spend while this worker runs it: each upstream call reserved against its tenant's
 * budget before it goes, and settled to what it used when it ends, however it ends.
 */
export class JobSpend {
  /** the job's cost fields as this worker last settled them: the job's final record carries them */
  readonly jobFields: JobFields = {};
  private from = FRESH_EVENT_COUNT;

  constructor(
    private readonly budget: Budget,
    readonly jobId: string,
    /** known before START when the queue entry carries it (a head start) */
    private tenant?: string,
  ) {}

  /** START's word: whose job it is, and its log's length (the attempt's text comes after). */
  started(tenant: string, eventCount: number): void {
    this.tenant = tenant;
    this.from = eventCount;
  }

  /**
   * Runs one upstream call (`run`, with the deltas it streams going to `onDelta`, and the
   * request's prompt tokens, counted once here), reserved (before it goes when the tenant has a
   * budget, just after otherwise) and settled after. Throws BudgetExceededError, without calling
   * `run`, when the tenant's budget cannot pay its worst case.
   */
  async call<T extends Completion>(request: UpstreamRequest, onDelta: (text: string) => void, run: (onDelta: (text: string) => void, promptTokens: number) => Promise<T>): Promise<T> {
    if (!this.tenant) throw new BudgetUnavailableError(new Error("the job's tenant is not known before START"));
    const { tenant, from } = this;
    // Tool definitions and calls are prompt too: a worst case without them could overspend the budget.
    const promptTokens = countPromptTokens(request.messages) + uncountedPromptTokens(request);
    const reserve = () => this.budget.reserve(this.jobId, tenant, request, promptTokens, from);
    // A tenant without a budget is never refused: its call goes without waiting for the
    // reservation (a round trip less before the first token), which is made in the next turn of
    // the event loop, once the call's request is out, and settled all the same.
    const reservation = this.budget.limits(tenant) ? await reserve() : nextTurn().then(reserve).catch((error: unknown) => this.unsettled(error));
    let streamed = '';
    let completion: T;
    try {
      completion = await run((text) => {
        streamed += text;
        onDelta(text);
      }, promptTokens);
    } catch (error) {
      await this.settle(reservation, failedCharge(error, promptTokens, streamed));
      throw error;
    }
    const tokens = completion.usage ?? { prompt_tokens: promptTokens, completion_tokens: countTokens(completion.content) };
    await this.settle(reservation, { reached: true, tokens });
    return completion;
  }

  /** A settlement Redis refused is not the call's failure: the reservation is settled when the job is taken over or ends. */
  private async settle(reservation: Reservation | Promise<Reservation | null>, charge: Charge): Promise<void> {
    try {
      const held = await reservation;
      if (held) Object.assign(this.jobFields, await this.budget.settle(held, charge));
    } catch (error) {
      this.unsettled(error);
    }
  }

  private unsettled(error: unknown): null {
    this.budget.logger.warn({ err: error, job_id: this.jobId }, 'spend not counted now; a reservation left is settled when the job is taken over or ends');
    return null;
  }
}
