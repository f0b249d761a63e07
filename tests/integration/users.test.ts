import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, users } from '../../db/schema'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let admin: Caller
beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
})
afterAll(async () => { await w?.close() })

describe('admin: users', () => {
  it('adds a user with a generated password shown once, which signs in', async () => {
    const email = uniqueEmail('Gen').toUpperCase()
    const { user, generatedPassword } = await admin.trpc.users.create.mutate({ email, name: 'Gen' })
    expect(user.email).toBe(email.toLowerCase())
    expect(generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/)
    expect(JSON.stringify(user)).not.toMatch(/passwordHash|scrypt/)
    await expect(new Caller(w.url).login(email, generatedPassword!)).resolves.toMatchObject({ role: 'user' })
    // Shown once: nothing later returns it.
    const listed = await admin.trpc.users.get.query({ id: user.id })
    expect(JSON.stringify(listed)).not.toContain(generatedPassword!)
  })

  it('adds a user with a set password and refuses a duplicate email (case-insensitive) with a field error', async () => {
    const email = uniqueEmail('set')
    const { generatedPassword } = await admin.trpc.users.create.mutate({ email, password: 'a-set-password-1', role: 'user' })
    expect(generatedPassword).toBeNull()
    const dup = await errorOf(admin.trpc.users.create.mutate({ email: email.toUpperCase() }))
    expect(dup).toMatchObject({ code: 'CONFLICT', status: 409 })
    expect(dup.fieldErrors?.email?.[0]).toMatch(/already exists/)
  })

  it('returns zod issues as field errors the form shows', async () => {
    const err = await errorOf(admin.trpc.users.create.mutate({ email: 'not-an-email', password: 'short' }))
    expect(err).toMatchObject({ code: 'BAD_REQUEST', status: 400 })
    expect(Object.keys(err.fieldErrors ?? {}).sort()).toEqual(['email', 'password'])
  })

  it('searches by email or name, filters by status, and pages by cursor', async () => {
    const tag = `zz${Date.now().toString(36)}`
    for (let i = 0; i < 3; i++) await admin.trpc.users.create.mutate({ email: `${tag}-${i}@example.com`, name: `Searchable ${i}` })
    const byEmail = await admin.trpc.users.list.query({ search: tag })
    expect(byEmail.items.map(u => u.email)).toEqual([0, 1, 2].map(i => `${tag}-${i}@example.com`))
    const page1 = await admin.trpc.users.list.query({ search: tag, limit: 2 })
    expect(page1.items).toHaveLength(2)
    const page2 = await admin.trpc.users.list.query({ search: tag, limit: 2, cursor: page1.nextCursor! })
    expect(page2.items.map(u => u.email)).toEqual([`${tag}-2@example.com`])
    expect(page2.nextCursor).toBeNull()
    // LIKE wildcards in the search are literal.
    expect((await admin.trpc.users.list.query({ search: '%' })).items).toHaveLength(0)
    const disabled = await admin.trpc.users.list.query({ search: tag, status: 'disabled' })
    expect(disabled.items).toHaveLength(0)
  })

  it('disabling a user ends their sessions at once; enabling lets them back in', async () => {
    const email = uniqueEmail('dis')
    const { user } = await admin.trpc.users.create.mutate({ email, password: 'disable-me-please' })
    const u = new Caller(w.url)
    await u.login(email, 'disable-me-please')
    expect(await u.trpc.auth.me.query()).not.toBeNull()
    await admin.trpc.users.setDisabled.mutate({ id: user.id, disabled: true })
    expect(await u.trpc.auth.me.query()).toBeNull()
    expect((await errorOf(u.trpc.account.sessions.query())).code).toBe('UNAUTHORIZED')
    await admin.trpc.users.setDisabled.mutate({ id: user.id, disabled: false })
    await expect(new Caller(w.url).login(email, 'disable-me-please')).resolves.toBeTruthy()
  })

  it('changes role, name and the per-user verify limit', async () => {
    const { user } = await admin.trpc.users.create.mutate({ email: uniqueEmail('role') })
    const updated = await admin.trpc.users.update.mutate({ id: user.id, role: 'admin', name: 'Promoted', verifyLimitPerMinute: 1200 })
    expect(updated).toMatchObject({ role: 'admin', name: 'Promoted', verifyLimitPerMinute: 1200 })
    const reset = await admin.trpc.users.update.mutate({ id: user.id, verifyLimitPerMinute: null, role: 'user' })
    expect(reset.verifyLimitPerMinute).toBeNull()
  })

  it('"end sessions" signs a user out everywhere', async () => {
    const email = uniqueEmail('end')
    const { user } = await admin.trpc.users.create.mutate({ email, password: 'end-my-sessions' })
    const a = new Caller(w.url)
    const b = new Caller(w.url)
    await a.login(email, 'end-my-sessions')
    await b.login(email, 'end-my-sessions')
    expect(await admin.trpc.users.endSessions.mutate({ id: user.id })).toEqual({ ended: 2 })
    expect(await a.trpc.auth.me.query()).toBeNull()
    expect(await b.trpc.auth.me.query()).toBeNull()
  })

  it('never leaves the installation without an active admin, and records no event for a refused change', async () => {
    // The seeded admin is the only admin in this worker unless a test promoted someone: make sure.
    const { items } = await admin.trpc.users.list.query({ role: 'admin' })
    for (const other of items.filter(u => u.id !== w.admin.id)) await admin.trpc.users.update.mutate({ id: other.id, role: 'user' })
    const demote = await errorOf(admin.trpc.users.update.mutate({ id: w.admin.id, role: 'user' }))
    expect(demote.code).toBe('CONFLICT')
    expect((await errorOf(admin.trpc.users.setDisabled.mutate({ id: w.admin.id, disabled: true }))).code).toBe('BAD_REQUEST')
    const { ctx } = w.context()
    const [row] = await ctx.db.select().from(users).where(eq(users.id, w.admin.id))
    expect(row).toMatchObject({ role: 'admin', disabled: false })
    const adminEvents = await ctx.db.select().from(events).where(eq(events.subjectId, w.admin.id))
    expect(adminEvents.filter(e => e.type === 'user.updated' || e.type === 'user.disabled')).toHaveLength(0)
  })

  it('writes each change and its audit event together', async () => {
    const { user } = await admin.trpc.users.create.mutate({ email: uniqueEmail('audit') })
    await admin.trpc.users.update.mutate({ id: user.id, verifyLimitPerMinute: 42 })
    await admin.trpc.users.setDisabled.mutate({ id: user.id, disabled: true })
    await admin.trpc.users.setDisabled.mutate({ id: user.id, disabled: true }) // no-op: no second event
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events).where(eq(events.subjectId, user.id))
    expect(rows.map(r => r.type).sort()).toEqual(['user.created', 'user.disabled', 'user.updated'])
    for (const r of rows) expect(r).toMatchObject({ actorType: 'user', actorId: w.admin.id, ip: admin.ip })
    expect(rows.find(r => r.type === 'user.updated')?.detail).toMatchObject({ verifyLimitPerMinute: 42 })
  })

  it('unknown ids answer NOT_FOUND', async () => {
    expect((await errorOf(admin.trpc.users.get.query({ id: 'usr_doesnotexist' }))).code).toBe('NOT_FOUND')
    expect((await errorOf(admin.trpc.users.setDisabled.mutate({ id: 'usr_doesnotexist', disabled: true }))).code).toBe('NOT_FOUND')
  })
})
