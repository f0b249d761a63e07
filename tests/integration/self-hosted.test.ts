/**
 * The self-hosted server's public port (workerd's socket → the `served` entrypoint of
 * scripts/lib/selfhost-entry.mjs, docs/self-hosting.md): the client IP comes from the connection unless
 * TRUST_PROXY_HEADER names a header, and no operator endpoint answers on it.
 */
import { eq } from 'drizzle-orm'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { compressible, edgeHeaders, encodingFor, plainAddress } from '../../scripts/lib/selfhost-edge.mjs'
import { startWorker, type TestWorker } from '../support/worker'

const post = (w: TestWorker, headers: Record<string, string>, body: unknown) =>
  fetch(`${w.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'self-hosted-test', ...headers }, body: JSON.stringify(body) })

async function eventIps(w: TestWorker): Promise<string[]> {
  const { ctx } = w.context()
  // Validation events are written in batches after the answer: poll until all have landed.
  for (let i = 0; i < 200; i++) {
    const rows = await ctx.db.select({ ip: events.ip, type: events.type }).from(events).where(eq(events.userAgent, 'self-hosted-test'))
    if (rows.length >= 5) return rows.map(r => r.ip ?? '')
    await new Promise(r => setTimeout(r, 25))
  }
  throw new Error('validation events did not arrive')
}


/**
 * A sign-in through the public port from an https page of licenses.example.com: the CSRF check
 * (server/middleware/csrf.ts) accepts it only if the worker sees the request's own URL as https.
 */
async function httpsSignInStatus(w: TestWorker, headers: Record<string, string>) {
  const res = await request(`${w.url}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'host': 'licenses.example.com', 'content-type': 'application/json', 'x-lm-client': 'web', 'origin': 'https://licenses.example.com', ...headers },
    body: JSON.stringify({ json: { email: w.admin.email, password: w.admin.password } }),
  })
  await res.body.arrayBuffer()
  return res.statusCode
}

