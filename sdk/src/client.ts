import { decodeProtectedHeader, type JSONWebKeySet, type JWK } from 'jose'
import { request, Unreachable, type HttpOptions } from './http.js'
import { MemoryStorage, type LicenseStorage } from './storage.js'
import { keyHash, randomNonce, TokenError, verifyToken, type LicenseClaims, type LicenseInfo } from './token.js'

export type ServerVerifyCode = 'VALID' | 'GRACE_PERIOD' | 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED' | 'DEVICE_NOT_ACTIVATED'
export type ServerActivateCode = 'ACTIVATED' | 'ALREADY_ACTIVATED' | 'ACTIVATION_LIMIT_REACHED' | 'DEVICE_LIMIT_REACHED' | 'NOT_FOUND' | 'PRODUCT_MISMATCH' | 'SUSPENDED' | 'EXPIRED'
export type ServerDeactivateCode = 'DEACTIVATED' | 'DEVICE_NOT_ACTIVATED' | 'NOT_FOUND' | 'PRODUCT_MISMATCH'
export type ServerHeartbeatCode = 'ALIVE' | 'DEVICE_NOT_ACTIVATED' | 'NOT_FOUND' | 'SUSPENDED' | 'EXPIRED' | 'PRODUCT_MISMATCH'
/**
 * The client's own outcomes: CLOCK_TAMPERED (the clock runs behind a token's iat or the last time
 * seen), UNREACHABLE (no answer and no usable cached token), OFFLINE_EXPIRED (no answer, and the cached
 * token's exp has passed), INVALID_RESPONSE (an answer or cached token that fails verification: forged,
 * altered, for another key/product/device, replayed), REQUEST_REFUSED (a protocol error such as
 * BAD_REQUEST; see `error`).
 */
export type ClientCode = 'CLOCK_TAMPERED' | 'UNREACHABLE' | 'OFFLINE_EXPIRED' | 'INVALID_RESPONSE' | 'REQUEST_REFUSED'

export interface Devices { used: number, max: number | null }

interface Common {
  /** True when the answer comes from the cached token because the server could not be reached. */
  offline: boolean
  /** For UNREACHABLE / REQUEST_REFUSED / INVALID_RESPONSE: what went wrong (never contains the key or a token). */
  error?: { code: string, message: string }
}

interface Signed {
  /** From the signed token: trust these. */
  license: LicenseInfo | null
  product: string | null
  /** The verified token (compact JWS): keep it to show offline proof, never log it. */
  token: string | null
  /** Until when this answer may be relied on offline (the token's exp). */
  expiresAt: Date | null
  issuedAt: Date | null
}

export interface VerifyResult extends Common, Signed { valid: boolean, code: ServerVerifyCode | ClientCode }
export interface ActivateResult extends Common, Signed { activated: boolean, valid: boolean, code: ServerActivateCode | ClientCode, devices: Devices | null }
export interface DeactivateResult extends Common { deactivated: boolean, code: ServerDeactivateCode | ClientCode, devices: Devices | null }
export interface HeartbeatResult extends Common, Signed { alive: boolean, code: ServerHeartbeatCode | ClientCode, leaseExpiresAt: string | null, devices: Devices | null }

export interface LicenseClientOptions {
  /** The installation's URL, e.g. https://licenses.example.com (no trailing path needed). */
  baseUrl: string
  /** Product slug sent with every call unless a call names its own; tokens for other products are refused. */
  product?: string
  /** Last good tokens, the fetched JWKS and the last time seen (default: in memory). */
  storage?: LicenseStorage
  /** Pinned public keys (a JWKS or its keys): the JWKS is then never fetched or read from storage. Recommended for offline use. */
  publicKeys?: JSONWebKeySet | JWK[]
  /** Where the JWKS is fetched (default baseUrl + /.well-known/jwks.json). */
  jwksUrl?: string
  /** Expected `iss` (default: baseUrl without a trailing slash; false: not checked). */
  issuer?: string | false
  /** Per attempt (default 10 000 ms). */
  timeoutMs?: number
  /** Extra attempts after a network error, timeout, 429 or 5xx (default 2). */
  retries?: number
  /** First back-off delay, doubled each retry, ±20 % jitter (default 500 ms). */
  retryDelayMs?: number
  /** Clock skew allowed against a token's iat (default 300 s). */
  clockToleranceSeconds?: number
  fetch?: typeof fetch
  /** The clock in ms (default Date.now): tests move it. */
  now?: () => number
}

