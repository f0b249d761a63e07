import type { DurableObjectNamespace } from '@cloudflare/workers-types'
import type { Anomaly, IpState, RateLimiter, UserDecision, WindowState } from '../durable/rate-limiter'
import type { AppEnv } from '../env'
import { ApiError } from './public-api'

/**
 * Rate limits of the public API (docs/rate-limits.md):
 * - per developer: calls for licenses owned by one user, per window (default 600 per 60 s);
 * - brute force: an IP with more than 20 NOT_FOUND answers in 10 minutes gets 429 on the public
 *   routes, before its body is read, until the window passes.
 *
 * The RateLimiter Durable Object (developers and IPs spread over SHARDS instances each) is the authority. This module is its
 * per-isolate client, built so that the common call costs no round trip at all:
 * - a developer's calls are admitted against the isolate's view of their window (the object's
 *   count as last acknowledged + calls sent + calls not yet sent) and counted in batches after
 *   the response; only a call the view cannot admit asks the object, which decides exactly;
 * - the brute-force gate answers from the blocks this isolate has been told of; every NOT_FOUND
 *   is decided by the IP's object before it is sent, so a blocked IP never gets an answer to a
 *   guess, in any isolate.
 * On one instance (one isolate, as locally) both limits are exact.
 */
export interface RateLimitSettings {
  /** Instances per kind (RATE_LIMIT_SHARDS). */
  shards: number
  perMinuteDefault: number
  windowSeconds: number
  notFoundMax: number
  notFoundWindowSeconds: number
  /** license.anomaly: more distinct IPs than this per key within 24 h (docs/policies.md). */
  anomalyDistinctIps: number
}

const DAY_MS = 86_400_000

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

export function rateLimitSettings(env: AppEnv): RateLimitSettings {
  return {
    shards: shardCount(env),
    perMinuteDefault: positiveInt(env.RATE_LIMIT_PER_MINUTE, 600),
    windowSeconds: positiveInt(env.RATE_LIMIT_WINDOW_SECONDS, 60),
    notFoundMax: positiveInt(env.BRUTE_FORCE_MAX_NOT_FOUND, 20),
    notFoundWindowSeconds: positiveInt(env.BRUTE_FORCE_WINDOW_SECONDS, 600),
    anomalyDistinctIps: positiveInt(env.ANOMALY_DISTINCT_IPS, 20),
  }
}

/** The policy that applied to an answer, for the `RateLimit-*` headers. */
export interface LimitState {
  limit: number
  windowSeconds: number
  remaining: number
  /** Epoch ms when the window resets (or the block lifts). */
  resetAt: number
}

/** `RateLimit-*` headers (IETF draft: delta seconds) for the policy that applied to an answer. */
export function rateLimitHeaders(s: LimitState, now = Date.now()): Record<string, string> {
  return {
    'ratelimit-limit': String(s.limit),
    'ratelimit-remaining': String(Math.max(0, s.remaining)),
    'ratelimit-reset': String(Math.max(0, Math.ceil((s.resetAt - now) / 1000))),
    'ratelimit-policy': `${s.limit};w=${s.windowSeconds}`,
  }
}

export function rateLimitedError(s: LimitState, message: string, now = Date.now()): ApiError {
  return new ApiError('RATE_LIMITED', message, {
    ...rateLimitHeaders(s, now),
    'retry-after': String(Math.max(1, Math.ceil((s.resetAt - now) / 1000))),
  })
}

/** How long served calls wait to be counted together (one RPC per developer per interval per isolate). */
export const COUNT_FLUSH_MS = 200
const MAX_TRACKED = 10_000

/**
 * Instances the subjects are spread over (per kind): a hash of the subject picks one. 16 on
 * Cloudflare (many isolates send counts; each object handles a share). RATE_LIMIT_SHARDS sets it:
 * the self-hosted server runs one isolate and uses 1, since every instance is a SQLite file of its
 * own whose commits cost an fsync each (docs/rate-limits.md).
 */
