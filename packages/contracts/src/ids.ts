import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const POOL_BYTES = 4096;

let pool = Buffer.alloc(0);
let used = 0;

/** A byte from the CSPRNG, taken from a pool so about 160 ids share one `randomBytes` call. */
function randomByte(): number {
  if (used === pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  return pool[used++];
}

/** `job_`, `batch_`, `sess_` followed by 24 random base62 characters (~143 bits). */
export function newId(prefix: 'job' | 'batch' | 'sess', length = 24): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    // 62 * 4 = 248: bytes at or above it would bias the alphabet
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return `${prefix}_${out}`;
}

const ID_PATTERN = /^(job|batch|sess)_[0-9A-Za-z]{20,64}$/;

export function isId(value: string, prefix: 'job' | 'batch' | 'sess'): boolean {
  return ID_PATTERN.test(value) && value.startsWith(`${prefix}_`);
}
