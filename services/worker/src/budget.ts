import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DeltaEventData, type JobEvent, type UpstreamRequest } from '@spool/contracts';
import { costUsd, type ModelSettings, type TenantSettings, type TokenCounts } from '@spool/config';
import { contextWindow, countTokens } from '@spool/llm';
import { defineCommands, type Keys, type RedisClient } from '@spool/queue';
import { nextMonthStartSeconds, spendMonth, toNanoUsd, type JobFields } from '@spool/jobs';
import type { Store } from '@spool/store';
import { BudgetExceededError, BudgetUnavailableError } from './errors.js';

const script = (name: string) => new URL(`./commands/${name}.lua`, import.meta.url);

const BUDGET_COMMANDS = {
  spoolBudgetReserve: { numberOfKeys: 2, script: script('budget-reserve') },
  spoolBudgetChargeJob: { numberOfKeys: 1, script: script('budget-charge-job') },
  spoolBudgetSettle: { numberOfKeys: 2, script: script('budget-settle') },
  spoolBudgetSeed: { numberOfKeys: 1, script: script('budget-seed') },
};

interface BudgetCommands {
  spoolBudgetReserve(spend: string, reservation: string, ...args: (string | number)[]): Promise<number>;
  spoolBudgetChargeJob(job: string, ...args: (string | number)[]): Promise<string[]>;
  spoolBudgetSettle(spend: string, reservation: string, ...args: (string | number)[]): Promise<number>;
  spoolBudgetSeed(spend: string, ...args: (string | number)[]): Promise<number>;
}

/** A month's spend hash outlives the month by this much (the store keeps it for good). */
const SPEND_KEPT_AFTER_MONTH_S = 40 * 24 * 3600;
/** Reserve tries: each refusal to reserve yet (a takeover's leftover, a month to seed) is cleared before the next. */
const RESERVE_TRIES = 4;

/** One attempt's reservation: the job's reservation hash, field for field. */
export interface Reservation {
  jobId: string;
  token: string;
  tenant: string;
  /** the budget month it counts in, `YYYY-MM` */
  month: string;
  model: string;
  promptTokens: number;
  /** the job's event count when the attempt began: its text is the deltas after it */
  from: number;
  /** the worst case held, nano-USD */
  amount: number;
}

/** What an attempt used: whether it reached upstream (a billed call), and its tokens (none: nothing to pay). */
export interface Charge {
  reached: boolean;
  tokens: TokenCounts | null;
}

export interface BudgetOptions {
  /** budgets by tenant (`budget_usd`); a tenant without one is never refused, its spend still counted */
  tenants: Map<string, TenantSettings>;
  /** prices and context windows by model */
  models: Map<string, ModelSettings>;
  /** where ended jobs' spend is kept: a month's spend lost from Redis is seeded from it */
  store: Pick<Store, 'spend'>;
  /** the jobs' event logs: what a dead worker's attempt streamed */
  log: { readAfter(jobId: string, afterId?: number): Promise<JobEvent[]> };
  logger: Logger;
}

/** The most an attempt can cost: its prompt and the longest reply it may get (its limit, else the rest of the model's window). */
export function worstCaseTokens(request: UpstreamRequest, promptTokens: number, models: Map<string, ModelSettings>): TokenCounts {
  const limit = request.max_completion_tokens ?? request.max_tokens;
  const window = models.get(request.model)?.contextTokens ?? contextWindow(request.model);
  return { prompt_tokens: promptTokens, completion_tokens: typeof limit === 'number' ? limit : Math.max(0, window - promptTokens) };
}

/** The text an attempt streamed: the deltas after its start, up to the next attempt's status. */
function attemptText(events: JobEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.event === 'status' || event.event === 'done') break;
    if (event.event === 'delta') text += DeltaEventData.parse(JSON.parse(event.data)).content;
  }
  return text;
}

function fieldsOf(pairs: string[]): JobFields {
  const fields: JobFields = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) fields[pairs[i]] = pairs[i + 1];
  return fields;
}

/**
 * Tenants' monthly budgets in Redis, fleet-wide: before an attempt goes upstream its worst case
 * is reserved against its tenant's budget (budget-reserve.lua), and settled to the real cost when
 * it ends (budget-settle.lua), so spent and reserved together never pass the budget. A dead
 * worker's reservation is settled, from what its attempt streamed, when the job is taken over
 * (the next reserve finds it) or ends (`settleLeftover`, from the job-ended outbox).
 */
