import type { Resource } from '@opentelemetry/resources';
import type { NodeTracerProvider, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { TracingOptions } from './start-tracing.js';

/**
 * Where a process's spans go: the SDK's batch processor (`OTEL_BSP_*`) exporting over OTLP/HTTP to
 * `options.endpoint`, under a resource named `options.serviceName` (OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES win). The SDK is loaded only now: a process without tracing never pays
 * for its modules.
 */
export async function createExport(options: TracingOptions & { endpoint: string }): Promise<{ resource: Resource; processor: SpanProcessor }> {
  const env = options.env ?? process.env;
  const [{ BatchSpanProcessor }, { resourceFromAttributes, detectResources, envDetector }, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    options.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // The endpoint may come from `.env`, which the SDK does not read; a signal-specific one it reads itself.
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? undefined : `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const exporter = new exporterModule.OTLPTraceExporter(url ? { url } : {});
  const resource = resourceFromAttributes({ 'service.name': options.serviceName }).merge(detectResources({ detectors: [envDetector] }));
  return { resource, processor: new BatchSpanProcessor(exporter) };
}

/** A tracer provider exporting as `createExport` says. */
export async function createProvider(options: TracingOptions & { endpoint: string }): Promise<NodeTracerProvider> {
  const [{ NodeTracerProvider }, { resource, processor }] = await Promise.all([import('@opentelemetry/sdk-trace-node'), createExport(options)]);
  return new NodeTracerProvider({ resource, spanProcessors: [processor] });
}
