import { createError, getQuery, setResponseHeaders } from 'h3'
import { csvLine } from '../../lib/csv'
import { logFilterSchema } from '../../../shared/schemas/log'
import { requireAdmin, scopeOf } from '../../services/authz'
import { allLogPages, type LogItem } from '../../services/system-log'
import { authorizedRequestContext } from '../../utils/service-context'

const COLUMNS: [string, (e: LogItem) => unknown][] = [
  ['time', e => e.createdAt.toISOString()],
  ['type', e => e.type],
  ['outcome', e => e.outcome],
  ['actor_type', e => e.actorType],
  ['actor_id', e => e.actorId],
  ['actor_email', e => e.actorEmail],
  ['subject_type', e => e.subjectType],
  ['subject_id', e => e.subjectId],
  ['owner_id', e => e.ownerId],
  ['owner_email', e => e.ownerEmail],
  ['ip', e => e.ip],
  ['country', e => e.country],
  ['user_agent', e => e.userAgent],
  ['detail', e => (e.detail ? JSON.stringify(e.detail) : '')],
]

/** GET /api/log/export?group=…&ip=…: the system log of the current filter as CSV, streamed page by page. Admins only. */
export default defineEventHandler(async (event) => {
  const ctx = await authorizedRequestContext(event, requireAdmin)
  const parsed = logFilterSchema.safeParse(getQuery(event))
  if (!parsed.success) {
    throw createError({ statusCode: 400, statusMessage: 'Bad Request', message: parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ') })
  }
  const pages = allLogPages(ctx, scopeOf(ctx.principal), parsed.data, 500)
  const encoder = new TextEncoder()
  let headerSent = false
  const stream = new ReadableStream<Uint8Array>({
    // One page (≤ 500 rows) per pull: the file is never held in memory as a whole.
    async pull(controller) {
      try {
        if (!headerSent) {
          headerSent = true
          controller.enqueue(encoder.encode(csvLine(COLUMNS.map(([name]) => name))))
          return
        }
        const next = await pages.next()
        if (next.done) return controller.close()
        if (next.value.length) controller.enqueue(encoder.encode(next.value.map(e => csvLine(COLUMNS.map(([, get]) => get(e)))).join('')))
      }
      catch (error) {
        console.error('log export failed:', error instanceof Error ? error.message : 'unknown error')
        controller.error(error)
      }
    },
    async cancel() {
      await pages.return(undefined)
    },
  })
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')
  setResponseHeaders(event, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="system-log-${stamp}.csv"`,
    'cache-control': 'no-store',
  })
  return stream
})
