import { SpoolError } from './spool-error.js';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'rate_limit_error' | 'api_error';

export interface ErrorEnvelope {
  error: { type: ErrorType; code: string | null; message: string; param: string | null };
}

/** An error meant for the client: status, envelope fields, and optional headers. */
export class ApiError extends SpoolError {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  static invalid(message: string, param: string | null = null, code = 'invalid_value'): ApiError {
    return new ApiError(400, 'invalid_request_error', code, message, param);
  }

  static notFound(what: string, param: string | null = null): ApiError {
    return new ApiError(404, 'invalid_request_error', 'not_found', `No such ${what}`, param);
  }

  static conflict(code: string, message: string): ApiError {
    return new ApiError(409, 'invalid_request_error', code, message);
  }

  static unavailable(message = 'Service temporarily unavailable'): ApiError {
    return new ApiError(503, 'api_error', 'unavailable', message, null, { 'retry-after': '1' });
  }

  toEnvelope(): ErrorEnvelope {
    return { error: { type: this.type, code: this.code, message: this.message, param: this.param } };
  }
}

/** Zod-style path to the contract's `param`: `messages[0].role`. */
export function formatParam(path: ReadonlyArray<PropertyKey>): string | null {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || null;
}
