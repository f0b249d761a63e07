import type { DurableObjectNamespace } from '@cloudflare/workers-types'
import type { IpState, LimitState, RateLimiter, UserDecision } from '../durable/rate-limiter'
import type { AppEnv } from '../env'
import { ApiError } from './public-api'

/**
 * Rate limits of the public API (SPEC "Rate limits", docs/rate-limits.md):
 * - per developer: calls for licences owned by one user, per window (default 600 per 60 s);
 * - brute force: an IP with more than 20 NOT_FOUND answers in 10 minutes gets 429 everywhere
 *   on the public routes, before its body is read, until the window passes.
 * Both live in the RateLimiter Durable Object (one instance per user and per IP).
 */
export interface RateLimitSettings {
  perMinuteDefault: number
  windowSeconds: number
  notFoundMax: number
  notFoundWindowSeconds: number
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

export function rateLimitSettings(env: AppEnv): RateLimitSettings {
  return {
    perMinuteDefault: positiveInt(env.RATE_LIMIT_PER_MINUTE, 600),
    windowSeconds: positiveInt(env.RATE_LIMIT_WINDOW_SECONDS, 60),
    notFoundMax: positiveInt(env.BRUTE_FORCE_MAX_NOT_FOUND, 20),
    notFoundWindowSeconds: positiveInt(env.BRUTE_FORCE_WINDOW_SECONDS, 600),
  }
}

/** `RateLimit-*` headers (IETF draft: delta seconds) for the policy that applied to an answer. */
export function rateLimitHeaders(s: LimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(s.limit),
    'ratelimit-remaining': String(s.remaining),
    'ratelimit-reset': String(Math.max(0, Math.ceil(s.resetMs / 1000))),
    'ratelimit-policy': `${s.limit};w=${s.windowSeconds}`,
  }
}

export function rateLimitedError(s: LimitState, message: string): ApiError {
  return new ApiError('RATE_LIMITED', message, {
    ...rateLimitHeaders(s),
    'retry-after': String(Math.max(1, Math.ceil(s.resetMs / 1000))),
  })
}

type Stub = ReturnType<DurableObjectNamespace<RateLimiter>['get']>

/**
 * The limiter of one public API request (one caller IP). It remembers the state of the last
 * policy that applied, so the handler can put `RateLimit-*` headers on whatever it answers.
 */
export class RequestLimiter {
  state: LimitState | null = null
  private ipStub: Stub | null = null

  constructor(private readonly ns: DurableObjectNamespace<RateLimiter>, private readonly settings: RateLimitSettings, private readonly ip: string) {}

  private ipLimiter(): Stub {
    return (this.ipStub ??= this.ns.get(this.ns.idFromName(`ip:${this.ip}`)))
  }

  /** Before the body is read: throws 429 while this IP is blocked. */
  async gate(): Promise<void> {
    const s = await this.ipLimiter().check(this.settings.notFoundMax, this.settings.notFoundWindowSeconds) as IpState
    this.state = s
    if (s.blocked) throw rateLimitedError(s, 'Too many requests for unknown keys from this address; try again later')
  }

  /** Count a call against the licence owner's limit; throws 429 (refused calls do not count). */
  async admit(ownerId: string, perMinute: number | null): Promise<UserDecision> {
    const stub = this.ns.get(this.ns.idFromName(`user:${ownerId}`))
    const d = await stub.hit(perMinute ?? this.settings.perMinuteDefault, this.settings.windowSeconds) as UserDecision
    this.state = d
    return d
  }

  /** Record a NOT_FOUND answer for this IP. */
  async notFound(): Promise<IpState> {
    const s = await this.ipLimiter().recordNotFound(this.settings.notFoundMax, this.settings.notFoundWindowSeconds) as IpState
    this.state = s
    return s
  }
}