export const SHARDS = 16

export function shardCount(env: AppEnv): number {
  return Math.min(positiveInt(env.RATE_LIMIT_SHARDS, SHARDS), 256)
}

/** FNV-1a: a stable, cheap spread of subjects over the shards. */
export function shardOf(subject: string, shards: number): number {
  let h = 0x811C9DC5
  for (let i = 0; i < subject.length; i++) h = Math.imul(h ^ subject.charCodeAt(i), 0x01000193)
  return (h >>> 0) % shards
}

/** An isolate's view of one developer's window. */
interface Budget {
  shard: number
  /** The object's count as last acknowledged, and when its window ends. */
  count: number
  resetAt: number
  /** Calls in an RPC that has not answered yet (at most one RPC per budget at a time). */
  sending: number
  /** Served calls not sent yet. */
  pending: number
  /** Refused by the object: refuse without asking until resetAt. */
  exhausted: boolean
}

const budgets = new Map<string, Budget>()
/** Per shard: developers with served calls not sent yet, and whether a send is scheduled. */
const unsent = new Map<number, Set<string>>()
const flushScheduled = new Set<number>()
/**
 * An IP's NOT_FOUND count and window end as last told by its object: the headers' budget, and
 * the blocks this isolate knows of (count over the maximum until resetAt, when the block lifts).
 */
const ipBudgets = new Map<string, { count: number, resetAt: number }>()
/** Per shard: license → [owner, IP → last seen] not sent yet (license.anomaly), and whether a send is scheduled. */
const unsentSightings = new Map<number, Map<string, { ownerId: string, ips: Map<string, number> }>>()
const sightingsScheduled = new Set<number>()
const MAX_SIGHTINGS = 10_000
let sightingsQueued = 0

