import type { ScriptCommand } from '@spool/queue';

const script = (name: string) => new URL(`./commands/${name}.lua`, import.meta.url);

/**
 * The job's state machine: each script changes the record and appends its event in one step.
 * Each touches one hash slot: the job's own (record, log, channel) or the control slot (quota,
 * index, scheduler, outbox); a job's creation and its end take one step in each.
 */
export const JOB_COMMANDS = {
  spoolCreate: { numberOfKeys: 3, script: script('create') },
  spoolAdmit: { numberOfKeys: 4, script: script('admit') },
  spoolAdmitted: { numberOfKeys: 2, script: script('admitted') },
  spoolStart: { numberOfKeys: 3, script: script('start') },
  spoolAppend: { numberOfKeys: 3, script: script('append') },
  spoolRequeue: { numberOfKeys: 3, script: script('requeue') },
  spoolFinish: { numberOfKeys: 3, script: script('finish') },
  spoolEnded: { numberOfKeys: 13, script: script('ended') },
  spoolSnapshot: { numberOfKeys: 2, script: script('snapshot') },
  spoolTrimIndex: { numberOfKeys: 2, script: script('trim-index') },
  spoolRemove: { numberOfKeys: 9, script: script('remove') },
  spoolRecordAttempts: { numberOfKeys: 1, script: script('record-attempts') },
} satisfies Record<string, ScriptCommand>;

export interface JobCommands {
  spoolCreate(...args: (string | number)[]): Promise<number>;
  spoolAdmit(...args: (string | number)[]): Promise<number>;
  spoolAdmitted(job: string, events: string): Promise<number>;
  spoolStart(...args: (string | number)[]): Promise<(string | null)[]>;
  spoolAppend(...args: (string | number)[]): Promise<number>;
  spoolRequeue(...args: (string | number)[]): Promise<number>;
  spoolFinish(...args: (string | number)[]): Promise<[number, ...(string | null)[]]>;
  spoolEnded(...args: (string | number)[]): Promise<number>;
  spoolSnapshot(...keys: string[]): Promise<[string[], ...string[]]>;
  spoolTrimIndex(index: string, expiry: string): Promise<number>;
  spoolRemove(...args: string[]): Promise<number>;
  spoolRecordAttempts(job: string, owner: string, attemptLog: string): Promise<number>;
}

export const OUTBOX_COMMANDS = {
  spoolOutboxClaim: { numberOfKeys: 3, script: script('outbox-claim') },
  // A script, not MULTI: an ioredis MULTI builds a pipeline that copies every script defined on the connection.
  spoolOutboxAck: { numberOfKeys: 2, script: script('outbox-ack') },
} satisfies Record<string, ScriptCommand>;

export interface OutboxCommands {
  spoolOutboxClaim(outbox: string, processing: string, claims: string, count: number, now: number): Promise<string[]>;
  spoolOutboxAck(processing: string, claims: string, jobId: string): Promise<number>;
}

export const BATCH_COMMANDS = {
  spoolBatchRecordEnded: { numberOfKeys: 4, script: script('batch-record-ended') },
  spoolBatchRequestCancel: { numberOfKeys: 1, script: script('batch-request-cancel') },
} satisfies Record<string, ScriptCommand>;

export interface BatchCommands {
  spoolBatchRecordEnded(...args: (string | number)[]): Promise<string[]>;
  spoolBatchRequestCancel(key: string): Promise<string>;
}

export const CACHE_COMMANDS = {
  spoolCacheGet: { numberOfKeys: 1, script: script('cache-get') },
  spoolCacheJoin: { numberOfKeys: 2, script: script('cache-join') },
  spoolCacheEnd: { numberOfKeys: 4, script: script('cache-end') },
} satisfies Record<string, ScriptCommand>;

export interface CacheCommands {
  spoolCacheGet(entry: string, maxAgeMs: number): Promise<string | null>;
  spoolCacheJoin(entry: string, leader: string, jobId: string, maxAgeMs: number | '', former: string, leaseSeconds: number): Promise<string[]>;
  spoolCacheEnd(...args: (string | number)[]): Promise<number>;
}
