import { and, eq, exists, inArray, sql } from 'drizzle-orm'
import { webhookAttempts, webhookDeliveries, webhookEndpoints, type WebhookDelivery, type WebhookEndpoint } from '../../db/schema'
import type { AppEnv } from '../env'
import { decryptKey } from '../lib/keys'
import { newId } from '../lib/random'
import { insertRowWhere } from '../lib/insert-where'
import { targetRules, webhookTargetProblem } from '../lib/webhook-target'
import { webhookHeaders } from '../lib/webhook-signing'
import { nowOf, type ServiceContext } from './context'

/**
 * Sending the outbox (docs/webhooks.md). At-least-once: a due delivery is CLAIMED by one UPDATE that
 * pushes its next_attempt_at forward by a lease and counts the attempt, THEN sent, THEN its result
 * recorded. A crash after the claim leaves the lease to expire and the next cron run sends it again
 * with the same webhook-id; a result recorded after someone else re-claimed it is not applied.
 */

/** Roughly the Standard Webhooks schedule after the immediate first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h — giving up after ≈ 2.8 days. */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000]
/** Messages sent at once (Workers allow 6 simultaneous outgoing connections). */
const CHUNK = 6
const RESPONSE_EXCERPT_BYTES = 1024
/** What an attempt that got no HTTP answer records (whatever the network error or timeout). */
export const NO_ANSWER = 'No answer: the connection failed or timed out'
/** Consecutive failed attempts after which an endpoint shows as unhealthy. */
export const UNHEALTHY_AFTER = 3

export function retrySchedule(env: Pick<AppEnv, 'WEBHOOK_RETRY_SCHEDULE'>): number[] {
  const parts = (env.WEBHOOK_RETRY_SCHEDULE ?? '').split(',').map(s => s.trim()).filter(s => /^\d+$/.test(s)).map(Number)
  return parts.length ? parts : DEFAULT_RETRY_SCHEDULE
}

export function timeoutMs(env: Pick<AppEnv, 'WEBHOOK_TIMEOUT_SECONDS'>): number {
  const n = Number(env.WEBHOOK_TIMEOUT_SECONDS)
  return (Number.isFinite(n) && n > 0 ? Math.min(n, 30) : 10) * 1000
}

/** A claimed chunk stays leased while it is sent: longer than the timeout, so no one else sends it meanwhile. */
const leaseMs = (env: AppEnv) => timeoutMs(env) + 30_000

/** ±20 % jitter, so endpoints that failed together do not retry together. */
const jitter = (seconds: number) => Math.round(seconds * 1000 * (0.8 + Math.random() * 0.4))

/** Retry-After (seconds or an HTTP date) in ms from now, capped at a day. */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (!header) return null
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) * 1000 : Date.parse(header) - now.getTime()
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 86_400_000) : null
}

async function decryptSecret(env: AppEnv, ciphertext: string): Promise<string> {
  try {
    return await decryptKey(env.KEY_ENC_SECRET, ciphertext)
  }
  catch (error) {
    if (env.KEY_ENC_SECRET_PREVIOUS) return await decryptKey(env.KEY_ENC_SECRET_PREVIOUS, ciphertext)
    throw error
  }
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
export async function signingSecrets(env: AppEnv, ep: WebhookEndpoint, now: Date): Promise<string[]> {
  const out = [await decryptSecret(env, ep.secretCiphertext)]
  if (ep.previousSecretCiphertext && ep.previousSecretExpiresAt && ep.previousSecretExpiresAt.getTime() > now.getTime()) {
    out.push(await decryptSecret(env, ep.previousSecretCiphertext))
  }
  return out
}

export interface AttemptResult {
  ok: boolean
  statusCode: number | null
  latencyMs: number | null
  response: string
  retryAfterMs: number | null
}

async function readExcerpt(res: Response): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < RESPONSE_EXCERPT_BYTES) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  }
  finally {
    reader.cancel().catch(() => {})
  }
  const all = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    all.set(c, at)
    at += c.byteLength
  }
  return new TextDecoder().decode(all.slice(0, RESPONSE_EXCERPT_BYTES))
}

