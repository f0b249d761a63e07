import { createDB } from '../../db/client'
import type { AppEnv } from '../env'
import { offRequestContext } from '../services/context'
import { pruneExpiredSessions } from '../services/sessions'

/** Cron task (wrangler.toml [triggers]): housekeeping that never sits on a request path. */
export default defineTask({
  meta: { name: 'maintenance', description: 'Prune expired sessions' },
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
    await settle()
    return { result: `pruned ${pruned} sessions` }
  },
})
