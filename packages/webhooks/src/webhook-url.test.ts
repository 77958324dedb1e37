import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, WebhookUrlError, type ResolveHost } from './webhook-url.js';
import type { IpAddress } from './address-range.js';

// A resolver that answers from a table: no DNS query, no packet leaves this process.
function fakeResolve(table: Record<string, string[]>): ResolveHost {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address): IpAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

const resolve = fakeResolve({
  'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'],
  'internal.example': ['10.1.2.3'],
  'mixed.example': ['93.184.216.34', '127.0.0.1'],
  'metadata.example': ['169.254.169.254'],
  'mapped.example': ['::ffff:192.168.1.1'],
  'empty.example': [],
});

async function refusal(url: string, allowPrivate = false): Promise<WebhookUrlError> {
  const error = await checkWebhookUrl(url, { allowPrivate, resolve }).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error, url).toBeInstanceOf(WebhookUrlError);
  return error as WebhookUrlError;
}

describe('checkWebhookUrl', () => {
  it('accepts an http(s) URL whose every address is public, and returns those addresses to connect to', async () => {
    const checked = await checkWebhookUrl('https://hooks.example/spool?x=1', { allowPrivate: false, resolve });
    expect(checked.url.href).toBe('https://hooks.example/spool?x=1');
    expect(checked.addresses).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    const literal = await checkWebhookUrl('http://93.184.216.34:8080/', { allowPrivate: false, resolve: () => Promise.reject(new Error('not called')) });
    expect(literal.addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('refuses other schemes and malformed URLs', async () => {
    for (const url of ['ftp://hooks.example/', 'file:///etc/passwd', 'gopher://hooks.example/', 'javascript:alert(1)', 'hooks.example/x', '', 'http://', 'http://0x7g.1/']) {
      expect((await refusal(url)).code, url).toBe('invalid_url');
    }
  });

  it('refuses loopback literals in every notation without resolving anything', async () => {
    for (const url of ['http://127.0.0.1:9/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.1/', 'http://127.1/', 'http://0.0.0.0/']) {
      const error = await refusal(url);
      expect(error.code, url).toBe('forbidden_address');
      expect(error.isRetryable).toBe(true);
    }
  });

  it('refuses a name that resolves to a private, metadata or mapped-private address, or to a mix with one', async () => {
    for (const url of ['http://internal.example/', 'http://mixed.example/', 'http://metadata.example/latest/meta-data/', 'https://mapped.example/']) {
      expect((await refusal(url)).code, url).toBe('forbidden_address');
    }
    expect((await refusal('http://metadata.example/')).message).toContain('metadata');
    expect((await refusal('http://internal.example/')).message).not.toContain('10.1.2.3');
  });

  it('refuses a name that does not resolve', async () => {
    expect((await refusal('http://nowhere.example/')).code).toBe('unresolvable_host');
    expect((await refusal('http://empty.example/')).code).toBe('unresolvable_host');
  });

  it('with allowPrivate lets loopback and private addresses through, but never metadata', async () => {
    for (const url of ['http://127.0.0.1:9/', 'http://internal.example/', 'http://[::1]:9/', 'http://mapped.example/']) {
      await expect(checkWebhookUrl(url, { allowPrivate: true, resolve }), url).resolves.toBeTruthy();
    }
    expect((await refusal('http://169.254.169.254/', true)).code).toBe('forbidden_address');
    expect((await refusal('http://metadata.example/', true)).code).toBe('forbidden_address');
  });

  it('resolves localhost with dns.lookup (the hosts file) and refuses it', async () => {
    const error = await checkWebhookUrl('http://localhost:9/', { allowPrivate: false }).catch((thrown: unknown) => thrown);
    expect((error as WebhookUrlError).code).toBe('forbidden_address');
  });
});