/** One HTTP attempt: signed POST, no redirects followed, a timeout; 2xx = success. */
export async function sendOnce(ctx: ServiceContext, ep: WebhookEndpoint, d: Pick<WebhookDelivery, 'id' | 'payload'>): Promise<AttemptResult> {
  const now = nowOf(ctx)
  // Re-checked before every attempt: the rules may have tightened, and a name may now resolve elsewhere.
  const problem = await webhookTargetProblem(ep.url, targetRules(ctx.env))
  if (problem) return { ok: false, statusCode: null, latencyMs: null, response: `Not sent: ${problem}`, retryAfterMs: null }
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'LicenseManager-Webhooks/1.0',
    ...(await webhookHeaders(await signingSecrets(ctx.env, ep, now), d.id, Math.floor(Date.now() / 1000), d.payload)),
  }
  const started = Date.now()
  const timeout = timeoutMs(ctx.env)
  try {
    // redirect: manual — following a redirect could lead to an address the URL check refused.
    const res = await fetch(ep.url, { method: 'POST', headers, body: d.payload, redirect: 'manual', signal: AbortSignal.timeout(timeout) })
    const latencyMs = Date.now() - started
    const response = await readExcerpt(res).catch(() => '')
    const ok = res.status >= 200 && res.status < 300
    const retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), new Date()) : null
    return { ok, statusCode: res.status, latencyMs, response, retryAfterMs: retryAfter }
  }
  catch {
    // Refused, reset, unresolvable or timed out: one answer, without the time it took, so the
    // delivery log cannot be used to tell closed ports from filtered ones (a port scanner).
    return { ok: false, statusCode: null, latencyMs: null, response: NO_ANSWER, retryAfterMs: null }
  }
}

/**
 * Record an attempt's outcome: delivery state, the attempt log row and the endpoint's health, in one
 * batch — all three only while the claim is still ours (exported for the test of exactly that).
 */
