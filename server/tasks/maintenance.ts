import { createDB } from '../../db/client'
import type { AppEnv } from '../env'
import { pruneAuthAttempts } from '../services/auth-attempts'
import { offRequestContext } from '../services/context'
import { pruneIdempotencyKeys } from '../services/idempotency'
import { pruneExpiredSessions } from '../services/sessions'
import { pruneEvents, retentionDays } from '../services/system-log'
import { pruneDeliveries } from '../services/webhook-delivery'

/** Cron task (wrangler.toml [triggers]): housekeeping that never sits on a request path. */
export default defineTask({
  meta: { name: 'maintenance', description: 'Prune expired sessions and old sign-in attempts, and events and webhook deliveries past the retention' },
  async run({ context }) {
    const env = (context as { cloudflare?: { env: AppEnv } }).cloudflare?.env
    if (!env?.DB) return { result: 'no D1 binding' }
    const { ctx, settle } = offRequestContext({
      db: createDB(env.DB),
      env,
      actor: { type: 'system', id: null },
      audit: { ip: '', userAgent: 'cron', country: null },
    })
    const pruned = await pruneExpiredSessions(ctx)
    // Sign-in and password-check attempts past the longest throttle window (30 days).
    const attempts = await pruneAuthAttempts(ctx)
    // Bounded: 20 statements of 1,000 rows per run (every 5 minutes), so a backlog drains over a few runs.
    const events = await pruneEvents(ctx, { days: retentionDays(env), batchSize: 1000, maxStatements: 20 })
    // Finished webhook deliveries follow the same retention as the system log.
    const deliveries = await pruneDeliveries(ctx, { days: retentionDays(env) })
    // Management API idempotency keys past their 24 h.
    const idempotency = await pruneIdempotencyKeys(ctx)
    await settle()
    return { result: `pruned ${pruned} sessions, ${attempts} sign-in attempts, ${events.deleted} events, ${deliveries} webhook deliveries, ${idempotency} idempotency keys` }
  },
})
