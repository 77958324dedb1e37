import { describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from './multipart.js';

describe('multipart/form-data', () => {
  it('reads the boundary of a form-data type only', () => {
    expect(boundaryOf('multipart/form-data; boundary=----abc')).toBe('----abc');
    expect(boundaryOf('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(boundaryOf('application/json')).toBeUndefined();
    expect(boundaryOf(undefined)).toBeUndefined();
  });

  it('parses what fetch sends for a FormData with a field and a file', async () => {
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', new Blob(['{"a":1}\n{"b":2}\n']), 'input.jsonl');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const boundary = boundaryOf(request.headers.get('content-type') ?? undefined)!;
    const parts = parseMultipart(Buffer.from(await request.arrayBuffer()), boundary);
    expect(parts?.map((part) => ({ ...part, data: part.data.toString() }))).toEqual([
      { name: 'purpose', data: 'batch' },
      { name: 'file', filename: 'input.jsonl', data: '{"a":1}\n{"b":2}\n' },
    ]);
  });

  it('refuses a body without its closing delimiter or part headers', () => {
    expect(parseMultipart(Buffer.from('--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nvalue'), 'b')).toBeUndefined();
    expect(parseMultipart(Buffer.from('--b\r\nno headers end\r\n--b--'), 'b')).toBeUndefined();
    expect(parseMultipart(Buffer.from('nothing'), 'b')).toBeUndefined();
  });
});