export async function recordAttempt(ctx: ServiceContext, d: WebhookDelivery, ep: WebhookEndpoint, r: AttemptResult) {
  const now = nowOf(ctx)
  const schedule = retrySchedule(ctx.env)
  const gone = r.statusCode === 410
  let next: Date | null = null
  let status: WebhookDelivery['status'] = 'succeeded'
  if (!r.ok) {
    if (d.retryStep < schedule.length) {
      const wait = Math.max(jitter(schedule[d.retryStep]!), r.retryAfterMs ?? 0)
      next = new Date(now.getTime() + wait)
      status = 'pending'
    }
    else {
      status = 'failed'
    }
  }
  const attempt = { id: newId('wha'), deliveryId: d.id, attemptedAt: d.lastAttemptAt ?? now, statusCode: r.statusCode, latencyMs: r.latencyMs, response: r.response, succeeded: r.ok }
  // Only if nobody re-claimed it meanwhile (the lease expired): the attempt count is the claim token.
  // The attempt row and the endpoint's health are written on that same condition.
  const claim = and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.attempts, d.attempts))
  const stillOurs = exists(ctx.db.select({ one: sql`1` }).from(webhookDeliveries).where(claim))
  await ctx.db.batch([
    insertRowWhere(ctx.db, webhookAttempts, attempt, stillOurs),
    ctx.db.update(webhookEndpoints).set(r.ok
      ? { consecutiveFailures: 0, lastSuccessAt: now }
      : {
          consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1`,
          lastFailureAt: now,
          ...(gone ? { enabled: false, disabledReason: 'The receiver answered 410 Gone', updatedAt: now } : {}),
        }).where(and(eq(webhookEndpoints.id, ep.id), stillOurs)),
    ctx.db.update(webhookDeliveries).set({
      status,
      nextAttemptAt: next,
      retryStep: r.ok ? d.retryStep : d.retryStep + 1,
      lastStatusCode: r.statusCode,
      lastLatencyMs: r.latencyMs,
      lastResponse: r.response,
      updatedAt: now,
    }).where(claim),
  ])
  return { status, nextAttemptAt: next }
}

/**
 * Claim up to CHUNK due deliveries (optionally only `ids`) of enabled endpoints: one UPDATE, so two
 * runs never claim the same one. The claim counts the attempt and leases the row.
 */
async function claim(ctx: ServiceContext, ids?: string[]) {
  const now = nowOf(ctx)
  const due = sql`select d.id from ${webhookDeliveries} d join ${webhookEndpoints} e on e.id = d.endpoint_id
    where d.status = 'pending' and d.next_attempt_at <= ${now.getTime()} and e.enabled = 1
    ${ids ? sql`and d.id in (${sql.join(ids.map(i => sql`${i}`), sql`, `)})` : sql``}
    order by d.next_attempt_at limit ${sql.raw(String(CHUNK))}`
  return await ctx.db.update(webhookDeliveries)
    .set({ nextAttemptAt: new Date(now.getTime() + leaseMs(ctx.env)), attempts: sql`${webhookDeliveries.attempts} + 1`, lastAttemptAt: now, updatedAt: now })
    .where(and(sql`${webhookDeliveries.id} in (${due})`, eq(webhookDeliveries.status, 'pending')))
    .returning()
}

async function sendClaimed(ctx: ServiceContext, claimed: WebhookDelivery[]) {
  if (!claimed.length) return 0
  const endpoints = await ctx.db.select().from(webhookEndpoints).where(inArray(webhookEndpoints.id, [...new Set(claimed.map(d => d.endpointId))]))
  const byId = new Map(endpoints.map(e => [e.id, e]))
  await Promise.all(claimed.map(async (d) => {
    const ep = byId.get(d.endpointId)
    if (!ep) return // deleted meanwhile: its deliveries went with it
    try {
      await recordAttempt(ctx, d, ep, await sendOnce(ctx, ep, d))
    }
    catch (error) {
      // Not recorded: the lease expires and the next run sends it again (at-least-once).
      console.error('webhook delivery failed to record:', d.id, error instanceof Error ? error.message : 'unknown')
    }
  }))
  return claimed.length
}

/** The first attempt of just-committed messages (waitUntil after a change). */
export async function deliverMessages(ctx: ServiceContext, ids: string[]) {
  let sent = 0
  for (let i = 0; i < ids.length; i += CHUNK) sent += await sendClaimed(ctx, await claim(ctx, ids.slice(i, i + CHUNK)))
  return sent
}

/** The cron's work: due deliveries in chunks, bounded per run (by count and by time). */
export async function deliverDue(ctx: ServiceContext, opts: { maxChunks?: number, budgetMs?: number } = {}) {
  const maxChunks = opts.maxChunks ?? 10
  const deadline = Date.now() + (opts.budgetMs ?? 40_000)
  let sent = 0
  for (let i = 0; i < maxChunks && Date.now() < deadline; i++) {
    const n = await sendClaimed(ctx, await claim(ctx))
    sent += n
    if (n < CHUNK) break
  }
  return sent
}

/** Finished deliveries (and their attempts) older than `days`, in bounded batches; pending ones are kept. */
export async function pruneDeliveries(ctx: ServiceContext, opts: { days: number, batchSize?: number, maxStatements?: number }) {
  const cutoff = nowOf(ctx).getTime() - opts.days * 86_400_000
  const batchSize = opts.batchSize ?? 500
  let deleted = 0
  for (let i = 0; i < (opts.maxStatements ?? 10); i++) {
    const old = ctx.db.select({ id: webhookDeliveries.id }).from(webhookDeliveries)
      .where(and(sql`${webhookDeliveries.createdAt} < ${cutoff}`, sql`${webhookDeliveries.status} <> 'pending'`)).limit(batchSize)
    const gone = await ctx.db.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, old)).returning({ id: webhookDeliveries.id })
    deleted += gone.length
    if (gone.length < batchSize) break
  }
  return deleted
}
