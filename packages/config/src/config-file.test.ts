import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigFileError, parseConfigFile, sha256Hex } from './config-file.js';
import { loadConfig } from './config.js';

const EXAMPLE = `
tenants:
  alpha:
    keys: ["\${ALPHA_KEY}"]
    weight: 3
    max_concurrency: 20
    rpm: 300
    tpm: 200000
    client_rpm: 1200
    budget_usd: 50
  beta:
    key_sha256: ["${'AB'.repeat(32)}"]
upstreams:
  - name: openai-a
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_KEY_A}
    headers: { api-key: x }
    models: ["gpt-4o-mini", "gpt-4o"]
    model_map: { gpt-4o: gpt-4o-2024 }
    rpm: 5000
    tpm: 2000000
    weight: 2
  - name: local
    base_url: http://127.0.0.1:4010/v1
models:
  gpt-4o:
    input_usd_per_mtok: 2.50
    output_usd_per_mtok: 10.00
    fallbacks: ["gpt-4o-mini"]
    context_tokens: 128000
`;

const env = { ALPHA_KEY: 'alpha-secret', OPENAI_KEY_A: 'sk-a' };

function refusal(text: string, environment: NodeJS.ProcessEnv = env): string {
  try {
    parseConfigFile(text, environment);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return (error as Error).message;
  }
  throw new Error('the file was accepted');
}

