import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { redactUrl, redactUrlsIn } from './redact-url.js';
import { parseClusterUrl } from './redis-url.js';

describe('a Redis Cluster URL (redis+cluster://)', () => {
  it('names the seed nodes, TLS for rediss+cluster://, and the credentials decoded', () => {
    expect(parseClusterUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001')).toEqual({
      nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }],
      tls: false,
    });
    expect(parseClusterUrl('rediss+cluster://app:p%40ss@a.example:6379,b.example:6380')).toEqual({
      nodes: [{ host: 'a.example', port: 6379 }, { host: 'b.example', port: 6380 }],
      tls: true,
      username: 'app',
      password: 'p@ss',
    });
    expect(parseClusterUrl('redis+cluster://:token@h:1')).toMatchObject({ password: 'token' });
    expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeUndefined();
    expect(parseClusterUrl('redis+cluster://h')).toBeUndefined();
  });

  it('is a REDIS_URL the configuration takes, and a malformed one it refuses', () => {
    expect(loadConfig({ REDIS_URL: 'redis+cluster://10.0.0.1:6379,10.0.0.2:6379' }).redisUrl).toBe('redis+cluster://10.0.0.1:6379,10.0.0.2:6379');
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  });

  it('has its password masked in logs, and stays whole without one', () => {
    expect(redactUrl('rediss+cluster://app:s3cret@a:1,b:2')).toBe('rediss+cluster://app:***@a:1,b:2');
    expect(redactUrl('redis+cluster://s3cret@a:1,b:2')).toBe('redis+cluster://***@a:1,b:2');
    expect(redactUrl('redis+cluster://a:1,b:2')).toBe('redis+cluster://a:1,b:2');
    expect(redactUrlsIn('connecting to redis+cluster://:s3cret@a:1,b:2 now')).toBe('connecting to redis+cluster://:***@a:1,b:2 now');
  });
});
