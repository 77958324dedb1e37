import OpenAI from 'openai';
import type { Config } from '@spool/config';
import { sdkAuth } from '@spool/llm';

const MODELS_TTL_MS = 60_000;

/** One entry of `GET /v1/models`, as OpenAI shapes it. */
export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

interface Listing {
  at: number;
  data: ModelEntry[];
}

/**
 * `GET /v1/models`: the models of SPOOL_CONFIG (those its upstreams name and those it prices),
 * and the own list of each upstream that serves any model (`"*"`), read at most once a minute.
 * Nothing at all (no list, none configured): the model Spool defaults to.
 */
export class ModelList {
  private readonly listers: { client: OpenAI; listing?: Listing }[];
  private readonly configured: ModelEntry[];

  constructor(private readonly config: Pick<Config, 'upstreams' | 'models' | 'defaultModel'>) {
    this.listers = config.upstreams
      .filter((upstream) => upstream.models.includes('*'))
      .map((upstream) => ({
        client: new OpenAI({ baseURL: upstream.baseUrl, ...sdkAuth(upstream.apiKey, upstream.headers), maxRetries: 0, timeout: 5000 }),
      }));
    const named = [...config.upstreams.flatMap((upstream) => upstream.models.filter((model) => model !== '*')), ...config.models.keys()];
    this.configured = [...new Set(named)].map((id) => entry(id));
  }

  async list(): Promise<ModelEntry[]> {
    const listed = await Promise.all(this.listers.map((lister) => this.listed(lister)));
    const byId = new Map<string, ModelEntry>();
    for (const model of [...listed.flat(), ...this.configured]) if (!byId.has(model.id)) byId.set(model.id, model);
    return byId.size ? [...byId.values()] : [entry(this.config.defaultModel)];
  }

  private async listed(lister: { client: OpenAI; listing?: Listing }): Promise<ModelEntry[]> {
    if (!lister.listing || Date.now() - lister.listing.at > MODELS_TTL_MS) {
      // An upstream that does not list its models (or is down) lists none, for a minute.
      const data = await lister.client.models.list().then(
        (page) => page.data.map((model) => ({ id: model.id, object: 'model' as const, created: model.created ?? 0, owned_by: model.owned_by ?? 'spool' })),
        () => [],
      );
      lister.listing = { at: Date.now(), data };
    }
    return lister.listing.data;
  }
}

function entry(id: string): ModelEntry {
  return { id, object: 'model', created: 0, owned_by: 'spool' };
}
