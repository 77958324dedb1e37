import { randomBytes } from 'node:crypto';

export type FilePurpose = 'batch' | 'batch_output';

export interface StoredFile {
  id: string;
  filename: string;
  purpose: FilePurpose;
  createdAt: number;
  content: Buffer;
}

/** OpenAI's file object. */
export function fileObject(file: StoredFile) {
  return {
    id: file.id,
    object: 'file',
    bytes: file.content.length,
    created_at: file.createdAt,
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    expires_at: null,
    status_details: null,
  };
}

export interface FileStoreLimits {
  /** files kept at most; the oldest go first. Default 1,000. */
  maxFiles?: number;
  /** bytes of all files kept at most; the oldest go first. Default 512 MiB. */
  maxBytes?: number;
}

/** An id as OpenAI spells them: `file-...`, `batch_...`. */
export const openAiId = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;

/**
 * The simulator's uploaded and generated files, in memory and bounded: past `maxFiles` or
 * `maxBytes` the oldest are forgotten (a batch holds its own parsed input, so forgetting its
 * file does not break it).
 */
export class FileStore {
  private readonly files = new Map<string, StoredFile>();
  private bytes = 0;
  private readonly maxFiles: number;
  private readonly maxBytes: number;

  constructor(limits: FileStoreLimits = {}) {
    this.maxFiles = limits.maxFiles ?? 1000;
    this.maxBytes = limits.maxBytes ?? 512 * 1024 * 1024;
  }

  add(filename: string, purpose: FilePurpose, content: Buffer): StoredFile {
    const file = { id: openAiId('file-'), filename, purpose, createdAt: Math.floor(Date.now() / 1000), content };
    this.files.set(file.id, file);
    this.bytes += content.length;
    // Map iteration is insertion order: the first key is the oldest file.
    for (const oldest of this.files.keys()) {
      if (this.files.size <= this.maxFiles && this.bytes <= this.maxBytes) break;
      if (oldest !== file.id) this.delete(oldest);
    }
    return file;
  }

  get(id: string): StoredFile | undefined {
    return this.files.get(id);
  }

  delete(id: string): boolean {
    const file = this.files.get(id);
    if (!file) return false;
    this.files.delete(id);
    this.bytes -= file.content.length;
    return true;
  }
}
