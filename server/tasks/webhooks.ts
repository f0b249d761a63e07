import { createDB } from '../../db/client'
import type { AppEnv } from '../env'
import { offRequestContext } from '../services/context'
import { announceExpiries } from '../services/expiry'
import { deliverDue } from '../services/webhook-delivery'

/**
 * Every minute (wrangler.toml [triggers]): announce license expiries, then send due webhook
 * deliveries — retries, CLI changes, and anything whose first attempt was lost. Bounded per run.
 */
export default defineTask({
  meta: { name: 'webhooks', description: 'Announce license expiry and deliver due webhooks' },
  async run({ context }) {
    const env = (context as { cloudflare?: { env: AppEnv } }).cloudflare?.env
    if (!env?.DB) return { result: 'no D1 binding' }
    const { ctx, settle } = offRequestContext({
      db: createDB(env.DB),
      env,
      actor: { type: 'system', id: null },
      audit: { ip: '', userAgent: 'cron', country: null },
    })
    const expiry = await announceExpiries(ctx)
    const sent = await deliverDue(ctx)
    await settle()
    return { result: `announced ${expiry.expired} expired, ${expiry.expiring} expiring; sent ${sent} webhooks` }
  },
})
