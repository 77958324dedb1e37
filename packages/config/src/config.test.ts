import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { sha256Hex } from './config-file.js';

const defaultUpstream = { name: 'default', baseUrl: undefined, apiKey: undefined, headers: {}, models: ['*'], modelMap: {}, rpm: undefined, tpm: undefined, weight: 1 };

describe('loadConfig', () => {
  it('gives every setting its default from an empty environment', () => {
    expect(loadConfig({})).toStrictEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'spool',
      port: 3000,
      host: '127.0.0.1',
      openaiApiKey: undefined,
      openaiBaseUrl: undefined,
      defaultModel: 'gpt-4o-mini',
      tenants: new Map(),
      tenantKeys: new Map(),
      upstreams: [defaultUpstream],
      models: new Map(),
      configPath: undefined,
      adminKey: undefined,
      workerConcurrency: 50,
      upstreamRpm: undefined,
      upstreamTpm: undefined,
      maxAttempts: 5,
      backoffMs: 1000,
      upstreamTimeoutMs: 120_000,
      stallTimeoutMs: 30_000,
      webhookSecret: undefined,
      webhookBackoffMs: 5000,
      webhookAllowPrivate: false,
      webhookTenantConcurrency: 10,
      storeUrl: 'sqlite:./data/spool.db',
      storeRetentionDays: 30,
      clientRpm: 600,
      batchUploadsPerTenant: 2,
      contextTokens: undefined,
      lockMs: 30_000,
      eventsTtlSeconds: 86_400,
      sseMaxPerTenant: 5000,
      tenantMaxQueued: 100_000,
      tenantMaxQueuedBytes: 1024 ** 3,
      cacheMaxEntryBytes: 1024 ** 2,
      cacheTenantMaxBytes: 64 * 1024 ** 2,
      logLevel: 'info',
      logPretty: undefined,
      metricsPort: 9464,
      metricsKey: undefined,
      providerBatchPollMs: 30_000,
      otlpEndpoint: undefined,
      otlpProtocol: 'http/protobuf',
    });
  });

  it('reads every variable into its setting', () => {
    const config = loadConfig({
      REDIS_URL: 'rediss://127.0.0.1:6380/5',
      SPOOL_PREFIX: '{p}',
      PORT: '0',
      HOST: '::1',
      OPENAI_API_KEY: ' sk-x ',
      OPENAI_BASE_URL: 'http://127.0.0.1:4010/v1',
      SPOOL_DEFAULT_MODEL: 'm',
      SPOOL_API_KEYS: 'acme:k1, bob:k2,',
      SPOOL_ADMIN_KEY: 'admin',
      WORKER_CONCURRENCY: '3',
      SPOOL_UPSTREAM_RPM: '60',
      SPOOL_UPSTREAM_TPM: '1000',
      SPOOL_MAX_ATTEMPTS: '2',
      SPOOL_BACKOFF_MS: '10',
      SPOOL_UPSTREAM_TIMEOUT_MS: '11',
      SPOOL_STALL_TIMEOUT_MS: '12',
      SPOOL_WEBHOOK_SECRET: 'whsec_x',
      SPOOL_WEBHOOK_BACKOFF_MS: '13',
      SPOOL_WEBHOOK_ALLOW_PRIVATE: 'yes',
      SPOOL_WEBHOOK_TENANT_CONCURRENCY: '4',
      SPOOL_STORE_URL: 'postgres://127.0.0.1/test',
      SPOOL_STORE_RETENTION_DAYS: '0',
      SPOOL_CLIENT_RPM: '7',
      SPOOL_BATCH_UPLOADS_PER_TENANT: '1',
      SPOOL_CONTEXT_TOKENS: '4096',
      SPOOL_LOCK_MS: '14',
      SPOOL_EVENTS_TTL_S: '15',
      SPOOL_SSE_MAX_PER_TENANT: '16',
      SPOOL_TENANT_MAX_QUEUED: '17',
      SPOOL_TENANT_MAX_QUEUED_BYTES: '18',
      SPOOL_CACHE_MAX_ENTRY_BYTES: '19',
      SPOOL_CACHE_TENANT_MAX_BYTES: '20',
      LOG_LEVEL: 'debug',
      SPOOL_LOG_PRETTY: '0',
      SPOOL_METRICS_PORT: '0',
      SPOOL_METRICS_KEY: 'mk',
      SPOOL_PROVIDER_BATCH_POLL_MS: '250',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    expect(config).toStrictEqual({
      redisUrl: 'rediss://127.0.0.1:6380/5',
      prefix: '{p}',
      port: 0,
      host: '::1',
      openaiApiKey: 'sk-x',
      openaiBaseUrl: 'http://127.0.0.1:4010/v1',
      defaultModel: 'm',
      tenants: new Map([
        ['acme', { keyHashes: [sha256Hex('k1')], weight: 1 }],
        ['bob', { keyHashes: [sha256Hex('k2')], weight: 1 }],
      ]),
      tenantKeys: new Map([
        [sha256Hex('k1'), 'acme'],
        [sha256Hex('k2'), 'bob'],
      ]),
      upstreams: [{ ...defaultUpstream, apiKey: 'sk-x', baseUrl: 'http://127.0.0.1:4010/v1', rpm: 60, tpm: 1000 }],
      models: new Map(),
      configPath: undefined,
      adminKey: 'admin',
      workerConcurrency: 3,
      upstreamRpm: 60,
      upstreamTpm: 1000,
      maxAttempts: 2,
      backoffMs: 10,
      upstreamTimeoutMs: 11,
      stallTimeoutMs: 12,
      webhookSecret: 'whsec_x',
      webhookBackoffMs: 13,
      webhookAllowPrivate: true,
      webhookTenantConcurrency: 4,
      storeUrl: 'postgres://127.0.0.1/test',
      storeRetentionDays: 0,
      clientRpm: 7,
      batchUploadsPerTenant: 1,
      contextTokens: 4096,
      lockMs: 14,
      eventsTtlSeconds: 15,
      sseMaxPerTenant: 16,
      tenantMaxQueued: 17,
      tenantMaxQueuedBytes: 18,
      cacheMaxEntryBytes: 19,
      cacheTenantMaxBytes: 20,
      logLevel: 'debug',
      logPretty: false,
      metricsPort: 0,
      metricsKey: 'mk',
      providerBatchPollMs: 250,
      otlpEndpoint: 'http://127.0.0.1:4318',
      otlpProtocol: 'http/json',
    });
  });

  it('names the variable first in its error: NAME: message', () => {
    expect(() => loadConfig({ PORT: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/^PORT: /);
    expect(() => loadConfig({ SPOOL_PREFIX: 'a:b' })).toThrow('SPOOL_PREFIX: letters, digits, _ . - { } only');
    expect(() => loadConfig({ SPOOL_API_KEYS: 'acme' })).toThrow(/SPOOL_API_KEYS.*tenant:key pairs/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: /);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/^OTEL_EXPORTER_OTLP_PROTOCOL: /);
  });

  it('treats a blank optional setting as unset', () => {
    expect(loadConfig({ OPENAI_API_KEY: '  ', SPOOL_ADMIN_KEY: '', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toMatchObject({ openaiApiKey: undefined, adminKey: undefined, otlpEndpoint: undefined });
  });
});
