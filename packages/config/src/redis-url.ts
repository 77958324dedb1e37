/** A Redis Cluster named by `redis+cluster://[user:password@]host:port,host:port,...` (`rediss+cluster://`: TLS). */
export interface ClusterUrl {
  nodes: { host: string; port: number }[];
  tls: boolean;
  username?: string;
  password?: string;
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#@]+)\/?$/i;

/** The cluster a `redis+cluster://` URL names; undefined for any other URL (or a malformed one). */
export function parseClusterUrl(url: string): ClusterUrl | undefined {
  const match = CLUSTER_URL.exec(url.trim());
  if (!match) return undefined;
  const [, scheme, credentials, hosts] = match;
  const nodes: ClusterUrl['nodes'] = [];
  for (const node of hosts.split(',')) {
    const parsed = /^([^:,\s]+):(\d{1,5})$/.exec(node.trim());
    if (!parsed) return undefined;
    nodes.push({ host: parsed[1], port: Number(parsed[2]) });
  }
  const [username, password] = credentials === undefined ? [] : splitCredentials(credentials);
  return { nodes, tls: scheme.toLowerCase() === 'rediss', ...(username && { username }), ...(password && { password }) };
}

/** `user:password` or `:password` or a lone `password` (a token, as redis:// reads it). */
function splitCredentials(credentials: string): [string | undefined, string | undefined] {
  const colon = credentials.indexOf(':');
  if (colon < 0) return [undefined, decodeURIComponent(credentials)];
  return [decodeURIComponent(credentials.slice(0, colon)) || undefined, decodeURIComponent(credentials.slice(colon + 1)) || undefined];
}

/** Whether `url` is one Spool connects with: any URL (redis://, rediss://), or a cluster's. */
export function isRedisUrl(url: string): boolean {
  return parseClusterUrl(url) !== undefined || URL.canParse(url);
}
