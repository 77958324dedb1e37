export { startTracing, type OtlpProtocol, type Tracing, type TracingOptions } from './start-tracing.js';
export { activeTraceparent, contextOf, inSpan, recordError, spoolTracer, traceLogFields } from './trace-context.js';
