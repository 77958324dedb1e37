import { z } from 'zod';
import { ApiError, formatParam } from './errors.js';

const Role = z.enum(['system', 'developer', 'user', 'assistant', 'tool']);

const ContentPart = z.looseObject({ type: z.string().min(1) });

export const ChatMessage = z.looseObject({
  role: Role,
  content: z.union([z.string(), z.array(ContentPart), z.null()]),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const range = (min: number, max: number) => z.number().min(min).max(max);

/** OpenAI's chat request fields Spool checks; unknown OpenAI fields pass through unchanged. */
export const ChatRequestFields = {
  model: z.string().min(1).max(256).optional(),
  messages: z.array(ChatMessage).min(1).max(10_000),
  temperature: range(0, 2).nullish(),
  top_p: range(0, 1).nullish(),
  presence_penalty: range(-2, 2).nullish(),
  frequency_penalty: range(-2, 2).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  user: z.string().max(512).nullish(),
};

export const Metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((value) => Object.keys(value).length <= 16, 'at most 16 keys');

export const Webhook = z.object({ url: z.string().max(2048) });

/** A week: the longest a cached reply may be reused. */
export const CACHE_MAX_TTL_S = 604_800;

/** `cache`: reuse an identical request's reply from the last `ttl_s` seconds, or join one running now (API.md §14). */
export const CacheOption = z.strictObject({ ttl_s: z.number().int().min(1).max(CACHE_MAX_TTL_S) });
export type CacheOption = z.infer<typeof CacheOption>;

/** Spool's own fields, never forwarded upstream. */
export const SpoolFields = {
  session_id: z.string().max(128).nullish(),
  webhook: Webhook.nullish(),
  priority: z.number().int().min(1).max(10).default(5),
  metadata: Metadata.default({}),
  on_interrupt: z.enum(['continue', 'restart']).default('continue'),
  cache: CacheOption.nullish(),
};

export const JobRequest = z.looseObject({ ...ChatRequestFields, ...SpoolFields });
export type JobRequest = z.infer<typeof JobRequest>;

export const SPOOL_FIELD_NAMES = Object.keys(SpoolFields) as (keyof typeof SpoolFields)[];
/** Fields that make no sense through a queue: the worker always streams, and one choice is kept. */
const DROPPED_FIELDS = ['stream', 'stream_options', 'n'];

/** The upstream request body: every OpenAI field as sent, without Spool's own. */
export type UpstreamRequest = Record<string, unknown> & { model: string; messages: ChatMessage[] };

export function splitJobRequest(request: JobRequest, defaultModel: string): { upstream: UpstreamRequest; spool: Pick<JobRequest, (typeof SPOOL_FIELD_NAMES)[number]> } {
  const upstream: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request)) {
    if ((SPOOL_FIELD_NAMES as string[]).includes(key) || DROPPED_FIELDS.includes(key)) continue;
    upstream[key] = value;
  }
  upstream.model = request.model ?? defaultModel;
  return {
    upstream: upstream as UpstreamRequest,
    spool: {
      session_id: request.session_id,
      webhook: request.webhook,
      priority: request.priority,
      metadata: request.metadata,
      on_interrupt: request.on_interrupt,
      cache: request.cache,
    },
  };
}

/** Parses with `schema`, or throws the 400 that names the first bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, paramPrefix = ''): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw ApiError.invalid('The request body must be a JSON object', paramPrefix || null, 'invalid_body');
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = formatParam(issue.path);
  const fullParam = paramPrefix ? (param ? `${paramPrefix}.${param}` : paramPrefix) : param;
  const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
  const message = missing ? `Missing required parameter: '${fullParam}'` : `Invalid '${fullParam}': ${issue.message}`;
  throw ApiError.invalid(message, fullParam, missing ? 'missing_required_parameter' : 'invalid_value');
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
