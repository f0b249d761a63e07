import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authAttempts, events, sessions, users } from '../../db/schema'
import { LOGIN_LIMITS } from '../../server/services/auth'
import { deriveScrypt, parseHash } from '../../server/lib/passwords'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
beforeAll(async () => { w = await startWorker() })
afterAll(async () => { await w?.close() })

async function newUser(password = 'initial-password-1') {
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const email = uniqueEmail()
  const { user } = await admin.trpc.users.create.mutate({ email, password })
  return { email, password, id: user.id }
}

describe('login', () => {
  it('opens a session with an HttpOnly, SameSite=Lax cookie naming a session row', async () => {
    const c = new Caller(w.url)
    const res = await c.fetch(`${w.url}/api/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { email: w.admin.email, password: w.admin.password } }),
    })
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/^lm_session=ey[\w-]+\.[\w-]+\.[\w-]+;/)
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Lax/i)
    expect(cookie).toMatch(/Path=\//)
    // On http://localhost (local runs) the cookie cannot be Secure; over https it is (next test).
    expect(await c.trpc.auth.me.query()).toMatchObject({ email: w.admin.email, role: 'admin' })
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(sessions).where(eq(sessions.userId, w.admin.id))
    expect(rows.some(r => r.ip === c.ip && r.userAgent === 'vitest')).toBe(true)
  })

  it('over HTTPS the cookie is Secure and __Host- prefixed, and only that name is accepted', async () => {
    const origin = 'https://licenses.example.com'
    const res = await w.dispatch(`${origin}/api/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lm-client': 'web', 'origin': origin, 'cf-connecting-ip': '203.0.113.5' },
      body: JSON.stringify({ json: { email: w.admin.email, password: w.admin.password } }),
    })
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/^__Host-lm_session=ey/)
    expect(cookie).toMatch(/; Secure/i)
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).not.toMatch(/Domain=/i)
    const token = cookie.split(';')[0]!.split('=')[1]!
    const me = async (name: string) => {
      const r = await w.dispatch(`${origin}/api/trpc/auth.me`, { headers: { 'x-lm-client': 'web', 'cookie': `${name}=${token}` } })
      return ((await r.json()) as { result: { data: { json: unknown } } }).result.data.json
    }
    expect(await me('__Host-lm_session')).toMatchObject({ email: w.admin.email })
    expect(await me('lm_session')).toBeNull()
  })

  it('a new login makes a new session; the hash made in workerd verifies with scrypt-js', async () => {
    const u = await newUser()
    const a = new Caller(w.url)
    const b = new Caller(w.url)
    await a.login(u.email, u.password)
    await b.login(u.email, u.password)
    expect(a.sessionToken).not.toBe(b.sessionToken)
    const { ctx } = w.context()
    const [row] = await ctx.db.select().from(users).where(eq(users.id, u.id))
    const parsed = parseHash(row!.passwordHash)!
    const portable = await deriveScrypt(u.password, parsed.salt, parsed.params, 'portable')
    expect(Buffer.from(portable).equals(Buffer.from(parsed.key))).toBe(true)
  })

  it('answers a wrong password and an unknown account alike (no enumeration)', async () => {
    const u = await newUser()
    const wrong = await errorOf(new Caller(w.url).login(u.email, 'not-the-password'))
    const unknown = await errorOf(new Caller(w.url).login(uniqueEmail('nobody'), 'not-the-password'))
    expect(wrong).toEqual(unknown)
    expect(wrong).toMatchObject({ code: 'UNAUTHORIZED', status: 401, message: 'Invalid email or password' })
  })

  it('records every attempt with IP and user agent, never the password', async () => {
    const u = await newUser()
    const c = new Caller(w.url, '203.0.113.77', 'AttemptRecorder/1.0')
    await errorOf(c.login(u.email, 'wrong-password-xyz'))
    await c.login(u.email, u.password)
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events).where(eq(events.subjectId, u.email))
    const types = rows.map(r => r.type)
    expect(types).toContain('auth.login.failed')
    expect(types).toContain('auth.login.succeeded')
    for (const r of rows.filter(r => r.type.startsWith('auth.login'))) {
      expect(r.ip).toBe('203.0.113.77')
      expect(r.userAgent).toBe('AttemptRecorder/1.0')
      expect(JSON.stringify(r)).not.toContain(u.password)
      expect(JSON.stringify(r)).not.toContain('wrong-password-xyz')
    }
  })

  it('refuses a disabled account even with the right password', async () => {
    const u = await newUser()
    const admin = new Caller(w.url)
    await admin.login(w.admin.email, w.admin.password)
    await admin.trpc.users.setDisabled.mutate({ id: u.id, disabled: true })
    expect(await errorOf(new Caller(w.url).login(u.email, u.password))).toMatchObject({ code: 'FORBIDDEN' })
  })
})

