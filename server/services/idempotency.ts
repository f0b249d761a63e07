import { and, eq, lte, sql } from 'drizzle-orm'
import { idempotencyKeys } from '../../db/schema'
import { decryptKey, encryptKey, keyDigest } from '../lib/keys'
import { toBase64 } from '../lib/random'
import { nowOf, type ServiceContext } from './context'
import { ServiceError } from './errors'

/**
 * Idempotency keys for creates through the management API (docs/management-api.md): a key is the
 * caller's (per token owner), kept 24 h. The first request claims it with a conditional insert
 * before anything is created — so of concurrent duplicates exactly one creates — and stores its
 * answer when done; the others wait for that answer and replay it. Same key with another request
 * body: 409. At rest: the key as an HMAC digest, the answer (it holds the new license key)
 * AES-256-GCM encrypted with a key derived from API_TOKEN_SECRET.
 */

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000
/** How long a duplicate waits for the first request's answer before answering 409. */
const WAIT_MS = 10_000
const POLL_MS = 25

const secretOf = (ctx: ServiceContext) => {
  const s = ctx.env.API_TOKEN_SECRET
  if (!s || s.length < 32) throw new ServiceError('BAD_REQUEST', 'API_TOKEN_SECRET is not set')
  return s
}
// Separate keys for separate purposes, all derived from API_TOKEN_SECRET.
const digestOf = (ctx: ServiceContext, key: string) => keyDigest(`${secretOf(ctx)}:idempotency-key`, key)
const answerKey = (ctx: ServiceContext) => `${secretOf(ctx)}:idempotent-answer`

/** JSON with object keys sorted: the same body however its members are ordered or spaced. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export async function requestHashOf(route: string, body: unknown): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${route}\n${canonical(body)}`))
  return toBase64(new Uint8Array(digest))
}

export interface StoredAnswer { status: number, body: unknown }

export type Claim =
  | { kind: 'claimed', complete: (answer: StoredAnswer) => Promise<void>, release: () => Promise<void> }
  | { kind: 'replay', answer: StoredAnswer }

/**
 * Claim `key` for this request, or get the answer of the request that claimed it first. Throws
 * CONFLICT when the key was used with another body, or when the first request is still running
 * after a wait.
 */
export async function claimIdempotencyKey(ctx: ServiceContext, userId: string, key: string, requestHash: string): Promise<Claim> {
  const keyDigest = await digestOf(ctx, key)
  const now = nowOf(ctx)
  const mine = and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.keyDigest, keyDigest))
  const [, claimed] = await ctx.db.batch([
    // A key past its 24 h is free again.
    ctx.db.delete(idempotencyKeys).where(and(mine, lte(idempotencyKeys.expiresAt, now))),
    ctx.db.insert(idempotencyKeys).values({ userId, keyDigest, requestHash, status: null, responseCiphertext: null, createdAt: now, expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS) })
      .onConflictDoNothing().returning({ createdAt: idempotencyKeys.createdAt }),
  ])
  if (claimed[0]) {
    return {
      kind: 'claimed',
      complete: async (answer) => {
        const ciphertext = await encryptKey(answerKey(ctx), JSON.stringify(answer.body))
        await ctx.db.update(idempotencyKeys).set({ status: answer.status, responseCiphertext: ciphertext }).where(and(mine, eq(idempotencyKeys.requestHash, requestHash)))
      },
      // A create that failed leaves nothing behind: the key can be used again (e.g. with a corrected body).
      release: async () => {
        await ctx.db.delete(idempotencyKeys).where(and(mine, sql`${idempotencyKeys.status} is null`))
      },
    }
  }
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const [row] = await ctx.db.select().from(idempotencyKeys).where(mine).limit(1)
    if (!row) {
      // The first request failed and released the key meanwhile: try to claim it ourselves.
      return await claimIdempotencyKey(ctx, userId, key, requestHash)
    }
    if (row.requestHash !== requestHash) {
      throw new ServiceError('CONFLICT', 'This Idempotency-Key was used with another request body', { 'Idempotency-Key': ['Used with another request body'] })
    }
    if (row.status !== null && row.responseCiphertext) {
      return { kind: 'replay', answer: { status: row.status, body: JSON.parse(await decryptKey(answerKey(ctx), row.responseCiphertext)) } }
    }
    if (Date.now() >= deadline) throw new ServiceError('CONFLICT', 'A request with this Idempotency-Key is still in progress: retry later')
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** Housekeeping (the maintenance cron): keys past their 24 h. */
export async function pruneIdempotencyKeys(ctx: ServiceContext): Promise<number> {
  const deleted = await ctx.db.delete(idempotencyKeys).where(lte(idempotencyKeys.expiresAt, nowOf(ctx))).returning({ k: idempotencyKeys.keyDigest })
  return deleted.length
}
