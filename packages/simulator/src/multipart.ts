/** One part of a `multipart/form-data` body. */
export interface FormPart {
  name: string;
  /** set for a file field */
  filename?: string;
  data: Buffer;
}

/** The boundary of a `multipart/form-data` content type, or undefined for any other type. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** The parts of a `multipart/form-data` body (RFC 7578); undefined when it is malformed. */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let start = body.indexOf(delimiter);
  if (start < 0) return undefined;
  for (;;) {
    start += delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return parts;
    if (body.subarray(start, start + 2).toString() !== '\r\n') return undefined;
    start += 2;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), start);
    if (next < 0) return undefined;
    const headerEnd = body.indexOf(HEADER_END, start);
    if (headerEnd < 0 || headerEnd > next) return undefined;
    const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(body.subarray(start, headerEnd).toString('utf8'))?.[1] ?? '';
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) return undefined;
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    parts.push({ name, ...(filename !== undefined && { filename }), data: body.subarray(headerEnd + HEADER_END.length, next) });
    start = next + 2;
  }
}