describe('the configuration file', () => {
  it('reads every section of the example, with ${NAME} from the environment', () => {
    const file = parseConfigFile(EXAMPLE, env);
    expect(file.tenants?.get('alpha')).toEqual({
      keyHashes: [sha256Hex('alpha-secret')],
      weight: 3,
      maxConcurrency: 20,
      rpm: 300,
      tpm: 200000,
      clientRpm: 1200,
      budgetUsd: 50,
    });
    expect(file.tenants?.get('beta')).toMatchObject({ keyHashes: ['ab'.repeat(32)], weight: 1, budgetUsd: undefined });
    expect(file.upstreams).toEqual([
      {
        name: 'openai-a',
        baseUrl: 'https://api.openai.com/v1',
        apiKey: 'sk-a',
        headers: { 'api-key': 'x' },
        models: ['gpt-4o-mini', 'gpt-4o'],
        modelMap: { 'gpt-4o': 'gpt-4o-2024' },
        rpm: 5000,
        tpm: 2000000,
        weight: 2,
      },
      { name: 'local', baseUrl: 'http://127.0.0.1:4010/v1', apiKey: undefined, headers: {}, models: ['*'], modelMap: {}, rpm: undefined, tpm: undefined, weight: 1 },
    ]);
    expect(file.models.get('gpt-4o')).toEqual({ inputUsdPerMtok: 2.5, outputUsdPerMtok: 10, fallbacks: ['gpt-4o-mini'], contextTokens: 128000, batchDiscount: 0.5 });
  });

  it('reads JSON too', () => {
    const file = parseConfigFile(JSON.stringify({ tenants: { a: { keys: ['k'], weight: 2 } } }), {});
    expect(file.tenants?.get('a')?.weight).toBe(2);
    expect(file.upstreams).toBeUndefined();
  });

  it('names the path of a bad value', () => {
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    weight: 0\n')).toBe('tenants.alpha.weight: must be a number > 0');
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    weight: "3"\n')).toBe('tenants.alpha.weight: must be a number > 0');
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    max_concurrency: 1.5\n')).toBe('tenants.alpha.max_concurrency: must be an integer > 0');
    expect(refusal('upstreams:\n  - name: a\n    base_url: ftp://x\n')).toBe('upstreams[0].base_url: must be an http(s) URL');
    expect(refusal('models:\n  m:\n    output_usd_per_mtok: -1\n')).toBe('models.m.output_usd_per_mtok: must be a number >= 0');
    expect(refusal('tenants:\n  alpha: {weight: 1}\n')).toBe('tenants.alpha.keys: needs keys or key_sha256');
  });

  it('refuses unknown keys by name', () => {
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    wieght: 3\n')).toBe('tenants.alpha.wieght: unknown key');
    expect(refusal('tenant: {}\n')).toBe('tenant: unknown key');
  });

  it('reads a number from ${NAME} where the file has it unquoted, as if written there; quoted it stays text', () => {
    const environment = { RPM: '300', BUDGET: '12.5', KEY: '123456' };
    const file = parseConfigFile('tenants:\n  alpha:\n    keys: ["${KEY}"]\n    rpm: ${RPM}\n    budget_usd: ${BUDGET}\n', environment);
    expect(file.tenants?.get('alpha')).toMatchObject({ keyHashes: [sha256Hex('123456')], rpm: 300, budgetUsd: 12.5 });
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    rpm: "${RPM}"\n', environment)).toBe('tenants.alpha.rpm: must be an integer > 0');
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    rpm: ${KEY}x\n', environment)).toBe('tenants.alpha.rpm: must be an integer > 0');
    expect(refusal('tenants:\n  alpha:\n    keys: [k]\n    rpm: ${NOPE}\n', environment)).toBe('tenants.alpha.rpm: ${NOPE} is not set in the environment');
  });

  it('refuses an unset ${NAME}, a key shared by two tenants, and an upstream named twice', () => {
    expect(refusal('tenants:\n  alpha:\n    keys: ["${NOPE}"]\n', {})).toBe('tenants.alpha.keys[0]: ${NOPE} is not set in the environment');
    expect(refusal('tenants:\n  a: {keys: [k]}\n  b: {keys: [k]}\n')).toBe('tenants.b.keys: a key of this tenant is also a key of "a"');
    expect(refusal('upstreams:\n  - name: a\n  - name: a\n')).toBe('upstreams[1].name: "a" is named twice');
  });

  it('refuses a file whose tenants would leave the API open or lose one silently', () => {
    // an empty map of tenants is not "no tenants": it must not open the API to every caller
    expect(refusal('tenants: {}\n')).toBe('tenants: must name at least one tenant (without tenants the API is open)');
    // a key named __proto__ would be dropped by the parse, its tenant, model or header with it
    expect(refusal('tenants:\n  __proto__: {keys: [k]}\n')).toBe('tenants.__proto__: not allowed as a name');
    expect(refusal('models:\n  __proto__: {input_usd_per_mtok: 1}\n')).toBe('models.__proto__: not allowed as a name');
    expect(refusal('upstreams:\n  - name: a\n    headers: {__proto__: x}\n')).toBe('upstreams[0].headers.__proto__: not allowed as a name');
    expect(refusal('tenants:\n  "a b": {keys: [k]}\n')).toBe('tenants.a b: must be 1-64 letters, digits, _ . -');
    // a Bearer key has no spaces: a key with one could never be used
    expect(refusal('tenants:\n  a: {keys: ["k k"]}\n')).toBe('tenants.a.keys[0]: must not contain spaces');
  });

  it('bounds numbers the scheduler and the budget count with', () => {
    const tenant = (field: string) => `tenants:\n  a:\n    keys: [k]\n    ${field}\n`;
    for (const weight of ['1e308', '1000001']) expect(refusal(tenant(`weight: ${weight}`))).toBe('tenants.a.weight: must be at most 1000000');
    expect(refusal(tenant('weight: 1e-300'))).toBe('tenants.a.weight: must be at least 0.000001');
    expect(refusal(tenant('weight: .nan'))).toBe('tenants.a.weight: must be a number > 0');
    expect(refusal(tenant('rpm: 1e308'))).toBe('tenants.a.rpm: must be an integer > 0');
    expect(refusal(tenant('budget_usd: .inf'))).toBe('tenants.a.budget_usd: must be a number >= 0');
    expect(refusal(tenant('budget_usd: 1e308'))).toBe('tenants.a.budget_usd: must be at most 1000000000');
    expect(refusal('models:\n  m: {input_usd_per_mtok: 1e308}\n')).toBe('models.m.input_usd_per_mtok: must be at most 100000');
    expect(refusal('models:\n  m: {context_tokens: 1e15}\n')).toBe('models.m.context_tokens: must be at most 100000000');
    expect(parseConfigFile(tenant('weight: 0.5\n    budget_usd: 0'), env).tenants?.get('a')).toMatchObject({ weight: 0.5, budgetUsd: 0 });
  });

  it("refuses an upstream's header that no HTTP request can carry, without quoting its value, and an empty model_map name", () => {
    expect(refusal('upstreams:\n  - name: a\n    headers: {"api key": x}\n')).toBe('upstreams[0].headers.api key: must be an HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)');
    expect(refusal('upstreams:\n  - name: a\n    headers: {api-key: "secret\\r\\nx-injected: 1"}\n')).toBe('upstreams[0].headers.api-key: must not hold a line break or NUL');
    expect(refusal('upstreams:\n  - name: a\n    model_map: {gpt-4o: ""}\n')).toBe('upstreams[0].model_map.gpt-4o: must not be empty');
    expect(parseConfigFile('upstreams:\n  - name: a\n    headers: {api-key: "k", X-Team_1: "blue team"}\n', {}).upstreams?.[0].headers).toEqual({ 'api-key': 'k', 'X-Team_1': 'blue team' });
  });

  it('refuses text that is not YAML in one line', () => {
    expect(refusal('tenants: [\n')).toMatch(/^not valid YAML or JSON: /);
    // nested 5,000 deep, and aliases that would expand to millions of nodes: refused, not a crash
    expect(refusal(`tenants: ${'['.repeat(5000)}${']'.repeat(5000)}\n`)).toMatch(/^not valid YAML or JSON: /);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdef'.split('').map((name, i) => `${name}: &${name} [${Array(9).fill(`*${'abcde'[i]}`).join(', ')}]`)].join('\n');
    expect(refusal(bomb)).toMatch(/^not valid YAML or JSON: .*resource exhaustion/);
  });
});

