// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an ambient module declaration must be referenced, not imported
/// <reference path="../types/cloudflare-workers.d.ts" />
import { DurableObject } from 'cloudflare:workers'

/**
 * The rate limiter: the authority on the public API's limits. Subjects are spread over a fixed
 * set of instances by a hash — `users:<n>` hold developers' windows, `ips:<n>` the brute-force
 * guard's IPs — so no object is created per developer or per client IP, and one RPC can carry
 * the counts of many developers. Each subject lives in exactly one instance; a Durable Object is
 * single-threaded and unique per name worldwide, so its counts are exact and global (never per
 * location). State lives in memory, with a copy in the object's SQLite storage (synchronous KV)
 * so an evicted object resumes its windows. The copy is written behind: changed subjects are saved
 * together at most once per PERSIST_MS, not on every call — each storage write is a commit (an
 * fsync locally, a billed row in production) and, while it is pending, holds the object's answers
 * (the output gate), so writing through put one on the path of every NOT_FOUND answer and two
 * commits per batch of counts (docs/rate-limits.md, docs/performance.md). Called over Workers RPC by server/lib/rate-limit.ts,
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

/** One key's recent client IPs (license.anomaly): IP → last seen (ms), and when it was last flagged. */
interface LicenseSightings {
  ips: Record<string, number>
  flaggedAt: number | null
  /** Entries in `ips`, and a lower bound of their times (recomputed when missing). */
  n?: number
  oldest?: number
}

/** A license whose key was just used from more distinct IPs than allowed (the caller records license.anomaly). */
export interface Anomaly { licenseId: string, ownerId: string, distinctIps: number }

/** IPs kept per license: enough to tell "more than the threshold" and show a count. */
const IPS_KEPT = 1000

/** Subjects kept in memory before expired ones are swept (from memory and storage). */
const SWEEP_AT = 10_000

/** How long a changed subject may stay unsaved (a crash loses at most this much of counting). */
export const PERSIST_MS = 5000

export class RateLimiter extends DurableObject {
  private users = new Map<string, UserWindow>()
  /** IP → times (ms) of its NOT_FOUND answers, oldest first; at most max+1 kept. */
  private ips = new Map<string, number[]>()
  /** License → its recent client IPs (license.anomaly). */
  private sightingsOf = new Map<string, LicenseSightings>()
  /** Storage keys changed since the last save: the value to write, or undefined to delete. */
  private unsaved = new Map<string, unknown>()
  private saveTimer: ReturnType<typeof setTimeout> | null = null

  /** The stored copy of a key, as it will be once the unsaved changes are written. */
  private stored<T>(key: string): T | undefined {
    return this.unsaved.has(key) ? this.unsaved.get(key) as T | undefined : this.ctx.storage.kv.get<T>(key)
  }

  private put(key: string, value: unknown) {
    this.unsaved.set(key, value)
    this.saveSoon()
  }

  private drop(key: string) {
    this.unsaved.set(key, undefined)
    this.saveSoon()
  }

  private saveSoon() {
    this.saveTimer ??= setTimeout(() => this.save(), PERSIST_MS)
  }

  /** Write what is unsaved now (the self-hosted server's graceful shutdown: scripts/lib/selfhost-entry.mjs). */
  saveNow(): number {
    const n = this.unsaved.size
    if (this.saveTimer) clearTimeout(this.saveTimer)
    this.save()
    return n
  }

  /** Write every changed subject in one storage transaction (one commit). */
  private save() {
    this.saveTimer = null
    if (this.unsaved.size === 0) return
    const changes = [...this.unsaved]
    this.unsaved.clear()
    this.ctx.storage.transactionSync(() => {
      for (const [key, value] of changes) {
        if (value === undefined) this.ctx.storage.kv.delete(key)
        else this.ctx.storage.kv.put(key, value)
      }
    })
  }

