import { and, eq, sql } from 'drizzle-orm'
import { apiTokens, eventGroup, events, licenses, products, webhookEndpoints } from '../../db/schema'
import type { ServiceContext } from './context'

export const ONBOARDING_STEPS = ['product', 'license', 'verify', 'webhook', 'apiToken'] as const
export type OnboardingStep = (typeof ONBOARDING_STEPS)[number]

/**
 * The Overview's getting-started checklist for one owner (their own data only, admin or not), each
 * step ticked from real data in one batch of indexed `LIMIT 1` reads:
 * - product / license / webhook: they have one;
 * - verify: their keys were called on the public API (a validation event);
 * - apiToken: they have created an API token (a row in api_tokens, revoked ones included).
 * Events are pruned after EVENT_RETENTION_DAYS: the verify step, ticked by an event, can untick after
 * that, which only matters to an account whose keys have not been called for that long.
 */
export async function onboardingProgress(ctx: ServiceContext, ownerId: string): Promise<Record<OnboardingStep, boolean>> {
  const one = { one: sql<number>`1` }
  const [product, license, verify, webhook, apiToken] = await ctx.db.batch([
    ctx.db.select(one).from(products).where(eq(products.ownerId, ownerId)).limit(1),
    ctx.db.select(one).from(licenses).where(eq(licenses.ownerId, ownerId)).limit(1),
    ctx.db.select(one).from(events).where(and(eq(events.ownerId, ownerId), sql`${eventGroup} = 'validations'`)).limit(1),
    ctx.db.select(one).from(webhookEndpoints).where(eq(webhookEndpoints.ownerId, ownerId)).limit(1),
    ctx.db.select(one).from(apiTokens).where(eq(apiTokens.userId, ownerId)).limit(1),
  ])
  return { product: product.length > 0, license: license.length > 0, verify: verify.length > 0, webhook: webhook.length > 0, apiToken: apiToken.length > 0 }
}
