import type { UpstreamSettings } from './config-file.js';

/** Whether an upstream serves `model` (its `models` name it, or `*`). */
export function servesModel(upstream: UpstreamSettings, model: string): boolean {
  return upstream.models.includes('*') || upstream.models.includes(model);
}

/** The first upstream listed that serves `model`: where a provider batch of that model goes. */
export function upstreamForModel(upstreams: readonly UpstreamSettings[], model: string): UpstreamSettings | undefined {
  return upstreams.find((upstream) => servesModel(upstream, model));
}
