import type { D1Database, DurableObjectNamespace } from '@cloudflare/workers-types'
import type { RateLimiter } from './durable/rate-limiter'

/** Bindings, vars (wrangler.toml) and secrets (.dev.vars / wrangler secret) the worker sees. */
export interface AppEnv {
  DB: D1Database
  /** HMAC key for session tokens (jose HS256). Secret. */
  SESSION_SECRET: string
  /** HMAC key for license-key lookup digests. Secret. */
  KEY_HMAC_SECRET: string
  /** AES-GCM key (via SHA-256) for showing license keys to their owner. Secret. */
  KEY_ENC_SECRET: string
  /**
   * HMAC key for API token digests, and (via SHA-256) the AES-GCM key of stored idempotent answers
   * (docs/management-api.md). Secret.
   */
  API_TOKEN_SECRET?: string
  /** Management API calls per minute per owner (default 120). */
  MANAGEMENT_RATE_LIMIT_PER_MINUTE?: string
  /** Length of that window in seconds (default 60; shortened by tests). */
  MANAGEMENT_RATE_LIMIT_WINDOW_SECONDS?: string
  /** During a rotation: the previous secrets, still accepted (docs/keys.md). */
  KEY_HMAC_SECRET_PREVIOUS?: string
  KEY_ENC_SECRET_PREVIOUS?: string
  /** Ed25519 private key signing the public API's tokens (PKCS#8 or JWK; docs/offline.md). Secret. */
  TOKEN_SIGNING_KEY?: string
  /** During a signing-key rotation: the previous key, still published in the JWKS. */
  TOKEN_SIGNING_KEY_PREVIOUS?: string
  /** Lifetime of a signed token: a duration (7d) or seconds (default 7 days; never past the license's expiry). */
  TOKEN_TTL?: string
  /** The installation's public URL (tokens' `iss`, the web app's snippets); default: the origin a request came to. */
  PUBLIC_URL?: string
  SESSION_IDLE_MINUTES?: string
  SESSION_ABSOLUTE_HOURS?: string
  /** Days the system log keeps events (default 90); older ones are pruned by the cron task. */
  EVENT_RETENTION_DAYS?: string
  /** The rate limiter Durable Object (wrangler.toml [[durable_objects.bindings]]). */
  RATE_LIMITER?: DurableObjectNamespace<RateLimiter>
  /** "off" switches the public API's rate limits off (e.g. behind an API gateway of your own; the benchmark's comparison). */
  RATE_LIMITS?: string
  /** Public API calls per window for one developer's licenses, unless set per user (default 600). */
  RATE_LIMIT_PER_MINUTE?: string
  /** RateLimiter instances per kind (default 16; the self-hosted server sets 1: docs/rate-limits.md). */
  RATE_LIMIT_SHARDS?: string
  /** Length of that window in seconds (default 60; shortened by tests). */
  RATE_LIMIT_WINDOW_SECONDS?: string
  /** Brute force: more than this many NOT_FOUND answers to one IP … (default 20) */
  BRUTE_FORCE_MAX_NOT_FOUND?: string
  /** … within this many seconds blocks it until the window passes (default 600). */
  BRUTE_FORCE_WINDOW_SECONDS?: string
  /** "true" on a local install (npm start, the local CLI, tests): webhooks may also go to localhost, 127.0.0.1 and [::1] (http or https). */
  WEBHOOKS_ALLOW_LOCALHOST?: string
  /** The name WEBHOOKS_ALLOW_LOCALHOST had before; read the same way (it no longer allows private networks). */
  WEBHOOKS_ALLOW_PRIVATE?: string
  /** DNS-over-HTTPS resolver (JSON API) that webhook host names are checked with; "off" skips the lookup (default Cloudflare's). */
  WEBHOOK_DNS_RESOLVER?: string
  /** Seconds between webhook attempts, comma-separated (default ≈ Standard Webhooks: 5,300,1800,7200,18000,36000×6). */
  WEBHOOK_RETRY_SCHEDULE?: string
  /** Per-attempt request timeout in seconds (default 10). */
  WEBHOOK_TIMEOUT_SECONDS?: string
  /** license.anomaly: one key verified from more than this many distinct IPs (IPv6 per /64) within 24 h (default 20). */
  ANOMALY_DISTINCT_IPS?: string
  /** Test-only: "1" lets the public API take its clock from an X-LM-Test-Now header (docs/policies.md). Never set in production. */
  LM_TEST_CLOCK?: string
  /** license.expiring goes out this many days before expiry (default 7). */
  EXPIRY_NOTICE_DAYS?: string
}

export interface SessionSettings { idleMs: number, absoluteMs: number }

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

export function sessionSettings(env: Pick<AppEnv, 'SESSION_IDLE_MINUTES' | 'SESSION_ABSOLUTE_HOURS'>): SessionSettings {
  return {
    idleMs: positive(env.SESSION_IDLE_MINUTES, 720) * 60_000,
    absoluteMs: positive(env.SESSION_ABSOLUTE_HOURS, 168) * 3_600_000,
  }
}
