// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an ambient module declaration must be referenced, not imported
/// <reference path="../types/cloudflare-workers.d.ts" />
import type { DurableObjectState } from '@cloudflare/workers-types'
import { DurableObject } from 'cloudflare:workers'

/**
 * The rate limiter: one Durable Object instance per subject — `user:<id>` for a developer's
 * per-minute limit, `ip:<address>` for the brute-force guard. A Durable Object is single-threaded
 * and globally unique per name, so counts are exact (never approximate, never per-location), and
 * the state lives in the object's memory with a copy in its own storage (docs/rate-limits.md).
 *
 * Methods are called over Workers RPC from the public API handler (server/public-api/).
 */

/** Per developer: a fixed window that opens with the first counted call. */
interface UserWindow { start: number, count: number, refused: number }

export interface LimitState {
  /** The policy: `limit` units per `windowSeconds`. */
  limit: number
  windowSeconds: number
  remaining: number
  /** Milliseconds until the window resets (or the block lifts). */
  resetMs: number
}

export interface UserDecision extends LimitState {
  allowed: boolean
  /** The first refusal of this window (recorded once in the system log, not per refused call). */
  firstRefusal: boolean
}

export interface IpState extends LimitState {
  blocked: boolean
  /** This very NOT_FOUND answer pushed the IP over the threshold. */
  justBlocked: boolean
}

const USER_KEY = 'user-window'
const IP_KEY = 'not-found'

export class RateLimiter extends DurableObject {
  private window: UserWindow | null = null
  /** Times (ms) of this IP's NOT_FOUND answers, oldest first; at most max+1 kept. */
  private notFound: number[] = []

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never)
    void ctx.blockConcurrencyWhile(async () => {
      this.window = (await ctx.storage.get<UserWindow>(USER_KEY)) ?? null
      this.notFound = (await ctx.storage.get<number[]>(IP_KEY)) ?? []
    })
  }

  /**
   * Count one call against a developer's limit. Refused calls do not count. The window opens
   * with the first call after the previous one has ended and lasts `windowSeconds`.
   */
  hit(limit: number, windowSeconds: number): UserDecision {
    const now = Date.now()
    const windowMs = windowSeconds * 1000
    let w = this.window
    if (!w || now >= w.start + windowMs) w = { start: now, count: 0, refused: 0 }
    const allowed = w.count < limit
    if (allowed) w.count++
    else w.refused++
    this.window = w
    // Memory is the truth while the object lives; storage survives an eviction. Not awaited, and
    // allowUnconfirmed: the answer does not wait for the disk.
    void this.ctx.storage.put(USER_KEY, w, { allowUnconfirmed: true })
    return {
      allowed,
      firstRefusal: !allowed && w.refused === 1,
      limit,
      windowSeconds,
      remaining: Math.max(0, limit - w.count),
      resetMs: w.start + windowMs - now,
    }
  }

  private ipState(max: number, windowSeconds: number, now: number): IpState {
    const windowMs = windowSeconds * 1000
    this.notFound = this.notFound.filter(t => t > now - windowMs)
    const n = this.notFound.length
    const blocked = n > max
    return {
      blocked,
      justBlocked: false,
      limit: max,
      windowSeconds,
      remaining: Math.max(0, max - n),
      // Blocked: until the oldest answer leaves the window. Otherwise: when the oldest one would.
      resetMs: n > 0 ? this.notFound[0]! + windowMs - now : windowMs,
    }
  }

  /** Brute-force guard, asked before a request body is read: is this IP blocked? (No write.) */
  check(max: number, windowSeconds: number): IpState {
    return this.ipState(max, windowSeconds, Date.now())
  }

  /** Record one NOT_FOUND answer for this IP; the answer that exceeds `max` starts the block. */
  recordNotFound(max: number, windowSeconds: number): IpState {
    const now = Date.now()
    const before = this.ipState(max, windowSeconds, now)
    this.notFound.push(now)
    if (this.notFound.length > max + 1) this.notFound.splice(0, this.notFound.length - (max + 1))
    void this.ctx.storage.put(IP_KEY, this.notFound, { allowUnconfirmed: true })
    const after = this.ipState(max, windowSeconds, now)
    return { ...after, justBlocked: !before.blocked && after.blocked }
  }
}
