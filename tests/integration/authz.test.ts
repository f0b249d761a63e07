import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices, licenses, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import { newId } from '../../server/lib/random'
import { createApiToken } from '../../server/services/api-tokens'
import { createLicense } from '../../server/services/licenses'
import { createProduct } from '../../server/services/products'
import { createWebhook } from '../../server/services/webhooks'
import { appRouter } from '../../server/trpc/routers'
import { createLicenseSchema, type CreateLicenseInput } from '../../shared/schemas/licenses'
import { createProductSchema } from '../../shared/schemas/products'
import { createWebhookSchema } from '../../shared/schemas/webhooks'
import { CASES, REFUSALS, ROLES, run, snapshot, type Fixtures, type Role } from '../support/authz'
import { Caller, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

const PASSWORD = 'matrix-password-1'

let w: TestWorker
let f: Fixtures
let emails: { stranger: string, owner: string }

beforeAll(async () => {
  w = await startWorker()
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  emails = { stranger: uniqueEmail('matrix-stranger'), owner: uniqueEmail('matrix-owner') }
  const stranger = await admin.trpc.users.create.mutate({ email: emails.stranger, password: PASSWORD })
  const owner = await admin.trpc.users.create.mutate({ email: emails.owner, password: PASSWORD })
  const target = await admin.trpc.users.create.mutate({ email: uniqueEmail('matrix-target') })
  const { ctx } = w.context()

  // Seeded through the services straight into D1 (where the public API would write its events after
  // its answer): the matrix compares whole-database snapshots, so nothing may land late.
  const addDevice = async (licenseId: string) => {
    const id = newId('dev')
    const now = new Date()
    await ctx.db.insert(devices).values({ id, licenseId, fingerprint: `fp-${id}`, name: 'matrix', ip: null, firstSeenAt: now, lastSeenAt: now })
    return id
  }
  const addLicense = async (input: CreateLicenseInput) => (await createLicense(ctx, owner.user.id, createLicenseSchema.parse(input))).license.id
  // Disabled endpoints: the matrix's calls must not send anything anywhere.
  const addWebhook = async (url: string) => (await createWebhook(ctx, owner.user.id, createWebhookSchema.parse({ url, enabled: false }))).webhook.id
  const ownerLicenseId = await addLicense({ label: 'owner license', maxDevices: 3, expiresIn: '1y' })
  const ownerWebhookId = await addWebhook('https://example.com/owner-hook')
  const addProduct = async (slug: string) => (await createProduct(ctx, owner.user.id, createProductSchema.parse({ name: slug, slug }))).id
  const ownerProductId = await addProduct('matrix-product')
  await addLicense({ label: 'product license', product: ownerProductId })
  const deliveryId = newId('msg')
  const now = new Date()
  await ctx.db.insert(webhookDeliveries).values({ id: deliveryId, endpointId: ownerWebhookId, eventType: 'webhook.test', payload: '{}', status: 'failed', createdAt: now, updatedAt: now })

  f = {
    ownerId: owner.user.id,
    strangerId: stranger.user.id,
    targetUserId: target.user.id,
    ownerLicenseId,
    ownerDeviceId: await addDevice(ownerLicenseId),
    ownerWebhookId,
    ownerDeliveryId: deliveryId,
    ownerProductId,
    login: { email: emails.stranger, password: PASSWORD },
    freshLicense: () => addLicense({ label: 'fresh' }),
    freshDevice: async () => ({ licenseId: ownerLicenseId, deviceId: await addDevice(ownerLicenseId) }),
    freshWebhook: () => addWebhook('https://example.com/fresh-hook'),
    freshProduct: () => addProduct(`fresh-${newId('x').slice(2, 10)}`),
    freshToken: async () => (await createApiToken(ctx, owner.user.id, { name: 'fresh', readOnly: false })).apiToken.id,
    freshOwnerSession: async () => {
      const c = new Caller(w.url)
      await c.login(emails.owner, PASSWORD)
      return (await c.trpc.account.sessions.query())[0]!.id
    },
  }
})
afterAll(async () => { await w?.close() })

/** One signed-in caller per role, replaced after a case that signs it out or in as someone else. */
const callers = new Map<Role, Caller>()
async function callerFor(role: Role): Promise<Caller> {
  let c = callers.get(role)
  if (!c) {
    c = new Caller(w.url)
    if (role === 'stranger') await c.login(emails.stranger, PASSWORD)
    if (role === 'owner') await c.login(emails.owner, PASSWORD)
    if (role === 'admin') await c.login(w.admin.email, w.admin.password)
    callers.set(role, c)
  }
  return c
}

describe('authorization matrix', () => {
  it('covers every procedure of the router', () => {
    const routerPaths = Object.keys(appRouter._def.procedures).sort()
    const covered = [...new Set(CASES.filter(c => c.type !== 'http').map(c => c.path))].sort()
    expect(covered).toEqual(routerPaths)
  })

  for (const c of CASES) {
    for (const role of ROLES) {
      const expected = c.expect[role]
      const refused = REFUSALS.includes(expected)
      it(`${c.path}${c.variant ? ` (${c.variant})` : ''} as ${role}: ${expected}${refused ? ', nothing changed' : ''}`, async () => {
        const caller = await callerFor(role)
        const input = await c.input?.(f)
        const before = refused ? await snapshot(w) : ''
        const { outcome, result } = await run(caller, c, input)
        if (c.switchesSession) callers.delete(role)
        expect(outcome).toBe(expected)
        if (refused) expect(await snapshot(w)).toBe(before)
        if (outcome === 'OK') c.check?.(result, role, f)
      })
    }
  }

  it("the owner's license, devices and endpoint were changed only by the owner and admins", async () => {
    const { ctx } = w.context()
    const [l] = await ctx.db.select().from(licenses).where(eq(licenses.id, f.ownerLicenseId))
    expect(l).toMatchObject({ ownerId: f.ownerId, label: 'matrix', maxDevices: 5, status: 'active' })
    const left = await ctx.db.select().from(devices).where(eq(devices.licenseId, f.ownerLicenseId))
    expect(left.map(d => d.id)).toContain(f.ownerDeviceId)
    const [ep] = await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, f.ownerWebhookId))
    expect(ep).toMatchObject({ ownerId: f.ownerId, url: 'https://example.com/owner-hook', enabled: false })
    // Nothing was created for the owner by anyone but the owner and admins.
    const planted = await ctx.db.select().from(licenses).where(eq(licenses.label, 'planted'))
    expect(planted.every(p => p.ownerId === f.ownerId)).toBe(true)
    expect(planted).toHaveLength(2) // the owner's and the admin's allowed creates
  })
})
