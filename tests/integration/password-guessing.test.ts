import { and, eq } from 'drizzle-orm'
import superjson from 'superjson'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clockTicks, processTree } from '../../bench/lib/proc'
import { authAttempts, events, users } from '../../db/schema'
import { generateKey } from '../../server/lib/keys'
import { LOGIN_LIMITS, MAX_CONCURRENT_PASSWORD_CHECKS, PASSWORD_CHECK_LIMITS } from '../../server/services/auth-attempts'
import { login } from '../../server/services/auth'
import type { ServiceError } from '../../server/services/errors'
import { MAX_BATCH_CALLS } from '../../server/trpc/batch'
import { Caller, errorOf, randomIp, uniqueEmail } from '../support/client'
import { api } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * Password guessing bounded under concurrency (docs/rate-limits.md, "Sign-in and password checks"):
 * tRPC batches, parallel requests, the per-isolate hash bound, and the client IP as a limit key.
 */

let w: TestWorker
let admin: Caller
beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
})
afterAll(async () => { await w?.close() })

async function newUser(password = 'the-right-password-1') {
  const email = uniqueEmail('guess')
  const { user } = await admin.trpc.users.create.mutate({ email, password })
  return { email, password, id: user.id }
}

interface CallResult { ok: boolean, code?: string, retryAfterSeconds?: number | null }

