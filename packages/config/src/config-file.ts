import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDocument, visit } from 'yaml';
import { z } from 'zod';

/** A tenant as the configuration file (or SPOOL_API_KEYS) describes it. */
export interface TenantSettings {
  /** sha256 (hex) of each API key; the keys themselves are never kept */
  keyHashes: string[];
  /** share of contended upstream capacity */
  weight: number;
  /** jobs running at once, fleet-wide */
  maxConcurrency?: number;
  /** upstream requests per minute */
  rpm?: number;
  /** upstream tokens per minute */
  tpm?: number;
  /** API requests per minute per key; default SPOOL_CLIENT_RPM */
  clientRpm?: number;
  /** spend per calendar month (UTC) */
  budgetUsd?: number;
}

/** One upstream deployment. Without `upstreams` in the file, the environment describes one named `default`. */
export interface UpstreamSettings {
  name: string;
  /** undefined: OpenAI's */
  baseUrl?: string;
  apiKey?: string;
  headers: Record<string, string>;
  /** served models; `*`: any */
  models: string[];
  /** model name -> the name sent to this upstream */
  modelMap: Record<string, string>;
  rpm?: number;
  tpm?: number;
  weight: number;
}

export interface ModelSettings {
  inputUsdPerMtok: number;
  outputUsdPerMtok: number;
  fallbacks: string[];
  /** window for session trimming; else SPOOL_CONTEXT_TOKENS */
  contextTokens?: number;
  /** the price factor of a provider batch (§14) */
  batchDiscount: number;
}

/** What a configuration file adds to the environment. */
export interface ConfigFile {
  tenants?: Map<string, TenantSettings>;
  upstreams?: UpstreamSettings[];
  models: Map<string, ModelSettings>;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

const positiveNumber = z.number({ error: 'must be a number > 0' }).gt(0, 'must be a number > 0').finite('must be a number > 0');
const positiveInt = z.number({ error: 'must be an integer > 0' }).int('must be an integer > 0').gt(0, 'must be an integer > 0');
const price = z.number({ error: 'must be a number >= 0' }).min(0, 'must be a number >= 0').finite('must be a number >= 0');
// Bounds that keep the scheduler's and the budget's sums exact: a stride of 1/weight still moves a
// pass after billions of jobs, and the worst case of a call in nano-USD stays a 64-bit integer in Redis.
const tenantWeight = positiveNumber.min(0.000001, 'must be at least 0.000001').max(1_000_000, 'must be at most 1000000');
const pricePerMtok = price.max(100_000, 'must be at most 100000');
const budget = price.max(1_000_000_000, 'must be at most 1000000000');
const name = z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -');
const nonEmpty = z.string({ error: 'must be a string' }).min(1, 'must not be empty');
/** an API key as a Bearer header carries it */
const apiKey = nonEmpty.regex(/^\S+$/, 'must not contain spaces');
const stringMap = z.record(z.string({ error: 'must be a string' }), z.string({ error: 'must be a string' }), { error: 'must be a map of strings' });
/** RFC 9110's token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Extra request headers: names and values an HTTP request can carry, checked at start (else every
 * call would fail, and count against the upstream's health). A bad value is never quoted: it may be a key.
 */
const headerMap = stringMap.superRefine((headers, context) => {
  for (const [header, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(header)) context.addIssue({ code: 'custom', path: [header], message: "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)" });
    else if (/[\r\n\0]/.test(value)) context.addIssue({ code: 'custom', path: [header], message: 'must not hold a line break or NUL' });
  }
});

const TenantSchema = z
  .strictObject(
    {
      keys: z.array(apiKey, { error: 'must be a list of keys' }).optional(),
      key_sha256: z.array(z.string({ error: 'must be a string' }).regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'), { error: 'must be a list of hex digests' }).optional(),
      weight: tenantWeight.default(1),
      max_concurrency: positiveInt.optional(),
      rpm: positiveInt.optional(),
      tpm: positiveInt.optional(),
      client_rpm: positiveInt.optional(),
      budget_usd: budget.optional(),
    },
    { error: 'must be a map' },
  )
  .refine((tenant) => (tenant.keys?.length ?? 0) + (tenant.key_sha256?.length ?? 0) > 0, { message: 'needs keys or key_sha256', path: ['keys'] });

const UpstreamSchema = z.strictObject(
  {
    name,
    base_url: z.url({ error: 'must be an http(s) URL', protocol: /^https?$/ }).optional(),
    api_key: nonEmpty.optional(),
    headers: headerMap.default({}),
    models: z.array(nonEmpty, { error: 'must be a list of model names' }).min(1, 'must name at least one model ("*": any)').default(['*']),
    model_map: z.record(z.string({ error: 'must be a string' }), nonEmpty, { error: 'must be a map of strings' }).default({}),
    rpm: positiveInt.optional(),
    tpm: positiveInt.optional(),
    weight: positiveNumber.default(1),
  },
  { error: 'must be a map' },
);

const ModelSchema = z.strictObject(
  {
    input_usd_per_mtok: pricePerMtok.default(0),
    output_usd_per_mtok: pricePerMtok.default(0),
    fallbacks: z.array(nonEmpty, { error: 'must be a list of model names' }).default([]),
    context_tokens: positiveInt.max(100_000_000, 'must be at most 100000000').optional(),
    batch_discount: z.number({ error: 'must be a number in 0..1' }).min(0, 'must be a number in 0..1').max(1, 'must be a number in 0..1').default(0.5),
  },
  { error: 'must be a map' },
);

const FileSchema = z
  .strictObject(
    {
      tenants: z
        .record(name, TenantSchema, { error: 'must be a map of tenants' })
        // an empty map is not "no tenants": it must not open the API to every caller
        .refine((tenants) => Object.keys(tenants).length > 0, 'must name at least one tenant (without tenants the API is open)')
        .optional(),
      upstreams: z.array(UpstreamSchema, { error: 'must be a list of upstreams' }).min(1, 'must list at least one upstream').optional(),
      models: z.record(nonEmpty, ModelSchema, { error: 'must be a map of models' }).default({}),
    },
    { error: 'must be a map with tenants, upstreams and models' },
  )
  .superRefine((file, context) => {
    const seen = new Set<string>();
    file.upstreams?.forEach((upstream, index) => {
      if (seen.has(upstream.name)) context.addIssue({ code: 'custom', path: ['upstreams', index, 'name'], message: `"${upstream.name}" is named twice` });
      seen.add(upstream.name);
    });
    const owners = new Map<string, string>();
    for (const [tenant, settings] of Object.entries(file.tenants ?? {})) {
      for (const hash of tenantKeyHashes(settings)) {
        const owner = owners.get(hash);
        if (owner && owner !== tenant) context.addIssue({ code: 'custom', path: ['tenants', tenant, 'keys'], message: `a key of this tenant is also a key of "${owner}"` });
        owners.set(hash, tenant);
      }
    }
  });

function tenantKeyHashes(tenant: { keys?: string[]; key_sha256?: string[] }): string[] {
  return [...(tenant.keys ?? []).map(sha256Hex), ...(tenant.key_sha256 ?? []).map((hash) => hash.toLowerCase())];
}

/** `tenants.alpha.weight`, `upstreams[0].name`: where in the file an issue is. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(file)';
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`).join('; ');
  }
  // a map's key that is not a valid name: say why, not that the map is bad
  if (issue.code === 'invalid_key' && issue.issues[0]) return `${formatPath(issue.path)}: ${issue.issues[0].message}`;
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/**
 * `${NAME}` in any string value becomes that environment variable; an unset one is an error naming
 * it, as is a key `__proto__` (a parse would drop it, and what it names with it).
 */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[], missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, variable: string) => {
      const replacement = env[variable];
      if (replacement === undefined) missing.push(`${formatPath(path)}: \${${variable}} is not set in the environment`);
      return replacement ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, env, [...path, index], missing));
  if (value && typeof value === 'object') {
    if (Object.hasOwn(value, '__proto__')) missing.push(`${formatPath([...path, '__proto__'])}: not allowed as a name`);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, env, [...path, key], missing)]));
  }
  return value;
}

