import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { SpoolError } from '@spool/contracts';
import { isRedisUrl } from './redis-url.js';
import { ConfigFileError, readConfigFile, sha256Hex, type ConfigFile, type ModelSettings, type TenantSettings, type UpstreamSettings } from './config-file.js';

const optionalString = z.string().trim().min(1).optional().catch(undefined);
const booleanString = z
  .string()
  .optional()
  .transform((value) => ['1', 'true', 'yes', 'on'].includes((value ?? '').toLowerCase()));
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalPositiveInt = z.coerce.number().int().positive().optional();
/** unset: decide elsewhere; otherwise a yes or a no */
const optionalBoolean = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase()) : undefined));

/** The environment, validated. Names and defaults are the table in API.md §1. */
export const ConfigSchema = z.object({
  REDIS_URL: z.string().refine(isRedisUrl, 'a redis://, rediss:// or redis+cluster:// URL').default('redis://127.0.0.1:6379'),
  SPOOL_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]+$/, 'letters, digits, _ . - { } only')
    .default('spool'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,
  SPOOL_DEFAULT_MODEL: z.string().min(1).default('gpt-4o-mini'),
  SPOOL_API_KEYS: optionalString,
  SPOOL_ADMIN_KEY: optionalString,
  WORKER_CONCURRENCY: positiveInt(50),
  SPOOL_UPSTREAM_RPM: optionalPositiveInt,
  SPOOL_UPSTREAM_TPM: optionalPositiveInt,
  SPOOL_MAX_ATTEMPTS: positiveInt(5),
  SPOOL_BACKOFF_MS: positiveInt(1000),
  SPOOL_UPSTREAM_TIMEOUT_MS: positiveInt(120_000),
  SPOOL_STALL_TIMEOUT_MS: positiveInt(30_000),
  SPOOL_WEBHOOK_SECRET: optionalString,
  SPOOL_WEBHOOK_BACKOFF_MS: positiveInt(5000),
  SPOOL_WEBHOOK_ALLOW_PRIVATE: booleanString,
  SPOOL_WEBHOOK_TENANT_CONCURRENCY: positiveInt(10),
  SPOOL_STORE_URL: z.string().default('sqlite:./data/spool.db'),
  SPOOL_STORE_RETENTION_DAYS: z.coerce.number().int().min(0).default(30),
  SPOOL_CLIENT_RPM: positiveInt(600),
  SPOOL_BATCH_UPLOADS_PER_TENANT: positiveInt(2),
  SPOOL_CONTEXT_TOKENS: optionalPositiveInt,
  SPOOL_LOCK_MS: positiveInt(30_000),
  SPOOL_EVENTS_TTL_S: positiveInt(24 * 3600),
  SPOOL_SSE_MAX_PER_TENANT: positiveInt(5000),
  SPOOL_TENANT_MAX_QUEUED: positiveInt(100_000),
  SPOOL_TENANT_MAX_QUEUED_BYTES: positiveInt(1024 ** 3),
  SPOOL_CACHE_MAX_ENTRY_BYTES: positiveInt(1024 ** 2),
  SPOOL_CACHE_TENANT_MAX_BYTES: positiveInt(64 * 1024 ** 2),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SPOOL_LOG_PRETTY: optionalBoolean,
  SPOOL_METRICS_KEY: optionalString,
  SPOOL_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  SPOOL_CONFIG: optionalString,
  SPOOL_PROVIDER_BATCH_POLL_MS: positiveInt(30_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess((value) => (typeof value === 'string' && !value.trim() ? undefined : value), z.string().trim().regex(/^https?:\/\/[^/\s]/, 'must be an http:// or https:// URL').url().optional()),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
});

/** The root of the configuration's errors: a setting is missing or malformed. */
export class ConfigError extends SpoolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_config', message, options);
  }
}

/** `tenant:key,tenant:key` as tenant by key; undefined when a pair is malformed. */
function parseApiKeys(value: string | undefined): Map<string, string> | undefined {
  const keys = new Map<string, string>();
  if (!value) return keys;
  for (const entry of value.split(',')) {
    const pair = entry.trim();
    if (!pair) continue;
    const colon = pair.indexOf(':');
    if (colon <= 0 || colon === pair.length - 1) return undefined;
    keys.set(pair.slice(colon + 1), pair.slice(0, colon));
  }
  return keys;
}

