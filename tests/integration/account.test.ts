import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

async function userWithSessions(n: number, password = 'first-password-1') {
  const email = uniqueEmail('acct')
  await admin.trpc.users.create.mutate({ email, password })
  const callers: Caller[] = []
  for (let i = 0; i < n; i++) {
    const c = new Caller(w.url)
    await c.login(email, password)
    callers.push(c)
  }
  return { email, password, callers }
}

describe('account', () => {
  it('changing the password keeps this session and ends every other', async () => {
    const { email, callers: [me, other] } = await userWithSessions(2)
    const result = await me!.trpc.account.changePassword.mutate({ currentPassword: 'first-password-1', newPassword: 'second-password-2' })
    expect(result).toEqual({ endedSessions: 1 })
    expect(await me!.trpc.auth.me.query()).toMatchObject({ email })
    expect(await other!.trpc.auth.me.query()).toBeNull()
    expect((await errorOf(new Caller(w.url).login(email, 'first-password-1'))).code).toBe('UNAUTHORIZED')
    await expect(new Caller(w.url).login(email, 'second-password-2')).resolves.toBeTruthy()
  })

  it('a wrong current password is a field error and changes nothing', async () => {
    const { email, callers: [me] } = await userWithSessions(1)
    const err = await errorOf(me!.trpc.account.changePassword.mutate({ currentPassword: 'nope-nope-nope', newPassword: 'second-password-2' }))
    expect(err.code).toBe('BAD_REQUEST')
    expect(err.fieldErrors).toEqual({ currentPassword: ['Current password is incorrect'] })
    await expect(new Caller(w.url).login(email, 'first-password-1')).resolves.toBeTruthy()
  })

  it('lists own sessions with the current one marked, and revokes one or all others', async () => {
    const { callers: [me, b, c] } = await userWithSessions(3)
    const list = await me!.trpc.account.sessions.query()
    expect(list).toHaveLength(3)
    expect(list.filter(s => s.current)).toHaveLength(1)
    expect(list.every(s => s.createdAt instanceof Date && typeof s.ip === 'string')).toBe(true)
    const other = list.find(s => !s.current)!
    await me!.trpc.account.revokeSession.mutate({ id: other.id })
    const stillIn = [await b!.trpc.auth.me.query(), await c!.trpc.auth.me.query()].filter(Boolean)
    expect(stillIn).toHaveLength(1)
    expect(await me!.trpc.account.revokeOtherSessions.mutate()).toEqual({ ended: 1 })
    expect(await b!.trpc.auth.me.query()).toBeNull()
    expect(await c!.trpc.auth.me.query()).toBeNull()
    expect(await me!.trpc.account.sessions.query()).toHaveLength(1)
  })

  it("cannot revoke another user's session (ownership in the WHERE clause)", async () => {
    const { callers: [victim] } = await userWithSessions(1)
    const { callers: [attacker] } = await userWithSessions(1)
    const [victimSession] = await victim!.trpc.account.sessions.query()
    expect((await errorOf(attacker!.trpc.account.revokeSession.mutate({ id: victimSession!.id }))).code).toBe('NOT_FOUND')
    expect(await victim!.trpc.auth.me.query()).not.toBeNull()
  })

  it('updates the profile name', async () => {
    const { callers: [me] } = await userWithSessions(1)
    expect(await me!.trpc.account.updateProfile.mutate({ name: '  Ada Lovelace  ' })).toMatchObject({ name: 'Ada Lovelace' })
    expect(await me!.trpc.auth.me.query()).toMatchObject({ name: 'Ada Lovelace' })
  })
})