describe('SPOOL_CONFIG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('takes tenants, upstreams and models from the file', () => {
    const config = loadConfig({ ...env, SPOOL_CONFIG: write('spool.yaml', EXAMPLE) });
    expect(config.tenantKeys.get(sha256Hex('alpha-secret'))).toBe('alpha');
    expect(config.tenantKeys.get('ab'.repeat(32))).toBe('beta');
    expect(config.upstreams.map((upstream) => upstream.name)).toEqual(['openai-a', 'local']);
    expect(config.models.get('gpt-4o')?.fallbacks).toEqual(['gpt-4o-mini']);
  });

  it('with upstreams in the file, uses none of OPENAI_API_KEY, OPENAI_BASE_URL and SPOOL_UPSTREAM_RPM/TPM', () => {
    const path = write('pool.yaml', 'upstreams:\n  - name: a\n    base_url: http://127.0.0.1:2/v1\n');
    const config = loadConfig({ SPOOL_CONFIG: path, OPENAI_API_KEY: 'sk-env', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1', SPOOL_UPSTREAM_RPM: '60', SPOOL_UPSTREAM_TPM: '1000' });
    expect(config.upstreams).toEqual([{ name: 'a', baseUrl: 'http://127.0.0.1:2/v1', apiKey: undefined, headers: {}, models: ['*'], modelMap: {}, rpm: undefined, tpm: undefined, weight: 1 }]);
  });

  it('refuses SPOOL_API_KEYS beside tenants in the file', () => {
    expect(() => loadConfig({ ...env, SPOOL_API_KEYS: 'a:k', SPOOL_CONFIG: write('both.yaml', EXAMPLE) })).toThrow('SPOOL_API_KEYS: must be unset when SPOOL_CONFIG has tenants');
  });

  it('names the file and the path in its error', () => {
    const path = write('bad.yaml', 'tenants:\n  alpha:\n    keys: [k]\n    weight: -1\n');
    expect(() => loadConfig({ SPOOL_CONFIG: path })).toThrow(`SPOOL_CONFIG: ${path}: tenants.alpha.weight: must be a number > 0`);
    expect(() => loadConfig({ SPOOL_CONFIG: join(dir, 'missing.yaml') })).toThrow(/SPOOL_CONFIG: .*missing\.yaml: cannot read .*ENOENT/);
  });

  it('keeps the environment-only set-up without a file', () => {
    const config = loadConfig({ SPOOL_API_KEYS: 'a:k', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' });
    expect(config.tenants.get('a')).toEqual({ keyHashes: [sha256Hex('k')], weight: 1 });
    expect(config.upstreams).toHaveLength(1);
    expect(config.upstreams[0]).toMatchObject({ name: 'default', baseUrl: 'http://127.0.0.1:1/v1' });
  });
});
