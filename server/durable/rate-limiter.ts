// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an ambient module declaration must be referenced, not imported
/// <reference path="../types/cloudflare-workers.d.ts" />
import type { DurableObjectState } from '@cloudflare/workers-types'
import { DurableObject } from 'cloudflare:workers'

/**
 * The rate limiter: the authority on the public API's limits, one instance per subject —
 * `user:<id>` for a developer's per-window count, `ip:<address>` for the brute-force guard. A
 * Durable Object is single-threaded and unique per name worldwide, so its counts are exact and
 * global (never per location). State lives in memory, with a copy in the object's own storage
 * so an evicted object resumes its windows. Called over Workers RPC by server/lib/rate-limit.ts,
 * which batches counts and caches verdicts per isolate (docs/rate-limits.md).
 */

/** Per developer: a fixed window that opens with the first counted call. */
interface UserWindow { start: number, count: number, refused: number }

export interface WindowState {
  /** Calls counted in the current window (served calls only). */
  count: number
  /** When the current window ends (epoch ms). */
  resetAt: number
}

export interface UserDecision extends WindowState {
  allowed: boolean
  /** The first refusal of this window (recorded once in the system log, not per refused call). */
  firstRefusal: boolean
}

export interface IpState {
  /** NOT_FOUND answers still inside the window. */
  count: number
  /** The IP was already blocked before this call (the call must be refused, not answered). */
  wasBlocked: boolean
  /** Blocked now (after counting this answer, if it was counted). */
  blocked: boolean
  /** This very answer pushed the IP over the threshold. */
  justBlocked: boolean
  /** Blocked: when the block lifts. Otherwise: when the oldest counted answer leaves the window. */
  resetAt: number
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

  private current(windowSeconds: number, now: number): UserWindow {
    const w = this.window
    if (w && now < w.start + windowSeconds * 1000) return w
    return (this.window = { start: now, count: 0, refused: 0 })
  }

  private save() {
    // Not awaited, allowUnconfirmed: answers never wait for the disk.
    void this.ctx.storage.put(USER_KEY, this.window, { allowUnconfirmed: true })
  }

  /** Count `n` calls that were already served (a batch from one isolate). */
  record(windowSeconds: number, n: number): WindowState {
    const w = this.current(windowSeconds, Date.now())
    w.count += n
    this.save()
    return { count: w.count, resetAt: w.start + windowSeconds * 1000 }
  }

  /**
   * Decide one call exactly: first count `served` calls the isolate already answered, then admit
   * the call if the window has room. Refused calls do not count.
   */
  hit(limit: number, windowSeconds: number, served: number): UserDecision {
    const w = this.current(windowSeconds, Date.now())
    w.count += served
    const allowed = w.count < limit
    if (allowed) w.count++
    else w.refused++
    this.save()
    return { allowed, firstRefusal: !allowed && w.refused === 1, count: w.count, resetAt: w.start + windowSeconds * 1000 }
  }

  /**
   * A NOT_FOUND answer for this IP, asked before it is sent: an IP already blocked is refused
   * (and not counted); otherwise the answer counts, and the one that exceeds `max` starts the block.
   */
  recordNotFound(max: number, windowSeconds: number): IpState {
    const now = Date.now()
    const windowMs = windowSeconds * 1000
    this.notFound = this.notFound.filter(t => t > now - windowMs)
    const wasBlocked = this.notFound.length > max
    if (!wasBlocked) {
      this.notFound.push(now)
      void this.ctx.storage.put(IP_KEY, this.notFound, { allowUnconfirmed: true })
    }
    const count = this.notFound.length
    const blocked = count > max
    return { count, wasBlocked, blocked, justBlocked: blocked && !wasBlocked, resetAt: this.notFound[0]! + windowMs }
  }
}