/** Reads `.env` from the working directory; real environment variables win. */
export function readDotEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): NodeJS.ProcessEnv {
  const path = resolve(cwd, '.env');
  if (!existsSync(path)) return env;
  return { ...parseEnv(readFileSync(path, 'utf8')), ...env };
}

/** The settings, as the code reads them: the environment parsed, under camelCase names. */
const configFromEnv = (env: NodeJS.ProcessEnv) =>
  ConfigSchema.transform((value, context) => {
  const apiKeys = parseApiKeys(value.SPOOL_API_KEYS);
  if (!apiKeys) context.addIssue({ code: 'custom', path: ['SPOOL_API_KEYS'], message: 'must be tenant:key pairs separated by commas' });
  const file = readFile(value.SPOOL_CONFIG, env, context);
  if (file.tenants && value.SPOOL_API_KEYS) context.addIssue({ code: 'custom', path: ['SPOOL_API_KEYS'], message: 'must be unset when SPOOL_CONFIG has tenants' });
  const tenants = file.tenants ?? tenantsFromApiKeys(apiKeys ?? new Map());
  return {
    redisUrl: value.REDIS_URL,
    prefix: value.SPOOL_PREFIX,
    port: value.PORT,
    host: value.HOST,
    openaiApiKey: value.OPENAI_API_KEY,
    openaiBaseUrl: value.OPENAI_BASE_URL,
    defaultModel: value.SPOOL_DEFAULT_MODEL,
    /** each tenant's keys and limits (SPOOL_CONFIG's `tenants`, else SPOOL_API_KEYS); empty when the API is open */
    tenants,
    /** tenant name by the sha256 (hex) of an API key; empty when the API is open */
    tenantKeys: new Map([...tenants].flatMap(([tenant, settings]) => settings.keyHashes.map((hash) => [hash, tenant] as const))),
    /** the upstream deployments (SPOOL_CONFIG's `upstreams`, else one named `default` from OPENAI_* and SPOOL_UPSTREAM_*) */
    upstreams: file.upstreams ?? [defaultUpstream(value)],
    /** prices, fallbacks and windows by model name (SPOOL_CONFIG's `models`) */
    models: file.models,
    /** the configuration file, when there is one (SPOOL_CONFIG) */
    configPath: value.SPOOL_CONFIG,
    adminKey: value.SPOOL_ADMIN_KEY,
    workerConcurrency: value.WORKER_CONCURRENCY,
    upstreamRpm: value.SPOOL_UPSTREAM_RPM,
    upstreamTpm: value.SPOOL_UPSTREAM_TPM,
    maxAttempts: value.SPOOL_MAX_ATTEMPTS,
    backoffMs: value.SPOOL_BACKOFF_MS,
    upstreamTimeoutMs: value.SPOOL_UPSTREAM_TIMEOUT_MS,
    /** no chunk for this long counts as a broken stream, or a failed provider-batch file download (SPOOL_STALL_TIMEOUT_MS, 30 s) */
    stallTimeoutMs: value.SPOOL_STALL_TIMEOUT_MS,
    webhookSecret: value.SPOOL_WEBHOOK_SECRET,
    webhookBackoffMs: value.SPOOL_WEBHOOK_BACKOFF_MS,
    webhookAllowPrivate: value.SPOOL_WEBHOOK_ALLOW_PRIVATE,
    /** one tenant's webhook deliveries in flight over all workers (SPOOL_WEBHOOK_TENANT_CONCURRENCY, 10) */
    webhookTenantConcurrency: value.SPOOL_WEBHOOK_TENANT_CONCURRENCY,
    storeUrl: value.SPOOL_STORE_URL,
    /** job records, usage and idle sessions older than this are pruned (SPOOL_STORE_RETENTION_DAYS, 30; 0 keeps all) */
    storeRetentionDays: value.SPOOL_STORE_RETENTION_DAYS,
    clientRpm: value.SPOOL_CLIENT_RPM,
    /** batch uploads a tenant may have in progress on one API process; more is a 429 (SPOOL_BATCH_UPLOADS_PER_TENANT, 2) */
    batchUploadsPerTenant: value.SPOOL_BATCH_UPLOADS_PER_TENANT,
    contextTokens: value.SPOOL_CONTEXT_TOKENS,
    /** BullMQ lock duration: how soon a dead worker's job is taken over (SPOOL_LOCK_MS, 30 s) */
    lockMs: value.SPOOL_LOCK_MS,
    /** how long a job's events are kept after it ends (SPOOL_EVENTS_TTL_S, 24 h) */
    eventsTtlSeconds: value.SPOOL_EVENTS_TTL_S,
    /** SSE streams (job events, streaming chat completions) one tenant may hold open on one API process (SPOOL_SSE_MAX_PER_TENANT, 5,000) */
    sseMaxPerTenant: value.SPOOL_SSE_MAX_PER_TENANT,
    /** jobs of one tenant not yet ended (SPOOL_TENANT_MAX_QUEUED, 100,000) */
    tenantMaxQueued: value.SPOOL_TENANT_MAX_QUEUED,
    /** bytes of the requests of those jobs (SPOOL_TENANT_MAX_QUEUED_BYTES, 1 GiB) */
    tenantMaxQueuedBytes: value.SPOOL_TENANT_MAX_QUEUED_BYTES,
    /** a reply whose result JSON is larger is not cached (SPOOL_CACHE_MAX_ENTRY_BYTES, 1 MiB) */
    cacheMaxEntryBytes: value.SPOOL_CACHE_MAX_ENTRY_BYTES,
    /** the cached results of one tenant, at most, in bytes (SPOOL_CACHE_TENANT_MAX_BYTES, 64 MiB) */
    cacheTenantMaxBytes: value.SPOOL_CACHE_TENANT_MAX_BYTES,
    logLevel: value.LOG_LEVEL,
    /** pretty logs (SPOOL_LOG_PRETTY); unset: pretty when stdout is a terminal */
    logPretty: value.SPOOL_LOG_PRETTY,
    /** the worker's own `/metrics` port (SPOOL_METRICS_PORT, 9464; 0 = none) */
    metricsPort: value.SPOOL_METRICS_PORT,
    /** when set, `/metrics` of the API and the worker needs `Authorization: Bearer <key>` (SPOOL_METRICS_KEY) */
    metricsKey: value.SPOOL_METRICS_KEY,
    /** first wait before a provider batch is polled; it doubles each poll, up to 10 min (SPOOL_PROVIDER_BATCH_POLL_MS, 30 s) */
    providerBatchPollMs: value.SPOOL_PROVIDER_BATCH_POLL_MS,
    /** where spans go over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT); unset: tracing is off */
    otlpEndpoint: value.OTEL_EXPORTER_OTLP_ENDPOINT,
    /** OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf` (default) or `http/json` */
    otlpProtocol: value.OTEL_EXPORTER_OTLP_PROTOCOL,
  };
});

