import { lookup } from 'node:dns/promises';
import { SpoolError, withTimeout } from '@spool/contracts';
import { classifyAddress, isAllowedRange, parseIpLiteral, type AddressRange, type IpAddress } from './address-range.js';

/** Resolves a host name to every address it has; `dns.lookup` by default (what a connect would use). */
export type ResolveHost = (hostname: string) => Promise<IpAddress[]>;

export const systemResolve: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

export type WebhookUrlErrorCode = 'invalid_url' | 'forbidden_address' | 'unresolvable_host';

/**
 * Why a webhook URL may not be called; `message` is fit for the client and names no resolved
 * address. The root of the package's errors.
 */
export class WebhookUrlError extends SpoolError {
  declare readonly code: WebhookUrlErrorCode;

  constructor(code: WebhookUrlErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  /** DNS can change: a host that resolves badly now may not later. A malformed URL never gets better. */
  get isRetryable(): boolean {
    return this.code !== 'invalid_url';
  }
}

export interface CheckedWebhookUrl {
  url: URL;
  /** every address the host had when checked, all allowed; connect to these, never re-resolve */
  addresses: IpAddress[];
}

export interface CheckWebhookUrlOptions {
  /** SPOOL_WEBHOOK_ALLOW_PRIVATE: also allow loopback, private, link-local and CGNAT addresses */
  allowPrivate: boolean;
  resolve?: ResolveHost;
  /** how long resolving may take, 5 s */
  resolveTimeoutMs?: number;
}

const DESCRIPTIONS: Record<AddressRange, string> = {
  public: 'public',
  unspecified: 'an unspecified',
  loopback: 'a loopback',
  private: 'a private',
  link_local: 'a link-local',
  carrier_nat: 'a carrier-grade NAT',
  metadata: 'a cloud metadata',
  multicast: 'a multicast',
  reserved: 'a reserved',
  invalid: 'an invalid',
};

/**
 * Checks a webhook URL before it is stored and again before each delivery: http(s) only, and
 * every address its host resolves to must be allowed (one bad address refuses the URL, since a
 * client may pick any of them). Returns the checked addresses to connect to.
 */
export async function checkWebhookUrl(raw: string, options: CheckWebhookUrlOptions): Promise<CheckedWebhookUrl> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('invalid_url', 'The webhook URL must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError('invalid_url', `The webhook URL must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  const literal = parseIpLiteral(url.hostname);
  if (literal === 'invalid') throw new WebhookUrlError('invalid_url', 'The webhook URL has an invalid host');
  let addresses: IpAddress[];
  if (literal) {
    addresses = [literal];
  } else {
    try {
      addresses = await withTimeout((options.resolve ?? systemResolve)(url.hostname), options.resolveTimeoutMs ?? 5000);
    } catch (error) {
      throw new WebhookUrlError('unresolvable_host', `The webhook host '${url.hostname}' could not be resolved`, { cause: error });
    }
    if (addresses.length === 0) throw new WebhookUrlError('unresolvable_host', `The webhook host '${url.hostname}' could not be resolved`);
  }
  for (const { address } of addresses) {
    const range = classifyAddress(address) ?? 'invalid';
    if (!isAllowedRange(range, options.allowPrivate)) {
      const verb = literal ? 'is' : 'resolves to';
      throw new WebhookUrlError('forbidden_address', `The webhook host '${url.hostname}' ${verb} ${DESCRIPTIONS[range]} address, which is not allowed`);
    }
  }
  return { url, addresses };
}
