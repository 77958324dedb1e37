import type { Keys, RedisClient } from '@spool/queue';

/** What every worker of the fleet did, as finish.lua counted it when each job ended. */
export interface FleetCounts {
  /** ended jobs by final status */
  jobs: { status: string; count: number }[];
  /** tokens of ended jobs by tenant and kind (`prompt`, `completion`) */
  tokens: { tenant: string; kind: string; count: number }[];
}

/** Reads the fleet's counts from Redis: two hashes, a field per status and per tenant and kind. */
export async function readFleetCounts(redis: RedisClient, keys: Keys): Promise<FleetCounts> {
  const [jobs, tokens] = await Promise.all([redis.hgetall(keys.fleetJobs()), redis.hgetall(keys.fleetTokens())]);
  return {
    jobs: Object.entries(jobs).map(([status, count]) => ({ status, count: Number(count) })),
    tokens: Object.entries(tokens).map(([field, count]) => {
      // `<kind>:<tenant>`: the kind has no colon, a tenant's name might.
      const colon = field.indexOf(':');
      return { kind: field.slice(0, colon), tenant: field.slice(colon + 1), count: Number(count) };
    }),
  };
}