function bounded<K, V>(map: Map<K, V>, expired: (v: V) => boolean) {
  if (map.size < MAX_TRACKED) return
  for (const [k, v] of map) if (expired(v)) map.delete(k)
  // Still full (an attack on the map itself): forget the oldest half.
  if (map.size >= MAX_TRACKED) for (const k of [...map.keys()].slice(0, MAX_TRACKED / 2)) map.delete(k)
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

function acknowledge(b: Budget, s: WindowState) {
  b.count = s.count
  b.resetAt = s.resetAt
}

type Shard = ReturnType<DurableObjectNamespace<RateLimiter>['get']>

export type UserAdmission = { allowed: true, state: LimitState } | { allowed: false, state: LimitState, firstRefusal: boolean }

/**
 * The limiter of one public API request (one caller IP). It remembers the policy that applied
 * last, so the handler can put `RateLimit-*` headers on whatever it answers.
 */
export class RequestLimiter {
  state: LimitState | null = null
  /** Told of licenses that just crossed the anomaly threshold (the handler records license.anomaly). */
  onAnomaly: ((anomalies: Anomaly[]) => Promise<unknown>) | null = null

  constructor(
    private readonly ns: DurableObjectNamespace<RateLimiter>,
    private readonly settings: RateLimitSettings,
    private readonly ip: string,
    private readonly waitUntil: (p: Promise<unknown>) => void,
  ) {
    const known = ipBudgets.get(ip)
    const now = Date.now()
    const fresh = known && known.resetAt > now
    this.state = {
      limit: settings.notFoundMax,
      windowSeconds: settings.notFoundWindowSeconds,
      remaining: Math.max(0, settings.notFoundMax - (fresh ? known.count : 0)),
      resetAt: fresh ? known.resetAt : now + settings.notFoundWindowSeconds * 1000,
    }
  }

  private stub(kind: 'users' | 'ips' | 'licenses', subject: string): Shard {
    return this.ns.get(this.ns.idFromName(`${kind}:${shardOf(subject, this.settings.shards)}`))
  }

  /** Before the body is read: 429 while this IP is blocked (as far as this isolate has been told). */
  gate(): void {
    const known = ipBudgets.get(this.ip)
    if (known && known.count > this.settings.notFoundMax && Date.now() < known.resetAt) {
      throw rateLimitedError({ ...this.state!, remaining: 0, resetAt: known.resetAt }, 'Too many requests for unknown keys from this address; try again later')
    }
  }

  /** Count a call against the license owner's limit (see the module comment). */
  async admit(ownerId: string, perWindow: number | null): Promise<UserAdmission> {
    const limit = perWindow ?? this.settings.perMinuteDefault
    const windowSeconds = this.settings.windowSeconds
    const now = Date.now()
    let b = budgets.get(ownerId)
    if (!b || (now >= b.resetAt && b.sending === 0)) {
      bounded(budgets, v => v.resetAt <= now && v.sending === 0 && v.pending === 0)
      b = { shard: shardOf(ownerId, this.settings.shards), count: 0, resetAt: now + windowSeconds * 1000, sending: 0, pending: 0, exhausted: false }
      budgets.set(ownerId, b)
    }
    const state = (count: number): LimitState => ({ limit, windowSeconds, remaining: limit - count, resetAt: b.resetAt })

    if (!b.exhausted && b.count + b.sending + b.pending < limit) {
      b.pending++
      this.state = state(b.count + b.sending + b.pending)
      let owners = unsent.get(b.shard)
      if (!owners) unsent.set(b.shard, (owners = new Set()))
      owners.add(ownerId)
      if (!flushScheduled.has(b.shard)) {
        flushScheduled.add(b.shard)
        this.waitUntil(this.flush(b.shard, windowSeconds))
      }
      return { allowed: true, state: this.state }
    }
    if (b.exhausted && now < b.resetAt) {
      this.state = state(limit)
      return { allowed: false, state: this.state, firstRefusal: false }
    }
    // The view cannot admit this call: the object decides, after the calls already served.
    while (b.sending > 0) await sleep(1)
    const served = b.pending
    b.pending = 0
    b.sending = served
    let d: UserDecision
    try {
      d = await this.stub('users', ownerId).hit(ownerId, limit, windowSeconds, served) as UserDecision
    }
    finally {
      b.sending = 0
    }
    acknowledge(b, d)
    b.exhausted = !d.allowed
    this.state = state(d.count)
    return d.allowed ? { allowed: true, state: this.state } : { allowed: false, state: this.state, firstRefusal: d.firstRefusal }
  }

  /** Send a shard's served calls to its object in one RPC, once per COUNT_FLUSH_MS. */
  private async flush(shard: number, windowSeconds: number) {
    await sleep(COUNT_FLUSH_MS)
    flushScheduled.delete(shard)
    const owners = unsent.get(shard)
    unsent.delete(shard)
    if (!owners) return
    const sent: [string, Budget, number][] = []
    for (const owner of owners) {
      const b = budgets.get(owner)
      if (!b || b.pending === 0) continue
      if (b.sending > 0) {
        // A decision for this developer is in flight: their calls go with the next send.
        let later = unsent.get(shard)
        if (!later) unsent.set(shard, (later = new Set()))
        later.add(owner)
        continue
      }
      sent.push([owner, b, b.pending])
      b.sending = b.pending
      b.pending = 0
    }
    if (unsent.has(shard) && !flushScheduled.has(shard)) {
      flushScheduled.add(shard)
      this.waitUntil(this.flush(shard, windowSeconds))
    }
    if (sent.length === 0) return
    try {
      const acks = await this.stub('users', sent[0]![0]).record(windowSeconds, sent.map(([owner, , n]) => [owner, n])) as [number, number][]
      sent.forEach(([, b], i) => acknowledge(b, { count: acks[i]![0], resetAt: acks[i]![1] }))
    }
    finally {
      for (const [, b] of sent) b.sending = 0
    }
  }

  /**
   * This IP used a license's key: counted for license.anomaly by the license's object, in batches
   * once per COUNT_FLUSH_MS after the response — nothing on the response path.
   */
  sighting(licenseId: string, ownerId: string, at: number): void {
    const shard = shardOf(licenseId, this.settings.shards)
    let batch = unsentSightings.get(shard)
    if (!batch) unsentSightings.set(shard, (batch = new Map()))
    let l = batch.get(licenseId)
    if (!l) batch.set(licenseId, (l = { ownerId, ips: new Map() }))
    if (!l.ips.has(this.ip)) {
      if (sightingsQueued >= MAX_SIGHTINGS) return // a flood between two sends: the next send catches up
      sightingsQueued++
    }
    l.ips.set(this.ip, Math.max(l.ips.get(this.ip) ?? 0, at))
    if (!sightingsScheduled.has(shard)) {
      sightingsScheduled.add(shard)
      this.waitUntil(this.flushSightings(shard))
    }
  }

  private async flushSightings(shard: number) {
    await sleep(COUNT_FLUSH_MS)
    sightingsScheduled.delete(shard)
    const batch = unsentSightings.get(shard)
    unsentSightings.delete(shard)
    if (!batch) return
    const rows: [string, string, string, number][] = []
    for (const [licenseId, l] of batch) for (const [ip, at] of l.ips) rows.push([licenseId, l.ownerId, ip, at])
    sightingsQueued = Math.max(0, sightingsQueued - rows.length)
    const anomalies = await this.stub('licenses', rows[0]![0]).sightings(this.settings.anomalyDistinctIps, DAY_MS, DAY_MS, rows) as Anomaly[]
    if (anomalies.length && this.onAnomaly) await this.onAnomaly(anomalies)
  }

  /**
   * A NOT_FOUND answer for this IP, decided by the IP's object before it is sent. Throws
   * RATE_LIMITED when the IP was already blocked (it gets 429 instead); the state is remembered here.
   */
  async notFound(): Promise<IpState> {
    const s = await this.stub('ips', this.ip).recordNotFound(this.ip, this.settings.notFoundMax, this.settings.notFoundWindowSeconds) as IpState
    const now = Date.now()
    bounded(ipBudgets, v => v.resetAt <= now)
    ipBudgets.set(this.ip, { count: s.count, resetAt: s.resetAt })
    this.state = { limit: this.settings.notFoundMax, windowSeconds: this.settings.notFoundWindowSeconds, remaining: Math.max(0, this.settings.notFoundMax - s.count), resetAt: s.resetAt }
    if (s.wasBlocked) throw rateLimitedError(this.state, 'Too many requests for unknown keys from this address; try again later')
    return s
  }
}

/** The management API's limit (docs/management-api.md): calls per owner per window (default 120 per 60 s). */
export function managementLimitSettings(env: AppEnv): { limit: number, windowSeconds: number } {
  return {
    limit: positiveInt(env.MANAGEMENT_RATE_LIMIT_PER_MINUTE, 120),
    windowSeconds: positiveInt(env.MANAGEMENT_RATE_LIMIT_WINDOW_SECONDS, 60),
  }
}

/**
 * Count one management API call against its owner's window, decided exactly by the RateLimiter
 * object (one RPC; the management API is not the verify path, so no isolate-side batching). Its
 * subjects (`mgmt:<user id>`) are apart from the public API's. Refused calls do not count.
 */
export async function admitManagementCall(ns: DurableObjectNamespace<RateLimiter>, env: AppEnv, userId: string): Promise<{ allowed: boolean, state: LimitState }> {
  const { limit, windowSeconds } = managementLimitSettings(env)
  const subject = `mgmt:${userId}`
  const stub = ns.get(ns.idFromName(`users:${shardOf(subject, shardCount(env))}`))
  const d = await stub.hit(subject, limit, windowSeconds, 0) as UserDecision
  return { allowed: d.allowed, state: { limit, windowSeconds, remaining: limit - d.count, resetAt: d.resetAt } }
}
