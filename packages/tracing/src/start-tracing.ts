import { diag, DiagLogLevel } from '@opentelemetry/api';
import { withTimeout } from '@spool/contracts';
import { diagLogger, type DiagSink } from './diag-logger.js';
import { createProvider } from './provider.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT; unset: tracing is off, and no SDK is loaded */
  endpoint?: string;
  /** OTEL_EXPORTER_OTLP_PROTOCOL, `http/protobuf` by default */
  protocol?: OtlpProtocol;
  /** the resource's `service.name` unless OTEL_SERVICE_NAME says otherwise */
  serviceName: string;
  /** where the SDK's own warnings go (a collector that cannot be reached, say) */
  logger?: DiagSink;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and the SDK's other variables are read from here */
  env?: NodeJS.ProcessEnv;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends the spans still buffered (for up to `timeoutMs`, 5 s: a collector that is down holds no exit up) and stops exporting; safe to call twice. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: async () => undefined };

/**
 * Starts the OpenTelemetry SDK when an OTLP endpoint is set: spans are batched and exported over
 * OTLP/HTTP, the W3C `traceparent` is the propagator, and the context follows async calls. Without
 * one nothing is loaded: the `@opentelemetry/api` calls elsewhere stay no-ops.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.endpoint) return OFF;
  if (options.logger) diag.setLogger(diagLogger(options.logger), DiagLogLevel.WARN);
  const provider = await createProvider({ ...options, endpoint: options.endpoint });
  provider.register();
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown: (timeoutMs = 5000) =>
      (stopped ??= withTimeout(provider.shutdown(), timeoutMs).catch((error: unknown) => options.logger?.warn(`opentelemetry: spans not all sent at exit: ${String(error)}`))),
  };
}
