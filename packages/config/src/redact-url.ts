/** The URL with its credentials masked (a password, or a user name standing alone as a token), fit for a log line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    else if (parsed.username) parsed.username = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

// A URL with a user part: scheme://anything-but-space-or-slash@
const URL_WITH_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^\s/@"'<>]+@[^\s"'<>]*/gi;

/** The text with the credentials of every URL in it masked. */
export function redactUrlsIn(text: string): string {
  return text.includes('@') ? text.replace(URL_WITH_CREDENTIALS, redactUrl) : text;
}

/** A copy of plain objects and arrays with every string's URLs redacted; anything else as it is. */
export function redactUrlsDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlsIn(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactUrlsDeep(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactUrlsDeep(item, depth + 1)]));
}