type Route = 'verify' | 'activate' | 'deactivate' | 'heartbeat'
/** Answers that carry no token by design (there is no license to bind one to, in this product). */
const UNSIGNED = new Set(['NOT_FOUND', 'PRODUCT_MISMATCH'])
const FLAG: Record<Exclude<Route, 'deactivate'>, string> = { verify: 'valid', activate: 'activated', heartbeat: 'alive' }
const LAST_SEEN = 'last-seen'
const JWKS = 'jwks'

type Outcome =
  | { kind: 'signed', body: Record<string, unknown>, claims: LicenseClaims, token: string }
  | { kind: 'unsigned', body: Record<string, unknown>, code: string }
  | { kind: 'client', code: ClientCode, error?: { code: string, message: string } }
  | { kind: 'unreachable', error: { code: string, message: string } }

const noSigned: Signed = { license: null, product: null, token: null, expiresAt: null, issuedAt: null }

function signedPart(claims: LicenseClaims, token: string): Signed {
  return { license: claims.license, product: claims.product, token, expiresAt: new Date(claims.exp * 1000), issuedAt: new Date(claims.iat * 1000) }
}

function requireString(name: string, value: unknown, optional = false): asserts value is string {
  if (optional && value === undefined) return
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw new TypeError(`${name} must be a string of 1–256 characters`)
}

/**
 * License Manager client. Every verify/activate/heartbeat asks for a signed answer with a fresh nonce
 * and trusts only what the token says after checking its signature (JWKS or pinned keys), typ, kid,
 * issuer, kh, product, fingerprint and nonce; the last good token per key and device is cached, and
 * used when the server cannot be reached, until its exp. No key or token is ever logged.
 */
export class LicenseClient {
  private readonly base: string
  private readonly storage: LicenseStorage
  private readonly http: HttpOptions
  private readonly now: () => number
  private readonly tolerance: number
  private readonly issuer: string | false
  private readonly pinned: JSONWebKeySet | null
  private readonly jwksUrl: string
  private jwks: JSONWebKeySet | null = null
  /** kids that made us fetch the JWKS again (a kid still unknown after that is not retried). */
  private readonly refetchedFor = new Set<string>()

  constructor(private readonly options: LicenseClientOptions) {
    if (!/^https?:\/\/[^/\s]+/i.test(options.baseUrl ?? '')) throw new TypeError('baseUrl must be an http(s) URL')
    if (!globalThis.crypto?.subtle) throw new TypeError('WebCrypto (globalThis.crypto) is required: on Node 18 import \'@license-manager/client/file\' first, or run node with --experimental-global-webcrypto')
    this.base = options.baseUrl.replace(/\/+$/, '')
    this.storage = options.storage ?? new MemoryStorage()
    this.http = {
      fetch: options.fetch ?? ((...args) => globalThis.fetch(...args)),
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 2,
      retryDelayMs: options.retryDelayMs ?? 500,
    }
    this.now = options.now ?? Date.now
    this.tolerance = (options.clockToleranceSeconds ?? 300) * 1000
    this.issuer = options.issuer ?? this.base
    const pk = options.publicKeys
    this.pinned = pk ? (Array.isArray(pk) ? { keys: pk } : pk) : null
    this.jwksUrl = options.jwksUrl ?? `${this.base}/.well-known/jwks.json`
  }

  /** Is this key (on this device) licensed? Online: the signed answer; offline: the cached token until its exp. */
  async verify(key: string, opts: { fingerprint?: string, product?: string } = {}): Promise<VerifyResult> {
    requireString('key', key)
    requireString('fingerprint', opts.fingerprint, true)
    const product = opts.product ?? this.options.product
    const out = await this.call('verify', key, { fingerprint: opts.fingerprint }, product)
    if (out.kind === 'unreachable') return await this.offline(key, opts.fingerprint, product, out.error)
    if (out.kind === 'client') return { valid: false, code: out.code, offline: false, ...noSigned, error: out.error }
    if (out.kind === 'unsigned') return { valid: false, code: out.code as ServerVerifyCode, offline: false, ...noSigned }
    return { valid: out.claims.valid, code: out.claims.code as ServerVerifyCode, offline: false, ...signedPart(out.claims, out.token) }
  }

