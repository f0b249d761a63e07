import { TRPCClientError } from '@trpc/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookDeliveries } from '../../db/schema'
import { newId } from '../../server/lib/random'
import { appRouter } from '../../server/trpc/routers'
import { call, PROCEDURES, type Access, type Fixtures, type ProcedureSpec } from '../support/authz'
import { Caller, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

type Role = 'anonymous' | 'user' | 'admin'
const ROLES: Role[] = ['anonymous', 'user', 'admin']
const PASSWORD = 'matrix-password-1'

let w: TestWorker
let fixtures: Fixtures
let users: { user: string, owner: string }
let ownerCaller: Caller

beforeAll(async () => {
  w = await startWorker()
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  users = { user: uniqueEmail('matrix-user'), owner: uniqueEmail('matrix-owner') }
  await admin.trpc.users.create.mutate({ email: users.user, password: PASSWORD })
  await admin.trpc.users.create.mutate({ email: users.owner, password: PASSWORD })
  const target = await admin.trpc.users.create.mutate({ email: uniqueEmail('matrix-target') })
  const owner = new Caller(w.url)
  await owner.login(users.owner, PASSWORD)
  const [ownerSession] = await owner.trpc.account.sessions.query()
  const ownerRow = await owner.trpc.auth.me.query()
  const kept = await owner.trpc.licenses.create.mutate({ label: 'owner licence', maxDevices: 2 })
  const deletable = await owner.trpc.licenses.create.mutate({ label: 'deletable' })
  await fetch(`${w.url}/api/v1/licenses/activate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: kept.key, fingerprint: 'owner-device' }) })
  const detail = await owner.trpc.licenses.get.query({ id: kept.license.id })
  // Disabled: the matrix's calls must not send anything anywhere.
  const hook = await owner.trpc.webhooks.create.mutate({ url: 'https://example.com/owner-hook', enabled: false })
  const deletableHook = await owner.trpc.webhooks.create.mutate({ url: 'https://example.com/deletable-hook', enabled: false })
  const deliveryId = newId('msg')
  const now = new Date()
  await w.context().ctx.db.insert(webhookDeliveries).values({ id: deliveryId, endpointId: hook.webhook.id, eventType: 'webhook.test', payload: '{}', status: 'failed', createdAt: now, updatedAt: now })
  fixtures = {
    ownerWebhookId: hook.webhook.id,
    ownerDeliveryId: deliveryId,
    deletableWebhookId: deletableHook.webhook.id,
    targetUserId: target.user.id,
    ownerSessionId: ownerSession!.id,
    ownerId: ownerRow!.id,
    ownerLicenseId: kept.license.id,
    ownerDeviceId: detail.devices[0]!.id,
    deletableLicenseId: deletable.license.id,
    login: { email: users.user, password: PASSWORD },
  }
  ownerCaller = owner
})
afterAll(async () => { await w?.close() })

/** A fresh caller per check, so a procedure that ends sessions cannot disturb the next one. */
async function callerFor(role: Role): Promise<Caller> {
  const c = new Caller(w.url)
  if (role === 'user') await c.login(users.user, PASSWORD)
  if (role === 'admin') await c.login(w.admin.email, w.admin.password)
  return c
}

async function outcome(role: Role, spec: ProcedureSpec, input: unknown): Promise<string> {
  try {
    await call(await callerFor(role), spec, input)
    return 'OK'
  }
  catch (error) {
    if (error instanceof TRPCClientError) return (error.data as { code: string }).code
    throw error
  }
}

const allowed: Record<Access, Role[]> = { public: ['anonymous', 'user', 'admin'], user: ['user', 'admin'], admin: ['admin'] }

describe('authorization matrix', () => {
  it('covers every procedure of the router, and nothing else', () => {
    const routerPaths = Object.keys(appRouter._def.procedures).sort()
    expect(PROCEDURES.map(p => p.path).sort()).toEqual(routerPaths)
  })

  for (const spec of PROCEDURES) {
    for (const role of ROLES) {
      const may = allowed[spec.access].includes(role)
      it(`${spec.path} as ${role}: ${may ? 'allowed' : 'refused'}`, async () => {
        const code = await outcome(role, spec, spec.input?.(fixtures))
        if (may) {
          expect(['UNAUTHORIZED', 'FORBIDDEN', 'INTERNAL_SERVER_ERROR']).not.toContain(code)
        }
        else {
          expect(code).toBe(role === 'anonymous' ? 'UNAUTHORIZED' : 'FORBIDDEN')
        }
      })
    }
    if (spec.foreignInput) {
      it(`${spec.path} on another user's object: ${spec.foreignCode ?? 'NOT_FOUND'}`, async () => {
        expect(await outcome('user', spec, spec.foreignInput!(fixtures))).toBe(spec.foreignCode ?? 'NOT_FOUND')
      })
    }
  }

  it("leaves other users' objects untouched", async () => {
    const l = await ownerCaller.trpc.licenses.get.query({ id: fixtures.ownerLicenseId })
    expect(l.label).not.toBe('hijacked')
    expect(l.devices.map(d => d.fingerprint)).toEqual(['owner-device'])
    const hooks = await ownerCaller.trpc.webhooks.list.query({})
    expect(hooks.map(h => h.url)).not.toContain('https://example.com/hijacked')
    expect(hooks.map(h => h.url)).not.toContain('https://example.com/planted')
    const mine = await ownerCaller.trpc.licenses.list.query({})
    expect(mine.items.map(i => i.label)).not.toContain('planted')
    // The matrix user sees only the licences it created itself.
    const userCaller = await callerFor('user')
    const seen = await userCaller.trpc.licenses.list.query({})
    expect(seen.items.every(i => i.label === 'matrix')).toBe(true)
    expect(seen.items.length).toBeGreaterThan(0)
  })
})
