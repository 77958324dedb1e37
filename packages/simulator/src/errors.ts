/** OpenAI's error envelope. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const MESSAGES: Record<number, string> = {
  400: 'Invalid request (simulated).',
  401: 'Incorrect API key provided (simulated).',
  403: 'You are not allowed to sample from this model (simulated).',
  404: 'The model does not exist or you do not have access to it (simulated).',
  409: 'The request conflicted with another request (simulated).',
  429: 'Rate limit reached for requests (simulated).',
  500: 'The server had an error while processing your request. Sorry about that! (simulated)',
  502: 'Bad gateway (simulated).',
  503: 'The engine is currently overloaded, please try again later. (simulated)',
};

const CODES: Record<number, string> = { 429: 'rate_limit_exceeded' };

function typeFor(status: number, code: string | null): string {
  if (code === 'insufficient_quota') return 'insufficient_quota';
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 409:
      return 'api_error';
    case 429:
      return 'requests';
    case 500:
    case 503:
      return 'server_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

/** The body OpenAI would send with `status`, for a `[[sim status=N code=X]]` fault. */
export function faultError(status: number, code?: string): OpenAIErrorBody {
  const errorCode = code ?? CODES[status] ?? null;
  const message =
    errorCode === 'insufficient_quota'
      ? 'You exceeded your current quota, please check your plan and billing details. (simulated)'
      : (MESSAGES[status] ?? `Simulated error with status ${status}.`);
  return { error: { message, type: typeFor(status, errorCode), param: null, code: errorCode } };
}

/** A 400 for a request the simulator cannot serve. */
export function invalidRequest(message: string, param: string | null): OpenAIErrorBody {
  return { error: { message, type: 'invalid_request_error', param, code: null } };
}