  /** Take a seat for this device (idempotent). Not possible offline. */
  async activate(key: string, opts: { fingerprint: string, name?: string, product?: string }): Promise<ActivateResult> {
    requireString('key', key)
    requireString('fingerprint', opts?.fingerprint)
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length > 128)) throw new TypeError('name must be a string of at most 128 characters')
    const out = await this.call('activate', key, { fingerprint: opts.fingerprint, name: opts.name || undefined }, opts.product ?? this.options.product)
    const devices = (b: Record<string, unknown>) => (b.devices as Devices | undefined) ?? null
    if (out.kind === 'unreachable') return { activated: false, valid: false, code: 'UNREACHABLE', devices: null, offline: true, ...noSigned, error: out.error }
    if (out.kind === 'client') return { activated: false, valid: false, code: out.code, devices: null, offline: false, ...noSigned, error: out.error }
    if (out.kind === 'unsigned') return { activated: false, valid: false, code: out.code as ServerActivateCode, devices: null, offline: false, ...noSigned }
    return { activated: out.claims.valid, valid: out.claims.valid, code: out.claims.code as ServerActivateCode, devices: out.claims.license.devices ?? devices(out.body), offline: false, ...signedPart(out.claims, out.token) }
  }

  /** Free this device's seat; the cached token for it is dropped. */
  async deactivate(key: string, opts: { fingerprint: string, product?: string }): Promise<DeactivateResult> {
    requireString('key', key)
    requireString('fingerprint', opts?.fingerprint)
    const product = opts.product ?? this.options.product
    const kh = await keyHash(key)
    let answer
    try {
      answer = await request(`${this.base}/api/v1/licenses/deactivate`, () => this.init({ key, fingerprint: opts.fingerprint, product, nonce: randomNonce() }), this.http)
    }
    catch (error) {
      if (!(error instanceof Unreachable)) throw error
      return { deactivated: false, code: 'UNREACHABLE', devices: null, offline: true, error: { code: 'UNREACHABLE', message: error.message } }
    }
    const refused = this.refusal(answer.status, answer.body)
    if (refused) return { deactivated: false, code: refused.code, devices: null, offline: false, error: refused.error }
    const body = answer.body as Record<string, unknown>
    if (kh && (body.code === 'DEACTIVATED' || body.code === 'DEVICE_NOT_ACTIVATED' || body.code === 'NOT_FOUND')) await this.storage.delete(cacheName(kh, product, opts.fingerprint))
    return { deactivated: body.deactivated === true, code: body.code as ServerDeactivateCode, devices: (body.devices as Devices | undefined) ?? null, offline: false }
  }

  /** Renew a floating seat's lease (servers with lease-based licenses). */
  async heartbeat(key: string, opts: { fingerprint: string, product?: string }): Promise<HeartbeatResult> {
    requireString('key', key)
    requireString('fingerprint', opts?.fingerprint)
    const out = await this.call('heartbeat', key, { fingerprint: opts.fingerprint }, opts.product ?? this.options.product)
    const lease = (b: Record<string, unknown>) => ({ leaseExpiresAt: typeof b.leaseExpiresAt === 'string' ? b.leaseExpiresAt : null, devices: (b.devices as Devices | undefined) ?? null })
    if (out.kind === 'unreachable') return { alive: false, code: 'UNREACHABLE', leaseExpiresAt: null, devices: null, offline: true, ...noSigned, error: out.error }
    if (out.kind === 'client') return { alive: false, code: out.code, leaseExpiresAt: null, devices: null, offline: false, ...noSigned, error: out.error }
    if (out.kind === 'unsigned') return { alive: false, code: out.code as ServerHeartbeatCode, ...lease(out.body), offline: false, ...noSigned }
    return { alive: out.claims.valid, code: out.claims.code as ServerHeartbeatCode, ...lease(out.body), offline: false, ...signedPart(out.claims, out.token) }
  }

  // ---------- internals ----------

  private init(body: Record<string, unknown>): RequestInit {
    return { method: 'POST', headers: { 'content-type': 'application/json', 'accept': 'application/json' }, body: JSON.stringify(body) }
  }

  /** A non-200 answer: a protocol error. */
  private refusal(status: number, body: unknown): { code: 'REQUEST_REFUSED' | 'INVALID_RESPONSE', error: { code: string, message: string } } | null {
    if (status === 200) {
      const b = body as Record<string, unknown> | null
      return b && typeof b === 'object' && typeof b.code === 'string' ? null : { code: 'INVALID_RESPONSE', error: { code: 'INVALID_RESPONSE', message: 'the answer has no code' } }
    }
    const e = (body as { error?: { code?: unknown, message?: unknown } } | null)?.error
    return { code: 'REQUEST_REFUSED', error: { code: typeof e?.code === 'string' ? e.code : `HTTP_${status}`, message: typeof e?.message === 'string' ? e.message : `HTTP ${status}` } }
  }

  /** A signed call: fresh nonce, token verified and bound, time checked, cache updated. */
  private async call(route: Exclude<Route, 'deactivate'>, key: string, fields: Record<string, string | undefined>, product: string | undefined): Promise<Outcome> {
    const kh = await keyHash(key)
    let nonce = ''
    let answer
    try {
      answer = await request(`${this.base}/api/v1/licenses/${route}`, () => {
        nonce = randomNonce()
        return this.init({ key, ...fields, product, nonce, signed: true })
      }, this.http)
    }
    catch (error) {
      if (!(error instanceof Unreachable)) throw error
      return { kind: 'unreachable', error: { code: error.lastStatus ? `HTTP_${error.lastStatus}` : 'UNREACHABLE', message: error.message } }
    }
    const refused = this.refusal(answer.status, answer.body)
    if (refused) return { kind: 'client', ...refused }
    const body = answer.body as Record<string, unknown>
    const name = kh ? cacheName(kh, product, fields.fingerprint) : null
    const invalid = (message: string): Outcome => ({ kind: 'client', code: 'INVALID_RESPONSE', error: { code: 'INVALID_RESPONSE', message } })
    if (typeof body.token !== 'string') {
      if (!UNSIGNED.has(body.code as string) || body[FLAG[route]] !== false) return invalid('the answer is not signed')
      if (name) await this.storage.delete(name)
      return { kind: 'unsigned', body, code: body.code as string }
    }
    if (!kh || !name) return invalid('a token for a string that is not a key')
    let claims: LicenseClaims
    try {
      claims = await this.verifyOnline(body.token, { kh, issuer: this.issuer, product, fingerprint: fields.fingerprint, nonce })
    }
    catch (error) {
      if (error instanceof Unreachable) return { kind: 'unreachable', error: { code: 'UNREACHABLE', message: `JWKS: ${error.message}` } }
      if (error instanceof TokenError) return invalid(error.message)
      throw error
    }
    // The JSON must say what the token says: a proxy rewriting "valid": false → true is caught here.
    if (claims.code !== body.code || claims.valid !== body[FLAG[route]]) return invalid('the answer differs from its signed token')
    const now = this.now()
    if (now + this.tolerance < claims.iat * 1000) return { kind: 'client', code: 'CLOCK_TAMPERED', error: { code: 'CLOCK_TAMPERED', message: 'this device\'s clock runs behind the server\'s' } }
    if (claims.valid && now >= claims.exp * 1000 + this.tolerance) return invalid('the token has expired')
    // The server's iat is authenticated time: it also corrects a last-seen time set by a clock that ran ahead.
    await this.storage.set(LAST_SEEN, String(Math.max(now, claims.iat * 1000)))
    if (claims.valid) await this.storage.set(name, JSON.stringify({ token: body.token }))
    else await this.storage.delete(name)
    return { kind: 'signed', body, claims, token: body.token }
  }

  private async verifyOnline(token: string, expected: Parameters<typeof verifyToken>[2]): Promise<LicenseClaims> {
    const set = await this.keys(false)
    try {
      return (await verifyToken(token, set, expected)).claims
    }
    catch (error) {
      // A key we have not seen yet (a rotation): fetch the JWKS again — once per unknown kid.
      if (!(error instanceof TokenError) || error.reason !== 'unknown-key' || this.pinned) throw error
      let kid: unknown
      try {
        kid = decodeProtectedHeader(token).kid
      }
      catch {
        throw error
      }
      if (typeof kid !== 'string' || this.refetchedFor.has(kid)) throw error
      if (this.refetchedFor.size >= 100) this.refetchedFor.clear()
      this.refetchedFor.add(kid)
      return (await verifyToken(token, await this.keys(true), expected)).claims
    }
  }

  /** Pinned keys; else the JWKS in memory, in storage, or fetched (and stored for offline use). */
  private async keys(refresh: boolean): Promise<JSONWebKeySet> {
    if (this.pinned) return this.pinned
    if (!refresh && this.jwks) return this.jwks
    if (!refresh) {
      const stored = parseJwks(await this.storage.get(JWKS))
      if (stored) {
        this.jwks = stored
        return stored
      }
    }
    const answer = await request(this.jwksUrl, () => ({ method: 'GET', headers: { accept: 'application/jwk-set+json, application/json' } }), this.http)
    const set = answer.status === 200 ? parseJwks(JSON.stringify(answer.body)) : null
    if (!set) throw new Unreachable(`no JWKS at ${this.jwksUrl} (HTTP ${answer.status})`, answer.status)
    this.jwks = set
    await this.storage.set(JWKS, JSON.stringify(set))
    return set
  }

  /** The server could not be reached: the cached token, if it still holds. */
  private async offline(key: string, fingerprint: string | undefined, product: string | undefined, error: { code: string, message: string }): Promise<VerifyResult> {
    const fail = (code: ClientCode, message: string, claims?: LicenseClaims, token?: string): VerifyResult =>
      ({ valid: false, code, offline: true, ...(claims && token ? signedPart(claims, token) : noSigned), error: { code, message: code === 'UNREACHABLE' ? error.message : message } })
    const kh = await keyHash(key)
    if (!kh) return fail('UNREACHABLE', error.message)
    const name = cacheName(kh, product, fingerprint)
    const entry = parseEntry(await this.storage.get(name))
    if (!entry) return fail('UNREACHABLE', error.message)
    const set = this.pinned ?? parseJwks(await this.storage.get(JWKS))
    if (!set) return fail('UNREACHABLE', error.message)
    let claims: LicenseClaims
    try {
      claims = (await verifyToken(entry.token, set, { kh, issuer: this.issuer, product, fingerprint })).claims
    }
    catch (e) {
      return fail('INVALID_RESPONSE', `the cached token does not verify: ${(e as Error).message}`)
    }
    if (!claims.valid) return fail('INVALID_RESPONSE', 'the cached token is not a valid answer')
    const now = this.now()
    const lastSeen = Number(await this.storage.get(LAST_SEEN)) || 0
    if (now + this.tolerance < Math.max(claims.iat * 1000, lastSeen)) return fail('CLOCK_TAMPERED', 'this device\'s clock was set back', claims, entry.token)
    if (now >= claims.exp * 1000) return fail('OFFLINE_EXPIRED', 'the cached answer has expired: connect to the license server', claims, entry.token)
    if (now > lastSeen) await this.storage.set(LAST_SEEN, String(now))
    return { valid: true, code: claims.code === 'GRACE_PERIOD' ? 'GRACE_PERIOD' : 'VALID', offline: true, ...signedPart(claims, entry.token), error }
  }
}

function cacheName(kh: string, product: string | undefined, fingerprint: string | undefined): string {
  return `token:${kh}:${product ?? ''}:${fingerprint ?? ''}`
}

function parseEntry(text: string | null): { token: string } | null {
  if (!text) return null
  try {
    const e = JSON.parse(text) as { token?: unknown }
    return typeof e.token === 'string' ? { token: e.token } : null
  }
  catch {
    return null
  }
}

function parseJwks(text: string | null): JSONWebKeySet | null {
  if (!text) return null
  try {
    const set = JSON.parse(text) as JSONWebKeySet
    return Array.isArray(set?.keys) ? { keys: set.keys } : null
  }
  catch {
    return null
  }
}