describe('without TRUST_PROXY_HEADER (npm start\'s default)', () => {
  let w: TestWorker
  beforeAll(async () => {
    w = await startWorker({ trustProxyHeader: null, vars: { BRUTE_FORCE_MAX_NOT_FOUND: '4', BRUTE_FORCE_WINDOW_SECONDS: '600' } })
  })
  afterAll(async () => w?.close())

  it('a spoofed CF-Connecting-IP / X-Forwarded-For changes neither the limits nor the log', async () => {
    const answers: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await post(w, { 'cf-connecting-ip': `203.0.113.${i + 1}`, 'x-forwarded-for': `198.51.100.${i + 1}`, 'x-real-ip': `192.0.2.${i + 1}`, 'true-client-ip': `192.0.2.${i + 1}` }, { key: generateKey().key })
      answers.push(res.status)
      await res.arrayBuffer()
    }
    // Four unknown keys are allowed to one IP; the fifth and sixth are refused: all six came from 127.0.0.1.
    expect(answers).toEqual([200, 200, 200, 200, 200, 429])
    const ips = await eventIps(w)
    expect(ips.length).toBeGreaterThanOrEqual(5)
    expect(new Set(ips)).toEqual(new Set(['127.0.0.1']))
  })

  it('a client cannot set request.cf through Miniflare\'s MF-CF-Blob header, nor reach its control headers', async () => {
    const res = await fetch(`${w.url}/api/v1/health`, { headers: { 'mf-cf-blob': JSON.stringify({ country: 'XX', clientIp: '203.0.113.9' }), 'mf-original-url': 'https://evil.example/' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })

  it('a client-sent X-Forwarded-Proto: https is not believed: the worker sees http, so an https origin is cross-site', async () => {
    expect(await httpsSignInStatus(w, { 'x-forwarded-proto': 'https' })).toBe(403)
  })

  it('no operator endpoint answers on the served port (no /__scheduled, no Miniflare platform proxy)', async () => {
    const baseline = await fetch(`${w.url}/no-such-page-${Date.now()}`, { redirect: 'manual' })
    await baseline.arrayBuffer()
    for (const [path, headers] of [
      ['/__scheduled?cron=*/5+*+*+*+*', {}],
      ['/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*', {}],
      ['/cdn-cgi/platform-proxy', { 'mf-op': 'GET' }],
      ['/cdn-cgi/mf/scheduled', {}],
      ['/cdn-cgi/explorer', {}],
    ] as const) {
      const res = await fetch(`${w.url}${path}`, { headers, redirect: 'manual' })
      const text = await res.text()
      // What an unknown page gets from the app itself, never a runtime's answer.
      expect(res.status, path).toBe(baseline.status)
      expect(text, path).not.toMatch(/ran scheduled|scheduled event|Invalid proxy request/i)
    }
  })
})

describe('TRUST_PROXY_HEADER=X-Forwarded-For (behind the operator\'s own reverse proxy)', () => {
  let w: TestWorker
  beforeAll(async () => {
    w = await startWorker({ trustProxyHeader: 'X-Forwarded-For' })
  })
  afterAll(async () => w?.close())

  it('uses the right-most X-Forwarded-For address and ignores a client-sent CF-Connecting-IP', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post(w, { 'x-forwarded-for': `10.9.9.9, 192.0.2.${i % 2 ? 10 : 20}`, 'cf-connecting-ip': '203.0.113.99' }, { key: generateKey().key })
      await res.arrayBuffer()
    }
    const ips = await eventIps(w)
    expect(new Set(ips)).toEqual(new Set(['192.0.2.10', '192.0.2.20']))
  })

  it('the trusted proxy\'s X-Forwarded-Proto: https is believed: the worker sees the https URL', async () => {
    expect(await httpsSignInStatus(w, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.40' })).toBe(200)
    expect(await httpsSignInStatus(w, { 'x-forwarded-proto': 'http', 'x-forwarded-for': '192.0.2.41' })).toBe(403)
  })

  it('a 100 kB body to a public route gets the worker\'s 413, not a broken connection', async () => {
    const res = await post(w, { 'x-forwarded-for': '192.0.2.30' }, { key: 'x'.repeat(100_000) })
    expect(res.status).toBe(413)
    expect((await res.json()).error.code).toBe('PAYLOAD_TOO_LARGE')
  })

  it('compresses pages and scripts as the edge does (brotli, else gzip), byte for byte the same content; small API answers as they are', async () => {
    const page = await fetch(`${w.url}/login`, { headers: { 'accept-encoding': 'br' } })
    expect(page.headers.get('content-encoding')).toBe('br')
    const script = /src="(\/_nuxt\/[^"]+\.js)"/.exec(await page.text())?.[1]
    expect(script).toBeTruthy()
    const plain = await fetch(`${w.url}${script}`, { headers: { 'accept-encoding': 'identity' } })
    expect(plain.headers.get('content-encoding')).toBeNull()
    const body = await plain.text()
    for (const [accept, encoding] of [['br, gzip', 'br'], ['gzip', 'gzip'], ['gzip, br;q=0', 'gzip']] as const) {
      const res = await fetch(`${w.url}${script}`, { headers: { 'accept-encoding': accept } })
      expect([accept, res.headers.get('content-encoding'), res.headers.get('vary')?.toLowerCase().includes('accept-encoding')]).toEqual([accept, encoding, true])
      expect(await res.text()).toBe(body)
    }
    const health = await fetch(`${w.url}/api/v1/health`, { headers: { 'accept-encoding': 'br, gzip' } })
    expect(health.headers.get('content-encoding')).toBeNull()
  })
})

describe('a graceful stop', () => {
  it('once the server drains, a new request is answered 503 with Retry-After; close() then finishes', async () => {
    const w = await startWorker()
    try {
      const before = await fetch(`${w.url}/api/v1/health`)
      expect(before.status).toBe(200)
      await before.arrayBuffer()
      await w.drain()
      const res = await request(`${w.url}/api/v1/health`)
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(await res.body.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'The server is restarting: try again in a moment' } })
    }
    finally {
      await w.close()
    }
  }, 120_000)
})