export type Config = z.output<ReturnType<typeof configFromEnv>>;

function readFile(path: string | undefined, env: NodeJS.ProcessEnv, context: z.RefinementCtx): ConfigFile {
  if (!path) return { models: new Map() };
  try {
    return readConfigFile(path, env);
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    context.addIssue({ code: 'custom', path: ['SPOOL_CONFIG'], message: `${path}: ${error.message}` });
    return { models: new Map() };
  }
}

function tenantsFromApiKeys(apiKeys: Map<string, string>): Map<string, TenantSettings> {
  const tenants = new Map<string, TenantSettings>();
  for (const [key, tenant] of apiKeys) {
    const settings = tenants.get(tenant) ?? { keyHashes: [], weight: 1 };
    settings.keyHashes.push(sha256Hex(key));
    tenants.set(tenant, settings);
  }
  return tenants;
}

function defaultUpstream(value: z.output<typeof ConfigSchema>): UpstreamSettings {
  return {
    name: 'default',
    baseUrl: value.OPENAI_BASE_URL,
    apiKey: value.OPENAI_API_KEY,
    headers: {},
    models: ['*'],
    modelMap: {},
    rpm: value.SPOOL_UPSTREAM_RPM,
    tpm: value.SPOOL_UPSTREAM_TPM,
    weight: 1,
  };
}

export type { ModelSettings, TenantSettings, UpstreamSettings };

export function loadConfig(env: NodeJS.ProcessEnv = readDotEnv(process.env)): Config {
  const parsed = configFromEnv(env).safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  return parsed.data;
}

/** `loadConfig` for a process's start: a bad setting prints one line naming it and exits, never a stack trace. */
export function loadConfigOrExit(env?: NodeJS.ProcessEnv): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`spool: bad configuration: ${error.message}\n`);
    process.exit(1);
  }
}
