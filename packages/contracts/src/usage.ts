import { z } from 'zod';

/** A tenant's spend and load in the current budget month (API.md §12): `GET /v1/usage`, and each entry of `GET /admin/tenants`. */
export const TenantUsage = z.object({
  object: z.literal('usage'),
  tenant: z.string(),
  /** the month's first second (UTC), Unix seconds */
  period_start: z.number().int(),
  /** what its upstream calls cost this month, settled */
  spend_usd: z.number(),
  /** its `budget_usd`; null when it has none */
  budget_usd: z.number().nullable(),
  /** held for calls upstream now, at their worst case */
  reserved_usd: z.number(),
  /** upstream calls billed this month */
  requests: z.number().int(),
  tokens: z.object({ prompt: z.number().int(), completion: z.number().int() }),
  /** its jobs running and queued now, fleet-wide */
  running: z.number().int(),
  queued: z.number().int(),
});
export type TenantUsage = z.infer<typeof TenantUsage>;
