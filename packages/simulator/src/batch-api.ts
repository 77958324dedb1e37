import type { IncomingMessage } from 'node:http';
import { BatchStore, type Answer, type BatchStoreOptions } from './batches.js';
import { invalidRequest } from './errors.js';
import { FileStore, fileObject, type FileStoreLimits } from './files.js';
import { boundaryOf, parseMultipart } from './multipart.js';
import { BodyTooLargeError, readBody, readBytes } from './request-body.js';

/** The largest upload `POST /v1/files` takes (OpenAI's own limit is 200 MB). */
const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

/** What a route answers: JSON, or a file's bytes. */
export type RouteAnswer = Answer | { status: 200; file: Buffer };

const FILE = /^\/v1\/files\/([^/]+)(\/content)?$/;
const BATCH = /^\/v1\/batches\/([^/]+)(\/cancel)?$/;

const notFound = (what: string, id: string): Answer => ({
  status: 404,
  body: { error: { message: `No ${what} found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } },
});

/** `/v1/files` and `/v1/batches`, in OpenAI's shapes. */
export class BatchApi {
  readonly files: FileStore;
  readonly batches: BatchStore;

  constructor(options: Omit<BatchStoreOptions, 'files'> & FileStoreLimits) {
    this.files = new FileStore(options);
    this.batches = new BatchStore({ ...options, files: this.files });
  }

  /** Answers a `/v1/files` or `/v1/batches` request; undefined for any other path. */
  route(method: string, path: string, query: URLSearchParams, request: IncomingMessage): Promise<RouteAnswer> | undefined {
    if (path === '/v1/files' && method === 'POST') return this.upload(request);
    const file = FILE.exec(path);
    if (file && method === 'GET') return Promise.resolve(this.readFile(file[1], file[2] !== undefined));
    if (file && method === 'DELETE' && !file[2]) {
      const deleted = this.files.delete(file[1]);
      return Promise.resolve(deleted ? { status: 200, body: { id: file[1], object: 'file', deleted: true } } : notFound('file', file[1]));
    }
    if (path === '/v1/batches' && method === 'POST') return this.createBatch(request);
    if (path === '/v1/batches' && method === 'GET') {
      const limit = Math.min(100, Math.max(1, Number(query.get('limit')) || 20));
      return Promise.resolve(this.batches.list(limit, query.get('after') ?? undefined));
    }
    const batch = BATCH.exec(path);
    if (batch && method === 'GET' && !batch[2]) return Promise.resolve(this.batches.get(batch[1]));
    if (batch && method === 'POST' && batch[2]) return Promise.resolve(this.batches.cancel(batch[1]));
    return undefined;
  }

  close(): void {
    this.batches.close();
  }

  private readFile(id: string, content: boolean): RouteAnswer {
    const file = this.files.get(id);
    if (!file) return notFound('file', id);
    return content ? { status: 200, file: file.content } : { status: 200, body: fileObject(file) };
  }

  private async upload(request: IncomingMessage): Promise<Answer> {
    const boundary = boundaryOf(request.headers['content-type']);
    if (!boundary) return { status: 400, body: invalidRequest('The body must be multipart/form-data.', null) };
    let body: Buffer;
    try {
      body = await readBytes(request, MAX_UPLOAD_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return { status: 413, body: invalidRequest(error.message, 'file') };
      throw error;
    }
    const parts = parseMultipart(body, boundary);
    if (!parts) return { status: 400, body: invalidRequest('The multipart body could not be parsed.', null) };
    const purpose = parts.find((part) => part.name === 'purpose')?.data.toString('utf8');
    const file = parts.find((part) => part.name === 'file' && part.filename !== undefined);
    if (purpose !== 'batch') return { status: 400, body: invalidRequest("'purpose' must be 'batch' (the only purpose the simulator keeps files for).", 'purpose') };
    if (!file) return { status: 400, body: invalidRequest("'file' is required.", 'file') };
    return { status: 200, body: fileObject(this.files.add(file.filename ?? 'upload.jsonl', 'batch', Buffer.from(file.data))) };
  }

  private async createBatch(request: IncomingMessage): Promise<Answer> {
    let params: unknown;
    try {
      params = JSON.parse(await readBody(request));
    } catch (error) {
      if (error instanceof BodyTooLargeError) return { status: 413, body: invalidRequest(error.message, null) };
      if (error instanceof SyntaxError) return { status: 400, body: invalidRequest('We could not parse the JSON body of your request.', null) };
      throw error;
    }
    return this.batches.create(params);
  }
}