describe('login throttling', () => {
  it(`locks an account+IP pair after ${LOGIN_LIMITS.pairPer15Min} failures, even for the right password, not other IPs`, async () => {
    const u = await newUser()
    const attacker = new Caller(w.url)
    for (let i = 0; i < LOGIN_LIMITS.pairPer15Min; i++) {
      expect((await errorOf(attacker.login(u.email, `guess-${i}`))).code).toBe('UNAUTHORIZED')
    }
    expect(await errorOf(attacker.login(u.email, u.password))).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 429 })
    // The owner, elsewhere, still gets in.
    await expect(new Caller(w.url).login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
  })

  it(`caps failures per account at ${LOGIN_LIMITS.accountPerHour}/hour from unknown IPs, but not from an IP the owner used`, async () => {
    const u = await newUser()
    const home = new Caller(w.url)
    await home.login(u.email, u.password) // the owner's usual IP becomes trusted
    // Seed 100 failures from many IPs, as a distributed guesser would leave them (same rows the service writes).
    const { ctx } = w.context()
    const rows = Array.from({ length: LOGIN_LIMITS.accountPerHour }, (_, i) => ({
      id: `att_seed${u.id.slice(4)}${i}`,
      kind: 'login' as const,
      account: u.email,
      ipKey: `192.0.2.${i % 250}`,
      state: 'failed' as const,
      createdAt: new Date(),
    }))
    for (let i = 0; i < rows.length; i += 10) await ctx.db.insert(authAttempts).values(rows.slice(i, i + 10))
    expect(await errorOf(new Caller(w.url).login(u.email, u.password))).toMatchObject({ code: 'TOO_MANY_REQUESTS' })
    await expect(new Caller(w.url, home.ip).login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
    // The lock lifts when the window passes: age the failures by an hour.
    await ctx.db.update(authAttempts).set({ createdAt: new Date(Date.now() - 3_700_000) }).where(eq(authAttempts.account, u.email))
    await expect(new Caller(w.url).login(u.email, u.password)).resolves.toMatchObject({ email: u.email })
  })
})

describe('sessions', () => {
  it('logout ends the session at once', async () => {
    const u = await newUser()
    const c = new Caller(w.url)
    await c.login(u.email, u.password)
    const token = c.sessionToken!
    await c.trpc.auth.logout.mutate()
    expect(c.sessionToken).toBeUndefined()
    const replay = new Caller(w.url)
    replay.cookies.set('lm_session', token)
    expect(await replay.trpc.auth.me.query()).toBeNull()
  })

  it('ends idle and absolutely expired sessions (checked on the row each request)', async () => {
    const u = await newUser()
    const idle = new Caller(w.url)
    await idle.login(u.email, u.password)
    const expired = new Caller(w.url)
    await expired.login(u.email, u.password)
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(sessions).where(eq(sessions.userId, u.id))
    expect(rows).toHaveLength(2)
    const [first, second] = rows
    const ids = [first!.id, second!.id]
    // Which row is whose: the session id is the token's subject.
    const sub = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).sub as string
    const idleId = sub(idle.sessionToken!)
    const expiredId = ids.find(id => id !== idleId)!
    await ctx.db.update(sessions).set({ lastSeenAt: new Date(Date.now() - 13 * 3_600_000) }).where(eq(sessions.id, idleId))
    await ctx.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, expiredId))
    expect(await idle.trpc.auth.me.query()).toBeNull()
    expect(await expired.trpc.auth.me.query()).toBeNull()
  })

  it('refuses forged and tampered tokens', async () => {
    const c = new Caller(w.url)
    await c.login(w.admin.email, w.admin.password)
    const [h, p] = c.sessionToken!.split('.')
    for (const bad of [`${h}.${p}.AAAA`, 'garbage', `${'x'.repeat(2000)}`, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJzZXNfeCJ9.']) {
      const forged = new Caller(w.url)
      forged.cookies.set('lm_session', bad)
      expect(await forged.trpc.auth.me.query()).toBeNull()
    }
  })

  it('the scheduled job prunes expired sessions', async () => {
    const u = await newUser()
    const c = new Caller(w.url)
    await c.login(u.email, u.password)
    const { ctx } = w.context()
    await ctx.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.userId, u.id))
    await w.scheduled('*/5 * * * *')
    // The task runs in waitUntil: poll briefly.
    for (let i = 0; i < 50; i++) {
      if ((await ctx.db.select().from(sessions).where(eq(sessions.userId, u.id))).length === 0) break
      await new Promise(r => setTimeout(r, 100))
    }
    expect(await ctx.db.select().from(sessions).where(eq(sessions.userId, u.id))).toHaveLength(0)
  })
})

describe('CSRF', () => {
  it('refuses tRPC calls without the app header or from another origin', async () => {
    const body = JSON.stringify({ json: { email: w.admin.email, password: w.admin.password } })
    const noHeader = await fetch(`${w.url}/api/trpc/auth.login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(noHeader.status).toBe(403)
    expect(noHeader.headers.get('set-cookie')).toBeNull()
    const foreign = await fetch(`${w.url}/api/trpc/auth.login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-lm-client': 'web', 'origin': 'https://evil.example' }, body })
    expect(foreign.status).toBe(403)
    const same = await fetch(`${w.url}/api/trpc/auth.login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-lm-client': 'web', 'origin': w.url }, body })
    expect(same.status).toBe(200)
  })
})
