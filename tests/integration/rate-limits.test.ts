import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices, events } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { Caller } from '../support/client'
import { api, seedLicense, seedOwner } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * Public API rate limits (docs/rate-limits.md), exact on one local instance:
 * the RateLimiter Durable Object in the real built worker, driven over HTTP.
 */

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** Run `n` calls with at most `width` in flight; results in call order. */
async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = Array.from({ length: n })
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++
      out[i] = await fn(i)
    }
  }))
  return out
}

function limitHeaders(r: { headers: Headers }) {
  return {
    limit: r.headers.get('ratelimit-limit'),
    remaining: r.headers.get('ratelimit-remaining'),
    reset: Number(r.headers.get('ratelimit-reset')),
    policy: r.headers.get('ratelimit-policy'),
  }
}

async function eventsOfType(w: TestWorker, type: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(events).where(eq(events.type, type))
}

/**
 * The events of `type` that `pick` selects, once at least one is there: events are written in the
 * batch after the answers (docs/system-log.md), so the test polls (up to 10 s) instead of racing it.
 */
async function loggedEvents(w: TestWorker, type: string, pick: (e: typeof events.$inferSelect) => boolean) {
  for (let round = 0; ; round++) {
    const found = (await eventsOfType(w, type)).filter(pick)
    if (found.length || round >= 200) return found
    await sleep(50)
  }
}

describe('per-developer limit with the defaults (600 calls per 60 s)', () => {
  let w: TestWorker
  beforeAll(async () => { w = await startWorker() })
  afterAll(async () => { await w?.close() })

  it('allows exactly 600 calls for one developer\'s keys, refuses the 601st with 429, leaves another developer alone', async () => {
    const alice = await seedOwner(w)
    const bob = await seedOwner(w)
    // Calls for any of a developer's keys count against the same limit.
    const aliceKeys = await Promise.all([1, 2, 3].map(async () => (await seedLicense(w, alice.id, { maxDevices: 1 })).key))
    const bobKey = (await seedLicense(w, bob.id)).key

    const first = await api(w, 'verify', { key: aliceKeys[0] })
    expect(first.json.code).toBe('VALID')
    expect(limitHeaders(first)).toMatchObject({ limit: '600', remaining: '599', policy: '600;w=60' })
    expect(limitHeaders(first).reset).toBeGreaterThan(55)

    // 599 more, from many IPs and over the three keys: the limit is per developer, not per IP or key.
    const rest = await pool(599, 8, i => api(w, 'verify', { key: aliceKeys[i % 3] }, { ip: `198.18.1.${i % 200}` }))
    expect(rest.map(r => r.status).filter(s => s !== 200)).toEqual([])
    expect(rest.map(r => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b)).toEqual(Array.from({ length: 599 }, (_, i) => i))

    const refused = await api(w, 'verify', { key: aliceKeys[1] })
    expect(refused.status).toBe(429)
    expect(refused.json).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(limitHeaders(refused)).toMatchObject({ limit: '600', remaining: '0' })

    // Over the limit, activate is refused before it takes a seat.
    const act = await api(w, 'activate', { key: aliceKeys[2], fingerprint: 'machine-1' })
    expect(act.status).toBe(429)
    const { ctx } = w.context()
    expect(await ctx.db.select().from(devices).where(eq(devices.fingerprint, 'machine-1'))).toEqual([])

    // Bob is unaffected, and so are unknown keys (those are the brute-force guard's business).
    const other = await api(w, 'verify', { key: bobKey })
    expect(other.status).toBe(200)
    expect(other.json.code).toBe('VALID')
    expect(limitHeaders(other)).toMatchObject({ limit: '600', remaining: '599' })
    expect((await api(w, 'verify', { key: generateKey().key })).json.code).toBe('NOT_FOUND')

    // The refusal is in the system log once (not once per refused call), with the owner.
    const logged = await loggedEvents(w, 'validation.rate_limited', e => e.ownerId === alice.id)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ outcome: 'RATE_LIMITED', subjectType: 'license', detail: { limit: 600, windowSeconds: 60 } })
  })

  it('an admin\'s per-user value applies at once, over the installation default', async () => {
    const carol = await seedOwner(w)
    const { key } = await seedLicense(w, carol.id)
    const admin = new Caller(w.url)
    await admin.login(w.admin.email, w.admin.password)
    await admin.trpc.users.update.mutate({ id: carol.id, verifyLimitPerMinute: 3 })
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await api(w, 'verify', { key })).status)
    expect(codes).toEqual([200, 200, 200, 429])
  })
})