const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/**
 * An unquoted `${NAME}` standing alone is read as if its value were written there: a number
 * (`rpm: ${ALPHA_RPM}`) is a number. Quoted (`"${NAME}"`), or within other text, it stays text,
 * replaced by `substitute`, which also reports an unset one.
 */
function numbersFromEnv(document: ReturnType<typeof parseDocument>, env: NodeJS.ProcessEnv): void {
  visit(document, {
    Scalar(_key, node) {
      if (node.type !== 'PLAIN' || typeof node.value !== 'string') return;
      const name = WHOLE_VARIABLE.exec(node.value)?.[1];
      const value = name === undefined ? undefined : env[name];
      if (value !== undefined && NUMBER.test(value.trim())) node.value = Number(value);
    },
  });
}

/** Why a configuration file was refused, in one line a person can act on. */
export class ConfigFileError extends Error {}

/** Parses a configuration file's text (YAML, of which JSON is a part); throws `ConfigFileError`. */
export function parseConfigFile(text: string, env: NodeJS.ProcessEnv): ConfigFile {
  let raw: unknown;
  try {
    const document = parseDocument(text);
    if (document.errors.length) throw document.errors[0];
    numbersFromEnv(document, env);
    raw = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigFileError(`not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const missing: string[] = [];
  const substituted = substitute(raw ?? {}, env, [], missing);
  if (missing.length) throw new ConfigFileError(missing[0]);
  const parsed = FileSchema.safeParse(substituted);
  if (!parsed.success) throw new ConfigFileError(describe(parsed.error.issues[0]));
  const file = parsed.data;
  return {
    tenants: file.tenants
      ? new Map(
          Object.entries(file.tenants).map(([tenant, settings]) => [
            tenant,
            {
              keyHashes: tenantKeyHashes(settings),
              weight: settings.weight,
              maxConcurrency: settings.max_concurrency,
              rpm: settings.rpm,
              tpm: settings.tpm,
              clientRpm: settings.client_rpm,
              budgetUsd: settings.budget_usd,
            },
          ]),
        )
      : undefined,
    upstreams: file.upstreams?.map((upstream) => ({
      name: upstream.name,
      baseUrl: upstream.base_url,
      apiKey: upstream.api_key,
      headers: upstream.headers,
      models: upstream.models,
      modelMap: upstream.model_map,
      rpm: upstream.rpm,
      tpm: upstream.tpm,
      weight: upstream.weight,
    })),
    models: new Map(
      Object.entries(file.models).map(([model, settings]) => [
        model,
        {
          inputUsdPerMtok: settings.input_usd_per_mtok,
          outputUsdPerMtok: settings.output_usd_per_mtok,
          fallbacks: settings.fallbacks,
          contextTokens: settings.context_tokens,
          batchDiscount: settings.batch_discount,
        },
      ]),
    ),
  };
}

/** Reads and parses the file SPOOL_CONFIG names; throws `ConfigFileError`. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseConfigFile(text, env);
}
