import type { IdGenerator, NodeTracerProvider, Sampler } from '@opentelemetry/sdk-trace-node';
import type { TracingOptions } from './start-tracing.js';

/**
 * A tracer provider that batches spans and exports them over OTLP/HTTP to `options.endpoint`,
 * under `options.serviceName` (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win). The SDK is
 * loaded only now: a process without tracing never pays for its modules.
 */
export async function createProvider(
  options: TracingOptions & { endpoint: string },
  custom: { idGenerator?: IdGenerator; sampler?: Sampler } = {},
): Promise<NodeTracerProvider> {
  const env = options.env ?? process.env;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { resourceFromAttributes, detectResources, envDetector }, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    options.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // The endpoint may come from `.env`, which the SDK does not read; a signal-specific one it reads itself.
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? undefined : `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const exporter = new exporterModule.OTLPTraceExporter(url ? { url } : {});
  const resource = resourceFromAttributes({ 'service.name': options.serviceName }).merge(detectResources({ detectors: [envDetector] }));
  return new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)], ...custom });
}
