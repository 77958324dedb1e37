/**
 * The `openai` SDK's options for an upstream's credentials: its `api_key` as a bearer token, and
 * its extra `headers` (which may carry their own `Authorization`, or Azure's `api-key`). Without
 * an `api_key` no `Authorization` is sent at all (the SDK insists on a key, so a stand-in is given
 * and its header cleared): a made-up bearer token beside Azure's key may be tried, and refused.
 */
export function sdkAuth(apiKey: string | undefined, headers: Record<string, string> = {}): { apiKey: string; defaultHeaders: Record<string, string | null> } {
  if (apiKey !== undefined) return { apiKey, defaultHeaders: headers };
  return { apiKey: 'spool-no-key', defaultHeaders: { Authorization: null, ...headers } };
}