/** One raw tRPC HTTP request (batched when there are several paths), as a browser or a script sends it. */
async function trpcRequest(caller: Caller, paths: string[], inputs: unknown[], headers: Record<string, string> = {}) {
  const batch = paths.length > 1
  const body = batch
    ? JSON.stringify(Object.fromEntries(inputs.map((input, i) => [i, superjson.serialize(input)])))
    : JSON.stringify(superjson.serialize(inputs[0]))
  const res = await caller.fetch(`${w.url}/api/trpc/${paths.join(',')}${batch ? '?batch=1' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const json = await res.json() as unknown
  const one = (r: { error?: { json: { data: { code: string, retryAfterSeconds?: number | null } } } }): CallResult =>
    r.error ? { ok: false, code: r.error.json.data.code, retryAfterSeconds: r.error.json.data.retryAfterSeconds } : { ok: true }
  return { status: res.status, results: Array.isArray(json) ? json.map(one) : [one(json as never)] }
}

async function attemptsOf(account: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(authAttempts).where(eq(authAttempts.account, account))
}

async function eventsAbout(subjectId: string, type?: string) {
  const { ctx } = w.context()
  return await ctx.db.select().from(events).where(and(eq(events.subjectId, subjectId), type ? eq(events.type, type) : undefined))
}

/** CPU milliseconds used so far by the workerd processes this test file started. */
function workerdCpuMs(): number {
  const ticks = processTree(process.pid).filter(p => p.comm === 'workerd').reduce((n, p) => n + p.cpuTicks, 0)
  return ticks * 1000 / clockTicks()
}

describe('tRPC batches', () => {
  it(`refuses a batch of more than ${MAX_BATCH_CALLS} calls before running any: 40 sign-ins cost no hash`, async () => {
    const u = await newUser()
    const guesses = Array.from({ length: 39 }, (_, i) => ({ email: u.email, password: `guess-${i}` }))
    const attacker = new Caller(w.url)
    const { status, results } = await trpcRequest(attacker, Array(40).fill('auth.login'), [...guesses, { email: u.email, password: u.password }])
    expect(status).toBe(400)
    expect(results.every(r => !r.ok && r.code === 'BAD_REQUEST')).toBe(true)
    expect(attacker.sessionToken).toBeUndefined()
    expect(await attemptsOf(u.email)).toHaveLength(0)
    expect(await eventsAbout(u.email)).toHaveLength(0)

    // The closing figure: CPU and wall time of refused 40-call batches (one scrypt hash is ~140 ms).
    const rounds = 20
    const cpuBefore = workerdCpuMs()
    const started = performance.now()
    for (let i = 0; i < rounds; i++) {
      expect((await trpcRequest(attacker, Array(40).fill('auth.login'), guesses.concat(guesses[0]!))).status).toBe(400)
    }
    const wallMs = (performance.now() - started) / rounds
    const cpuMs = (workerdCpuMs() - cpuBefore) / rounds
    console.log(`[figure] refused 40-call tRPC batch: ${cpuMs.toFixed(1)} ms workerd CPU, ${wallMs.toFixed(1)} ms wall (mean of ${rounds})`)
    expect(cpuMs).toBeLessThan(40)
    expect(await attemptsOf(u.email)).toHaveLength(0)
  })

  it('refuses a batch with two password checks and runs none of its calls', async () => {
    const u = await newUser()
    const c = new Caller(w.url)
    const twice = await trpcRequest(c, ['auth.login', 'auth.login'], [{ email: u.email, password: 'wrong-1' }, { email: u.email, password: u.password }])
    expect(twice.results).toEqual([{ ok: false, code: 'BAD_REQUEST', retryAfterSeconds: null }, { ok: false, code: 'BAD_REQUEST', retryAfterSeconds: null }])
    expect(c.sessionToken).toBeUndefined()
    expect(await attemptsOf(u.email)).toHaveLength(0)

    // Signed in: a password change beside a sign-in is two checks too; nothing changes.
    await c.login(u.email, u.password)
    const mixed = await trpcRequest(c, ['account.changePassword', 'auth.login', 'account.updateProfile'], [
      { currentPassword: u.password, newPassword: 'a-new-password-2' }, { email: u.email, password: 'x' }, { name: 'Renamed' },
    ])
    expect(mixed.results.map(r => r.code)).toEqual(['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST'])
    const { ctx } = w.context()
    const [row] = await ctx.db.select().from(users).where(eq(users.id, u.id))
    expect(row!.name).not.toBe('Renamed')
    expect(await errorOf(new Caller(w.url).login(u.email, 'a-new-password-2'))).toMatchObject({ code: 'UNAUTHORIZED' })

    // One password check among other calls is fine.
    const fine = await trpcRequest(c, ['account.updateProfile', 'auth.login'], [{ name: 'Fine' }, { email: u.email, password: u.password }])
    expect(fine.results.map(r => r.ok)).toEqual([true, true])
  })
})

describe('parallel guesses', () => {
  /** Fire `n` sign-ins at once; then waves until the throttle answers every call (the lock). */
  async function guessUntilLocked(run: (i: number) => Promise<CallResult>, n = 40) {
    const first = await Promise.all(Array.from({ length: n }, (_, i) => run(i)))
    const all = [...first]
    for (let wave = 0; wave < 30 && all.filter(r => r.code !== 'TOO_MANY_REQUESTS').length < LOGIN_LIMITS.pairPer15Min; wave++) {
      all.push(...await Promise.all(Array.from({ length: 8 }, (_, i) => run(n + wave * 8 + i))))
    }
    return { first, all }
  }

  it(`40 parallel wrong sign-ins: at most ${LOGIN_LIMITS.pairPer15Min} are checked, the rest are refused; then the right password is refused too`, async () => {
    const u = await newUser()
    const ip = randomIp()
    const login = async (i: number) => {
      const r = await trpcRequest(new Caller(w.url, ip), ['auth.login'], [{ email: u.email, password: `parallel-guess-${i}` }])
      return r.results[0]!
    }
    const { first, all } = await guessUntilLocked(login)
    // Never more wrong passwords checked than the limit, however the calls interleave.
    expect(first.filter(r => r.code === 'UNAUTHORIZED').length).toBeLessThanOrEqual(LOGIN_LIMITS.pairPer15Min)
    expect(first.filter(r => r.code === 'TOO_MANY_REQUESTS').length).toBeGreaterThanOrEqual(40 - LOGIN_LIMITS.pairPer15Min)
    expect(all.filter(r => r.code === 'UNAUTHORIZED')).toHaveLength(LOGIN_LIMITS.pairPer15Min)
    expect(all.every(r => r.code === 'UNAUTHORIZED' || r.code === 'TOO_MANY_REQUESTS')).toBe(true)
    // Some were refused by the isolate's bound on hashes in flight (retry after 1 s), not queued.
    expect(first.some(r => r.code === 'TOO_MANY_REQUESTS' && r.retryAfterSeconds === 1)).toBe(true)
    expect((await eventsAbout(u.email, 'auth.login.failed')).length).toBe(LOGIN_LIMITS.pairPer15Min)
    expect((await attemptsOf(u.email)).length).toBe(LOGIN_LIMITS.pairPer15Min)

    const right = await trpcRequest(new Caller(w.url, ip), ['auth.login'], [{ email: u.email, password: u.password }])
    expect(right.results[0]).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 900 })
    // The owner elsewhere is not locked out.
    await expect(new Caller(w.url).login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
  })

  it(`the isolate runs at most ${MAX_CONCURRENT_PASSWORD_CHECKS} password checks at once and refuses more at once`, async () => {
    // Different accounts and IPs: no throttle applies, only the bound on hashes in flight.
    const people = await Promise.all(Array.from({ length: 3 }, () => newUser()))
    const calls = Array.from({ length: 24 }, (_, i) => people[i % 3]!)
    const results = await Promise.all(calls.map(async (p, i) => (await trpcRequest(new Caller(w.url), ['auth.login'], [{ email: p.email, password: `other-${i}` }])).results[0]!))
    const busy = results.filter(r => r.code === 'TOO_MANY_REQUESTS')
    expect(busy.length).toBeGreaterThan(0)
    expect(busy.every(r => r.retryAfterSeconds === 1)).toBe(true)
    expect(results.filter(r => r.code === 'UNAUTHORIZED').length).toBe(24 - busy.length)
    // A refused call was never reserved (it cost nothing and counts against no one).
    const reserved = (await Promise.all(people.map(p => attemptsOf(p.email)))).flat()
    expect(reserved).toHaveLength(24 - busy.length)
  })

  it(`40 parallel wrong current passwords: at most ${PASSWORD_CHECK_LIMITS.accountPer15Min} checked, then the right one is refused too; nothing changed`, async () => {
    const u = await newUser()
    const me = new Caller(w.url)
    await me.login(u.email, u.password)
    const change = async (i: number) => (await trpcRequest(me, ['account.changePassword'], [{ currentPassword: `wrong-current-${i}`, newPassword: 'new-password-99' }])).results[0]!
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => change(i)))
    const all = [...first]
    for (let wave = 0; wave < 30 && all.filter(r => r.code === 'BAD_REQUEST').length < PASSWORD_CHECK_LIMITS.accountPer15Min; wave++) {
      all.push(...await Promise.all(Array.from({ length: 8 }, (_, i) => change(100 + wave * 8 + i))))
    }
    expect(first.filter(r => r.code === 'BAD_REQUEST').length).toBeLessThanOrEqual(PASSWORD_CHECK_LIMITS.accountPer15Min)
    expect(all.filter(r => r.code === 'BAD_REQUEST')).toHaveLength(PASSWORD_CHECK_LIMITS.accountPer15Min)
    expect(all.every(r => r.code === 'BAD_REQUEST' || r.code === 'TOO_MANY_REQUESTS')).toBe(true)

    const right = await trpcRequest(me, ['account.changePassword'], [{ currentPassword: u.password, newPassword: 'new-password-99' }])
    expect(right.results[0]).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 900 })
    // Nothing changed: the old password still signs in, the session is still there.
    await expect(new Caller(w.url).login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
    expect(await me.trpc.auth.me.query()).toMatchObject({ email: u.email })
    const failures = (await eventsAbout(u.id, 'user.password_changed')).filter(e => (e.detail as { reason?: string } | null)?.reason === 'wrong-current-password')
    expect(failures).toHaveLength(PASSWORD_CHECK_LIMITS.accountPer15Min)

    // The lock lifts when the window passes (age the attempts by 15 minutes).
    const { ctx } = w.context()
    await ctx.db.update(authAttempts).set({ createdAt: new Date(Date.now() - 15 * 60_000 - 1000) }).where(eq(authAttempts.account, u.id))
    await expect(me.trpc.account.changePassword.mutate({ currentPassword: u.password, newPassword: 'new-password-99' })).resolves.toEqual({ endedSessions: 1 })
  })
})

// Each test signs in up to 11 times one after another at the real scrypt cost (~1 s per hash on a
// loaded 2-core machine): more than the project's 60 s default when other workers share the CPU.
describe('the client IP as a limit key', { timeout: 180_000 }, () => {
  async function wrongLogins(email: string, ips: string[]) {
    const out: string[] = []
    for (const [i, ip] of ips.entries()) out.push((await errorOf(new Caller(w.url, ip).login(email, `ip-guess-${i}`))).code)
    return out
  }

  it('an unreadable client IP is one shared bucket, never "no limit"', async () => {
    const u = await newUser()
    // The test server trusts CF-Connecting-IP (TRUST_PROXY_HEADER), as behind a proxy. A value that is
    // not an address is not a fresh bucket each time: the front (scripts/lib/front.ts) falls back to
    // the connection's address, so every such request lands in that one bucket.
    const garbage = ['not-an-ip', 'unknown', '999.1.1.1', '1.2.3', 'localhost', '::g', '1::2::3', 'x'.repeat(64), '0x7f.1', '-']
    expect(await wrongLogins(u.email, garbage)).toEqual(Array(LOGIN_LIMITS.pairPer15Min).fill('UNAUTHORIZED'))
    expect((await errorOf(new Caller(w.url, 'yet-another-value').login(u.email, u.password))).code).toBe('TOO_MANY_REQUESTS')
    const keys = [...new Set((await attemptsOf(u.email)).map(a => a.ipKey))]
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatch(/^(127\.0\.0\.1|::1)$/)
  })

  it('an empty client IP (the local runtime fills in 127.0.0.1 over HTTP, so through the service) is that same bucket', async () => {
    const u = await newUser()
    const { ctx } = w.context({ type: 'anonymous', id: null })
    expect(ctx.audit.ip).toBe('')
    const codes: string[] = []
    for (let i = 0; i <= LOGIN_LIMITS.pairPer15Min; i++) {
      codes.push(await login(ctx, u.email, i < LOGIN_LIMITS.pairPer15Min ? `empty-ip-guess-${i}` : u.password).then(() => 'OK', (e: ServiceError) => e.code))
    }
    expect(codes).toEqual([...Array(LOGIN_LIMITS.pairPer15Min).fill('UNAUTHORIZED'), 'TOO_MANY_REQUESTS'])
    expect(new Set((await attemptsOf(u.email)).map(a => a.ipKey))).toEqual(new Set(['unknown']))
  })

  it('IPv6 clients are limited per /64, whatever the notation', async () => {
    const u = await newUser()
    const sameNet = [
      '2001:db8:aa:1::1', '2001:DB8:AA:1::2', '2001:0db8:00aa:0001:0000:0000:0000:0003', '[2001:db8:aa:1::4]',
      '2001:db8:aa:1:ffff:ffff:ffff:5%eth0', '2001:db8:aa:1:0:0:1.2.3.4', '2001:db8:aa:1::7',
      '2001:db8:aa:1:8::', '2001:db8:aa:1:1:2:3:9', '2001:db8:aa:1::a',
    ]
    expect(await wrongLogins(u.email, sameNet)).toEqual(Array(10).fill('UNAUTHORIZED'))
    // An 11th address of the same /64 is locked, even with the right password.
    expect((await errorOf(new Caller(w.url, '2001:db8:aa:1:dead:beef:0:1').login(u.email, u.password))).code).toBe('TOO_MANY_REQUESTS')
    // The next /64 is someone else.
    await expect(new Caller(w.url, '2001:db8:aa:2::1').login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
    expect(new Set((await attemptsOf(u.email)).map(a => a.ipKey))).toEqual(new Set(['2001:db8:aa:1::/64', '2001:db8:aa:2::/64']))
  })

  it('an IPv4 client is the same client in IPv4-mapped IPv6 notation', async () => {
    const u = await newUser()
    const ips = ['203.0.113.9', '::ffff:203.0.113.9', '::FFFF:cb00:7109', '[::ffff:203.0.113.9]']
    const codes = await wrongLogins(u.email, [...ips, ...ips, ...ips].slice(0, LOGIN_LIMITS.pairPer15Min))
    expect(codes).toEqual(Array(LOGIN_LIMITS.pairPer15Min).fill('UNAUTHORIZED'))
    expect((await errorOf(new Caller(w.url, '::ffff:203.0.113.9').login(u.email, u.password))).code).toBe('TOO_MANY_REQUESTS')
  })

  it('the public API\'s brute-force guard counts a /64 as one client, and unreadable IPs as one', async () => {
    const guess = (ip: string) => api(w, 'verify', { key: generateKey().key }, { ip })
    // 20 NOT_FOUND answers (the default threshold) to 20 addresses of one /64, the 21st pushes it over.
    const net = Array.from({ length: 21 }, (_, i) => `2001:db8:bf:7:${(i + 1).toString(16)}::${i % 2 ? '1' : 'abcd'}`)
    const answers = []
    for (const ip of net) answers.push(await guess(ip))
    expect(answers.map(a => a.json.code)).toEqual(Array(21).fill('NOT_FOUND'))
    const blocked = await guess('2001:DB8:BF:7:FFFF::1')
    expect(blocked.status).toBe(429)
    expect(blocked.json.error.code).toBe('RATE_LIMITED')
    expect((await guess('2001:db8:bf:8::1')).status).toBe(200)

    const unreadable = []
    for (let i = 0; i < 21; i++) unreadable.push(await guess(`garbage-${i}`))
    expect(unreadable.map(a => a.status)).toEqual(Array(21).fill(200))
    expect((await guess('more-garbage')).status).toBe(429)
  })

  it('the log keeps one spelling per address', async () => {
    const u = await newUser()
    await wrongLogins(u.email, ['2001:0DB8:0000:0000:0000:0000:0000:00AB', '[2001:db8::ab%25en0]', '::ffff:198.51.100.7'])
    const ips = (await eventsAbout(u.email, 'auth.login.failed')).map(e => e.ip)
    expect(ips.sort()).toEqual(['198.51.100.7', '2001:db8::ab', '2001:db8::ab'])
  })
})
