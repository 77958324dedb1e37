export { startTracing, type OtlpProtocol, type Tracing, type TracingOptions } from './start-tracing.js';
export { contextOf, inSpan, recordError, spoolTracer, traceLogFields } from './trace-context.js';
export { HandedSpan, OffThreadTracer } from './off-thread-tracer.js';
