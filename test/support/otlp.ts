import type { Received } from './receiver.js';

/** A span as the OTLP/HTTP JSON exporter sent it, flattened. */
export interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  statusCode: number;
  statusMessage: string | undefined;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpValue[] } };
type OtlpAttribute = { key: string; value: OtlpValue };

function valueOf(value: OtlpValue): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
}

const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, valueOf(value)]));

/** Every span in the export requests received so far. */
export function spansIn(requests: Received[]): ExportedSpan[] {
  const spans: ExportedSpan[] = [];
  for (const request of requests) {
    for (const resourceSpans of JSON.parse(request.body).resourceSpans ?? []) {
      const service = attributesOf(resourceSpans.resource?.attributes)['service.name'] as string;
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            startMs: Number(BigInt(span.startTimeUnixNano) / 1_000_000n),
            endMs: Number(BigInt(span.endTimeUnixNano) / 1_000_000n),
            statusCode: span.status?.code ?? 0,
            statusMessage: span.status?.message || undefined,
            attributes: attributesOf(span.attributes),
          });
        }
      }
    }
  }
  return spans;
}