  /**
   * Client IPs that used licenses' keys (a batch from one isolate, after the responses): each
   * license's distinct IPs within the trailing `windowMs`; one that exceeds `max` is returned, at
   * most once per `flagEveryMs` (the caller writes license.anomaly). `at` is the caller's clock.
   */
  sightings(max: number, windowMs: number, flagEveryMs: number, batch: [licenseId: string, ownerId: string, ip: string, at: number][]): Anomaly[] {
    const out: Anomaly[] = []
    if (this.sightingsOf.size >= SWEEP_AT) {
      const now = Math.max(...batch.map(b => b[3]))
      for (const [id, s] of this.sightingsOf) {
        if (Object.values(s.ips).every(t => t <= now - windowMs) && (s.flaggedAt === null || s.flaggedAt <= now - flagEveryMs)) {
          this.sightingsOf.delete(id)
          this.drop(`a:${id}`)
        }
      }
    }
    const byLicense = new Map<string, { ownerId: string, seen: [string, number][] }>()
    for (const [licenseId, ownerId, ip, at] of batch) {
      let l = byLicense.get(licenseId)
      if (!l) byLicense.set(licenseId, (l = { ownerId, seen: [] }))
      l.seen.push([ip, at])
    }
    // Per license, work in proportion to its new sightings: the IP map is pruned only when an entry
    // may have left the window or it is over its cap (then down to 90 % of it, so the next ones are free).
    for (const [licenseId, { ownerId, seen }] of byLicense) {
      const s = this.sightingsOf.get(licenseId) ?? this.stored<LicenseSightings>(`a:${licenseId}`) ?? { ips: {}, flaggedAt: null }
      this.sightingsOf.set(licenseId, s)
      if (s.n === undefined || s.oldest === undefined) {
        const times = Object.values(s.ips)
        s.n = times.length
        s.oldest = times.length ? Math.min(...times) : Infinity
      }
      const latest = Math.max(...seen.map(([, at]) => at))
      const prune = (cap: number) => {
        let entries = Object.entries(s.ips).filter(([, t]) => t > latest - windowMs)
        if (entries.length > cap) entries = entries.sort((a, b) => b[1] - a[1]).slice(0, cap)
        s.ips = Object.fromEntries(entries)
        s.n = entries.length
        s.oldest = entries.length ? Math.min(...entries.map(e => e[1])) : Infinity
      }
      if (s.oldest <= latest - windowMs || s.n + seen.length > IPS_KEPT) prune(Math.floor(IPS_KEPT * 0.9))
      for (const [ip, at] of seen) {
        const before = s.ips[ip]
        if (before === undefined) {
          s.n!++
          s.oldest = Math.min(s.oldest!, at)
        }
        if (before === undefined || at > before) s.ips[ip] = at
        if (s.n! > max && (s.flaggedAt === null || at - s.flaggedAt >= flagEveryMs)) {
          s.flaggedAt = at
          out.push({ licenseId, ownerId, distinctIps: s.n! })
        }
      }
      if (s.n! > IPS_KEPT) prune(IPS_KEPT)
      this.put(`a:${licenseId}`, s)
    }
    return out
  }

  private window(owner: string, windowSeconds: number, now: number): UserWindow {
    let w = this.users.get(owner) ?? this.stored<UserWindow>(`u:${owner}`)
    if (!w || now >= w.start + windowSeconds * 1000) w = { start: now, count: 0, refused: 0 }
    if (this.users.size >= SWEEP_AT) this.sweep(now, windowSeconds)
    this.users.set(owner, w)
    return w
  }

  private sweep(now: number, windowSeconds: number) {
    for (const [owner, w] of this.users) {
      if (now >= w.start + windowSeconds * 1000) {
        this.users.delete(owner)
        this.drop(`u:${owner}`)
      }
    }
  }

  /** Count calls that were already served (a batch from one isolate): `[owner, n]` → `[count, resetAt]`. */
  record(windowSeconds: number, batch: [string, number][]): [number, number][] {
    const now = Date.now()
    return batch.map(([owner, n]) => {
      const w = this.window(owner, windowSeconds, now)
      w.count += n
      this.put(`u:${owner}`, w)
      return [w.count, w.start + windowSeconds * 1000]
    })
  }

  /**
   * Decide one call exactly: first count `served` calls the isolate already answered, then admit
   * the call if the window has room. Refused calls do not count.
   */
  hit(owner: string, limit: number, windowSeconds: number, served: number): UserDecision {
    const w = this.window(owner, windowSeconds, Date.now())
    w.count += served
    const allowed = w.count < limit
    if (allowed) w.count++
    else w.refused++
    this.put(`u:${owner}`, w)
    return { allowed, firstRefusal: !allowed && w.refused === 1, count: w.count, resetAt: w.start + windowSeconds * 1000 }
  }

  /**
   * A NOT_FOUND answer for an IP, asked before it is sent: an IP already blocked is refused
   * (and not counted); otherwise the answer counts, and the one that exceeds `max` starts the block.
   */
  recordNotFound(ip: string, max: number, windowSeconds: number): IpState {
    const now = Date.now()
    const windowMs = windowSeconds * 1000
    if (this.ips.size >= SWEEP_AT) {
      for (const [k, times] of this.ips) {
        if (times.every(t => t <= now - windowMs)) {
          this.ips.delete(k)
          this.drop(`ip:${k}`)
        }
      }
    }
    const times = (this.ips.get(ip) ?? this.stored<number[]>(`ip:${ip}`) ?? []).filter(t => t > now - windowMs)
    const wasBlocked = times.length > max
    if (!wasBlocked) {
      times.push(now)
      if (times.length > max + 1) times.splice(0, times.length - (max + 1))
      this.put(`ip:${ip}`, times)
    }
    this.ips.set(ip, times)
    const blocked = times.length > max
    return { count: times.length, wasBlocked, blocked, justBlocked: blocked && !wasBlocked, resetAt: times[0]! + windowMs }
  }
}
