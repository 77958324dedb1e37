const CLUSTER_SCHEME = /^rediss?\+cluster:\/\//i;
const CLUSTER_CREDENTIALS = /^(rediss?\+cluster:\/\/)([^@/]*)@(.*)$/is;

/** The URL with its credentials masked (a password, or a user name standing alone as a token), fit for a log line. */
export function redactUrl(url: string): string {
  // A cluster's host list (`h1:1,h2:2`) is no URL host: its credentials are masked as text.
  const cluster = CLUSTER_CREDENTIALS.exec(url);
  if (cluster) return `${cluster[1]}${cluster[2].includes(':') ? `${cluster[2].split(':')[0]}:***` : '***'}@${cluster[3]}`;
  if (CLUSTER_SCHEME.test(url)) return url;
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

/**
 * Plain objects and arrays with every string's URLs redacted; anything else as it is. A value with
 * nothing to redact is returned itself (most log lines), else a copy of the parts that changed.
 */
export function redactUrlsDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlsIn(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const redacted = redactUrlsDeep(value[index], depth + 1);
      if (redacted !== value[index]) (copy ??= [...value])[index] = redacted;
    }
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    const redacted = redactUrlsDeep(item, depth + 1);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return copy ?? value;
}