export class Budget {
  private readonly redis: RedisClient & BudgetCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly options: BudgetOptions,
  ) {
    defineCommands(redis, BUDGET_COMMANDS);
    this.redis = redis as RedisClient & BudgetCommands;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Whether `tenant` has a budget (else its calls are never refused). */
  limits(tenant: string): boolean {
    return this.options.tenants.get(tenant)?.budgetUsd !== undefined;
  }

  /** What `tokens` of `model` cost, nano-USD. */
  private price(model: string, tokens: TokenCounts | null): number {
    return tokens ? toNanoUsd(costUsd(this.options.models, model, tokens)) : 0;
  }

  /**
   * Reserves an attempt's worst case for the job of `tenant`; `from` is the job's event count as
   * the attempt begins. Throws BudgetExceededError when the budget cannot pay it, and
   * BudgetUnavailableError when Redis or (for a month to seed) the store cannot be reached.
   */
  async reserve(jobId: string, tenant: string, request: UpstreamRequest, promptTokens: number, from: number): Promise<Reservation> {
    const month = spendMonth();
    const budgetUsd = this.options.tenants.get(tenant)?.budgetUsd;
    const amount = this.price(request.model, worstCaseTokens(request, promptTokens, this.options.models));
    const reservation: Reservation = { jobId, token: randomUUID(), tenant, month, model: request.model, promptTokens, from, amount };
    const fields = ['tenant', tenant, 'month', month, 'model', request.model, 'prompt_tokens', promptTokens, 'from', from];
    try {
      for (let tries = 0; tries < RESERVE_TRIES; tries++) {
        const budget = budgetUsd === undefined ? '' : toNanoUsd(budgetUsd);
        const reply = await this.redis.spoolBudgetReserve(this.keys.tenantSpend(tenant, month), this.keys.budgetReservation(jobId), reservation.token, amount, budget, ...fields);
        if (reply === 1) return reservation;
        if (reply === 0) throw new BudgetExceededError();
        if (reply === -1) await this.settleLeftover(jobId);
        else await this.seed(tenant, month, budgetUsd !== undefined);
      }
    } catch (error) {
      throw error instanceof BudgetExceededError ? error : new BudgetUnavailableError(error);
    }
    throw new BudgetUnavailableError(new Error(`no reservation after ${RESERVE_TRIES} tries`));
  }

  /**
   * Settles a reservation to what the attempt used, once; the job's cost fields after it ({} when
   * it was settled already). The job's totals first (its slot), then the tenant's spend (the
   * control slot): a crash between leaves the reservation to `settleLeftover`, which then counts
   * only the spend.
   */
  async settle(reservation: Reservation, charge: Charge): Promise<JobFields> {
    const { tokens } = charge;
    const args = [reservation.token, this.price(reservation.model, tokens), charge.reached ? 1 : 0, tokens?.prompt_tokens ?? 0, tokens?.completion_tokens ?? 0];
    const fields = await this.redis.spoolBudgetChargeJob(this.keys.job(reservation.jobId), ...args, reservation.month);
    await this.redis.spoolBudgetSettle(this.keys.tenantSpend(reservation.tenant, reservation.month), this.keys.budgetReservation(reservation.jobId), ...args);
    return fieldsOf(fields);
  }

  /**
   * Settles the reservation a job still holds from an attempt that never settled it (its worker
   * died): charged its prompt and the text it streamed, counted with the tokenizer, as a broken
   * stream is. Nothing to do when the job holds none.
   */
  async settleLeftover(jobId: string): Promise<JobFields> {
    const held = await this.redis.hgetall(this.keys.budgetReservation(jobId));
    if (!held.token) return {};
    const reservation: Reservation = {
      jobId,
      token: held.token,
      tenant: held.tenant,
      month: held.month,
      model: held.model,
      promptTokens: Number(held.prompt_tokens),
      from: Number(held.from),
      amount: Number(held.amount),
    };
    const text = attemptText(await this.options.log.readAfter(jobId, reservation.from));
    const charge: Charge = text ? { reached: true, tokens: { prompt_tokens: reservation.promptTokens, completion_tokens: countTokens(text) } } : { reached: false, tokens: null };
    this.logger.info({ job_id: jobId, streamed_tokens: charge.tokens?.completion_tokens ?? 0 }, 'settled a budget reservation its attempt left (its worker died, or the job ended under it)');
    return this.settle(reservation, charge);
  }

  /**
   * A month Redis has no spend for (a new month, or Redis lost it) starts from what the store
   * holds. A tenant without a budget is not held up by a store that cannot answer: it starts
   * from nothing, as its spend only informs.
   */
  private async seed(tenant: string, month: string, budgeted: boolean): Promise<void> {
    let total = { costNanoUsd: 0, requests: 0, promptTokens: 0, completionTokens: 0 };
    try {
      total = await this.options.store.spend(tenant, month);
    } catch (error) {
      if (budgeted) throw error;
      this.logger.warn({ err: error, tenant, month }, 'store unavailable: the month’s spend starts from Redis alone');
    }
    await this.redis.spoolBudgetSeed(
      this.keys.tenantSpend(tenant, month),
      nextMonthStartSeconds(month) + SPEND_KEPT_AFTER_MONTH_S,
      'spent',
      total.costNanoUsd,
      'requests',
      total.requests,
      'prompt_tokens',
      total.promptTokens,
      'completion_tokens',
      total.completionTokens,
    );
  }
}