describe('the edge rules of the public port (scripts/lib/selfhost-edge.mjs)', () => {
  const res = (headers: Record<string, string>, status = 200) => new Response(status === 304 ? null : 'x', { status, headers })
  it('compresses only text worth it, for clients that accept it', () => {
    const js = { 'content-type': 'text/javascript; charset=utf-8', 'content-length': '50000' }
    expect(encodingFor('br, gzip')).toBe('br')
    expect(encodingFor('gzip;q=1, br;q=0')).toBe('gzip')
    expect(encodingFor('identity')).toBeNull()
    expect(encodingFor(null)).toBeNull()
    expect(compressible('GET', res(js))).toBe(true)
    expect(compressible('HEAD', res(js))).toBe(false)
    expect(compressible('GET', res(js, 304))).toBe(false)
    expect(compressible('GET', res({ ...js, 'content-encoding': 'gzip' }))).toBe(false)
    expect(compressible('GET', res({ ...js, 'content-length': '200' }))).toBe(false)
    expect(compressible('GET', res({ ...js, 'cache-control': 'no-transform' }))).toBe(false)
    expect(compressible('GET', res({ 'content-type': 'image/png', 'content-length': '50000' }))).toBe(false)
    expect(compressible('GET', res({ 'content-type': 'text/html' }))).toBe(true)
  })

  it('reads workerd\'s client address (address:port, IPv6 in brackets, IPv4-mapped) and nothing else', () => {
    expect(plainAddress('127.0.0.1:41368')).toBe('127.0.0.1')
    expect(plainAddress('[::1]:42704')).toBe('::1')
    expect(plainAddress('[::ffff:192.0.2.7]:80')).toBe('192.0.2.7')
    expect(plainAddress('[2001:db8::1]:443')).toBe('2001:db8::1')
    expect(plainAddress('evil')).toBe('')
    expect(plainAddress(undefined)).toBe('')
  })

  it('takes the right-most entry of the trusted header (over several lines, as sent: the worker canonicalises it); the socket\'s address without one', () => {
    const ip = (pairs: [string, string][], trusted: string | undefined) => edgeHeaders(new Headers(pairs), '127.0.0.1', trusted).headers.get('cf-connecting-ip')
    const lines = new Headers([['X-Forwarded-For', '1.1.1.1, 2.2.2.2']])
    lines.append('x-forwarded-for', '3.3.3.3')
    expect(edgeHeaders(lines, '127.0.0.1', 'x-forwarded-for').headers.get('cf-connecting-ip')).toBe('3.3.3.3')
    expect(ip([['X-Forwarded-For', '1.1.1.1, junk']], 'x-forwarded-for')).toBe('junk')
    expect(ip([['X-Forwarded-For', ' ']], 'x-forwarded-for')).toBe('127.0.0.1')
    expect(ip([['Accept', '*/*']], 'x-forwarded-for')).toBe('127.0.0.1')
    expect(ip([['CF-Connecting-IP', '1.1.1.1']], undefined)).toBe('127.0.0.1')
    expect(ip([['CF-Connecting-IP', '2001:db8::5']], 'cf-connecting-ip')).toBe('2001:db8::5')
  })

  it('drops edge-set and Miniflare headers unless trusted, and always sets CF-Connecting-IP and X-Forwarded-Proto', () => {
    const raw: [string, string][] = [['Host', 'a.example'], ['CF-Connecting-IP', '1.1.1.1'], ['CF-IPCountry', 'XX'], ['X-Forwarded-For', '2.2.2.2'], ['MF-CF-Blob', '{}'], ['X-Forwarded-Proto', 'https'], ['Accept', '*/*']]
    const plain = edgeHeaders(new Headers(raw), '127.0.0.1', undefined)
    expect([...plain.headers.keys()].sort()).toEqual(['accept', 'cf-connecting-ip', 'host', 'x-forwarded-proto'])
    expect([plain.headers.get('cf-connecting-ip'), plain.headers.get('x-forwarded-proto'), plain.proto]).toEqual(['127.0.0.1', 'http', 'http'])
    const trusted = edgeHeaders(new Headers(raw), '127.0.0.1', 'x-forwarded-for')
    expect([...trusted.headers.keys()].sort()).toEqual(['accept', 'cf-connecting-ip', 'host', 'x-forwarded-for', 'x-forwarded-proto'])
    expect([trusted.headers.get('cf-connecting-ip'), trusted.headers.get('x-forwarded-proto'), trusted.proto]).toEqual(['2.2.2.2', 'https', 'https'])
  })
})