describe('windows that pass (short windows set through configuration)', () => {
  let w: TestWorker
  beforeAll(async () => {
    // Short enough to wait out, long enough that a loaded CI machine sends the 21 guesses (or the
    // 8 calls) well inside one window: a 4 s brute-force window once let the first guesses age out.
    w = await startWorker({ vars: { RATE_LIMIT_PER_MINUTE: '5', RATE_LIMIT_WINDOW_SECONDS: '5', BRUTE_FORCE_WINDOW_SECONDS: '12' } })
  })
  afterAll(async () => { await w?.close() })

  it('per developer: the window resets, and refused calls did not count', async () => {
    const dave = await seedOwner(w)
    const { key } = await seedLicense(w, dave.id)
    const statuses = []
    for (let i = 0; i < 8; i++) statuses.push((await api(w, 'verify', { key })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    const refused = await api(w, 'verify', { key })
    await sleep(Number(refused.headers.get('ratelimit-reset')) * 1000 + 200)
    const again = await api(w, 'verify', { key })
    expect(again.status).toBe(200)
    // A new window: the three refused calls were not carried over.
    expect(limitHeaders(again)).toMatchObject({ limit: '5', remaining: '4', policy: '5;w=5' })
  })

  it('brute force: 21 NOT_FOUND answers block that IP on every route before its body is read; other IPs go on; the block lifts', async () => {
    const erin = await seedOwner(w)
    const { key } = await seedLicense(w, erin.id)
    const attacker = '203.0.113.66'
    const bystander = '203.0.113.77'

    const guesses = []
    for (let i = 0; i < 21; i++) guesses.push(await api(w, ['verify', 'activate', 'deactivate'][i % 3]!, { key: generateKey().key, fingerprint: 'fp' }, { ip: attacker }))
    expect(guesses.map(g => g.json.code)).toEqual(Array.from({ length: 21 }, () => 'NOT_FOUND'))
    expect(limitHeaders(guesses[0]!)).toMatchObject({ limit: '20', remaining: '19', policy: '20;w=12' })
    expect(limitHeaders(guesses[19]!)).toMatchObject({ remaining: '0' })

    // Blocked: even a valid key, even a body that would be a 400, on every route.
    // (A 100 kB body would be 413 if it were read: a 429 shows it was not.)
    for (const [route, body] of [['verify', { key }], ['activate', '{not json'], ['deactivate', { key, fingerprint: 'x'.repeat(100_000) }]] as const) {
      const r = await api(w, route, body, { ip: attacker })
      expect(r.status).toBe(429)
      expect(r.json.error.code).toBe('RATE_LIMITED')
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(12)
    }
    // Other IPs are unaffected, for valid and unknown keys alike.
    expect((await api(w, 'verify', { key }, { ip: bystander })).json.code).toBe('VALID')
    expect((await api(w, 'verify', { key: generateKey().key }, { ip: bystander })).json.code).toBe('NOT_FOUND')

    // The block is one event in the system log, with the IP.
    const blocks = await loggedEvents(w, 'validation.ip_blocked', e => e.ip === attacker)
    expect(blocks).toHaveLength(1)
    expect(blocks[0]).toMatchObject({ outcome: 'BLOCKED', actorType: 'api', detail: { notFoundAnswers: 21, windowSeconds: 12 } })

    // The window passes: the IP is served again.
    const blocked = await api(w, 'verify', { key }, { ip: attacker })
    await sleep(Number(blocked.headers.get('retry-after')) * 1000 + 200)
    const back = await api(w, 'verify', { key }, { ip: attacker })
    expect(back.status).toBe(200)
    expect(back.json.code).toBe('VALID')
  })

  it('answers that are not NOT_FOUND never count toward a block', async () => {
    const frank = await seedOwner(w)
    const { key } = await seedLicense(w, frank.id, { maxDevices: 1 })
    const ip = '203.0.113.88'
    for (let i = 0; i < 25; i++) {
      const r = await api(w, 'deactivate', { key, fingerprint: `fp-${i}` }, { ip })
      // DEVICE_NOT_ACTIVATED (or 429 from frank's own 5-per-window limit), never a block.
      expect([200, 429]).toContain(r.status)
      if (r.status === 429) expect(r.headers.get('ratelimit-policy')).toBe('5;w=5')
    }
    for (let i = 0; i < 25; i++) {
      const r = await api(w, 'verify', { key: 42 }, { ip })
      expect(r.status).toBe(400)
      // Every answer of the public routes carries the policy that applied: here the IP's NOT_FOUND budget.
      expect(limitHeaders(r)).toMatchObject({ limit: '20', remaining: '20', policy: '20;w=12' })
    }
    const { ctx } = w.context()
    expect(await ctx.db.select().from(events).where(and(eq(events.type, 'validation.ip_blocked'), eq(events.ip, ip)))).toEqual([])
  })
})

describe('RATE_LIMITS=off (an operator behind their own gateway; the benchmark\'s comparison)', () => {
  let w: TestWorker
  beforeAll(async () => { w = await startWorker({ vars: { RATE_LIMITS: 'off', RATE_LIMIT_PER_MINUTE: '2', BRUTE_FORCE_MAX_NOT_FOUND: '2' } }) })
  afterAll(async () => { await w?.close() })

  it('applies no limit and sends no RateLimit headers', async () => {
    const owner = await seedOwner(w)
    const { key } = await seedLicense(w, owner.id)
    for (let i = 0; i < 5; i++) {
      const r = await api(w, 'verify', { key }, { ip: '203.0.113.99' })
      expect(r.json.code).toBe('VALID')
      expect(r.headers.get('ratelimit-limit')).toBeNull()
      expect((await api(w, 'verify', { key: generateKey().key }, { ip: '203.0.113.99' })).json.code).toBe('NOT_FOUND')
    }
  })
})

/** The answer's code: `code` of a 200, `error.code` of a refusal. */
const answer = (r: { json: { code?: string, error?: { code: string } } }) => r.json.code ?? r.json.error?.code

describe('the counts are saved behind, and a graceful restart keeps them (docs/rate-limits.md)', () => {
  it('an IP blocked for guessing is still blocked after the server stops and starts on the same state', async () => {
    const state = mkdtempSync(join(tmpdir(), 'lm-limits-restart-'))
    const vars = { BRUTE_FORCE_MAX_NOT_FOUND: '3', BRUTE_FORCE_WINDOW_SECONDS: '600' }
    try {
      let w = await startWorker({ persistTo: state, vars })
      const attacker = '203.0.113.120'
      const guesses = []
      for (let i = 0; i < 5; i++) guesses.push(answer(await api(w, 'verify', { key: generateKey().key }, { ip: attacker })))
      expect(guesses).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED'])
      // Stopped at once (well inside the object's save interval): the shutdown writes what is unsaved.
      await w.close()
      w = await startWorker({ persistTo: state, vars, seedAdmin: false })
      try {
        // The new isolate has not been told of the block; the IP's object decides its next guess.
        expect(answer(await api(w, 'verify', { key: generateKey().key }, { ip: attacker }))).toBe('RATE_LIMITED')
        expect(answer(await api(w, 'verify', { key: generateKey().key }, { ip: '203.0.113.121' }))).toBe('NOT_FOUND')
      }
      finally {
        await w.close()
      }
    }
    finally {
      rmSync(state, { recursive: true, force: true })
    }
  })
})
