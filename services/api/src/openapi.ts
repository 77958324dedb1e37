import { z } from 'zod';
import { BatchObject, BatchRequest, CACHE_MAX_TTL_S, JobObject, JobRequest, TenantUsage } from '@spool/contracts';

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) component. */
function component(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ErrorEnvelope = z.object({
  error: z.object({
    type: z.enum(['invalid_request_error', 'authentication_error', 'rate_limit_error', 'api_error']),
    code: z.string().nullable(),
    message: z.string(),
    param: z.string().nullable(),
  }),
});

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const errors = Object.fromEntries(
  ['400', '401', '404', '409', '413', '415', '429', '503'].map((status) => [status, { description: 'Error', content: json(ref('Error')) }]),
);
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/** The OpenAPI 3.1 document of Spool's API, built from the same zod schemas that validate requests. */
export function openApiDocument(): Record<string, unknown> {
  const job = { description: 'The job', content: json(ref('Job')) };
  const batch = { description: 'The batch', content: json(ref('Batch')) };
  return {
    openapi: '3.1.0',
    info: { title: 'Spool', version: '0.1.0', description: 'A queue-backed gateway for LLM chat jobs.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        JobRequest: component(JobRequest, 'input'),
        Job: component(JobObject, 'output'),
        BatchRequest: component(BatchRequest, 'input'),
        Batch: component(BatchObject, 'output'),
        Usage: component(TenantUsage, 'output'),
        Error: component(ErrorEnvelope, 'output'),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/jobs': {
        post: {
          summary: 'Submit a chat job',
          parameters: [
            { name: 'wait', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 60 } },
            { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } },
          ],
          requestBody: { required: true, content: json(ref('JobRequest')) },
          responses: { '200': job, '202': job, ...errors },
        },
        get: {
          summary: "List the tenant's jobs, newest first",
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string', enum: JobObject.shape.status.options } },
            { name: 'batch_id', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
            { name: 'after', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'A page of jobs',
              content: json({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Job') }, has_more: { type: 'boolean' } } }),
            },
            ...errors,
          },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          summary: 'Get a job; with ?wait=N, once it ends or after N seconds',
          parameters: [idParam('id'), { name: 'wait', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 60 } }],
          responses: { '200': job, ...errors },
        },
      },
      '/v1/jobs/{id}/events': {
        get: {
          summary: "Server-Sent Events of a job: status, delta, reset, done",
          parameters: [idParam('id'), { name: 'Last-Event-ID', in: 'header', schema: { type: 'integer' } }, { name: 'after', in: 'query', schema: { type: 'integer' } }],
          responses: { '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
        },
      },
      '/v1/jobs/{id}/cancel': { post: { summary: 'Cancel a job', parameters: [idParam('id')], responses: { '200': job, ...errors } } },
      '/v1/jobs/{id}/continue': { post: { summary: 'Continue a cut-off job in a new job', parameters: [idParam('id')], responses: { '202': job, ...errors } } },
      '/v1/jobs/{id}/deliveries': { get: { summary: "A job's webhook delivery attempts", parameters: [idParam('id')], responses: { '200': { description: 'Deliveries' }, ...errors } } },
      '/v1/batches': {
        post: {
          summary: "Submit a batch (JSON or JSONL); completion_window '24h' sends it through the upstream's Batch API",
          parameters: [{ name: 'completion_window', in: 'query', description: 'for a JSONL body', schema: { type: 'string', enum: ['24h'] } }],
          requestBody: {
            required: true,
            content: { ...json(ref('BatchRequest')), 'application/jsonl': { schema: { type: 'string', description: "OpenAI's batch file format, one request a line" } } },
          },
          responses: { '202': batch, ...errors },
        },
      },
      '/v1/batches/{id}': { get: { summary: 'Get a batch', parameters: [idParam('id')], responses: { '200': batch, ...errors } } },
      '/v1/batches/{id}/results': { get: { summary: 'Results as JSONL', parameters: [idParam('id')], responses: { '200': { description: 'JSONL' }, ...errors } } },
      '/v1/batches/{id}/cancel': { post: { summary: 'Cancel a batch', parameters: [idParam('id')], responses: { '200': batch, ...errors } } },
      '/v1/sessions': { post: { summary: 'Create a session', responses: { '200': { description: 'The session' }, ...errors } } },
      '/v1/sessions/{id}': {
        get: { summary: 'Get a session', parameters: [idParam('id')], responses: { '200': { description: 'The session' }, ...errors } },
        delete: { summary: 'Delete a session', parameters: [idParam('id')], responses: { '200': { description: 'Deleted' }, ...errors } },
      },
      '/v1/chat/completions': {
        post: {
          summary: "OpenAI's chat completions, through the queue",
          parameters: [
            {
              name: 'x-spool-cache-ttl',
              in: 'header',
              description: 'the same as the body field `cache: {"ttl_s": N}` (which wins when both are given), for SDKs that cannot add one',
              schema: { type: 'integer', minimum: 1, maximum: CACHE_MAX_TTL_S },
            },
          ],
          requestBody: { required: true, content: json(ref('JobRequest')) },
          responses: { '200': { description: 'chat.completion, or chat.completion.chunk events with stream: true' }, ...errors },
        },
      },
      '/v1/usage': {
        get: {
          summary: "The caller's tenant this month: spend, budget, reserved, requests, tokens, jobs running and queued",
          responses: { '200': { description: 'Usage', content: json(ref('Usage')) }, ...errors },
        },
      },
      '/admin/tenants': {
        get: {
          summary: 'Every tenant’s usage this month (admin key)',
          responses: {
            '200': {
              description: 'Usage by tenant',
              content: json({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Usage') } } }),
            },
            ...errors,
          },
        },
      },
      '/v1/models': { get: { summary: 'List models', responses: { '200': { description: 'Models' } } } },
      '/admin/upstreams': {
        get: {
          summary: "Each upstream's state (ok, paused, out), calls in flight and last x-ratelimit-remaining-* headers (SPOOL_ADMIN_KEY)",
          responses: { '200': { description: 'Upstreams' }, ...errors },
        },
      },
      '/healthz': { get: { summary: 'Process up', security: [], responses: { '200': { description: 'OK' } } } },
      '/readyz': { get: { summary: 'Redis and store reachable', security: [], responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'Metrics' } } } },
    },
  };
}
