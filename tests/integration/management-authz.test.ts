import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devices } from '../../db/schema'
import { newId } from '../../server/lib/random'
import { revokeApiToken } from '../../server/services/api-tokens'
import { MANAGEMENT_ROUTES } from '../../shared/api/management-routes'
import { snapshot } from '../support/authz'
import { seedLicense, seedOwner } from '../support/licenses'
import { mgmt, tokenFor } from '../support/management'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * The management API's authorization matrix (docs/authorization.md): every route of the route table
 * as the owner of the fixtures, another owner, an admin, the owner's read-only token, a revoked
 * token and no token, with one exact outcome each; a refusal changes nothing in the database.
 */
const ROLES = ['none', 'revoked', 'stranger', 'readOnly', 'owner', 'admin'] as const
type Role = (typeof ROLES)[number]
type Outcome = 'OK' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND'
type Expect = Record<Role, Outcome>

/** Reads of your own objects (lists, creates: everyone's own). */
const ANY: Expect = { none: 'UNAUTHORIZED', revoked: 'UNAUTHORIZED', stranger: 'OK', readOnly: 'OK', owner: 'OK', admin: 'OK' }
/** A create or another write of your own: not with a read-only token. */
const ANY_WRITE: Expect = { ...ANY, readOnly: 'FORBIDDEN' }
/** The owner's object, read. */
const OWNED_READ: Expect = { ...ANY, stranger: 'NOT_FOUND' }
/** The owner's object, changed. */
const OWNED_WRITE: Expect = { ...OWNED_READ, readOnly: 'FORBIDDEN' }

interface F { productId: string, licenseId: string, key: string, freshLicense: () => Promise<string>, freshProduct: () => Promise<string>, freshDevice: () => Promise<string> }
interface Case { op: string, expect: Expect, request: (f: F) => Promise<[string, string, unknown?]> | [string, string, unknown?] }

let n = 0
const CASES: Case[] = [
  { op: 'listProducts', expect: ANY, request: () => ['GET', '/products'] },
  { op: 'createProduct', expect: ANY_WRITE, request: () => ['POST', '/products', { name: 'Matrix', slug: `matrix-${++n}` }] },
  { op: 'getProduct', expect: OWNED_READ, request: f => ['GET', `/products/${f.productId}`] },
  { op: 'updateProduct', expect: OWNED_WRITE, request: f => ['PATCH', `/products/${f.productId}`, { name: `Matrix ${++n}` }] },
  { op: 'deleteProduct', expect: OWNED_WRITE, request: async f => ['DELETE', `/products/${await f.freshProduct()}`] },
  { op: 'listLicenses', expect: ANY, request: () => ['GET', '/licenses'] },
  { op: 'createLicense', expect: ANY_WRITE, request: () => ['POST', '/licenses', { label: 'matrix' }] },
  { op: 'lookupLicense', expect: OWNED_READ, request: f => ['POST', '/licenses/lookup', { key: f.key }] },
  { op: 'getLicense', expect: OWNED_READ, request: f => ['GET', `/licenses/${f.licenseId}`] },
  { op: 'updateLicense', expect: OWNED_WRITE, request: f => ['PATCH', `/licenses/${f.licenseId}`, { label: `matrix ${++n}` }] },
  { op: 'deleteLicense', expect: OWNED_WRITE, request: async f => ['DELETE', `/licenses/${await f.freshLicense()}`] },
  { op: 'suspendLicense', expect: OWNED_WRITE, request: async f => ['POST', `/licenses/${await f.freshLicense()}/suspend`] },
  { op: 'reinstateLicense', expect: OWNED_WRITE, request: async (f) => {
    const id = await f.freshLicense()
    return ['POST', `/licenses/${id}/reinstate`]
  } },
  { op: 'renewLicense', expect: OWNED_WRITE, request: f => ['POST', `/licenses/${f.licenseId}/renew`, { expiresIn: '30d' }] },
  { op: 'freeDevice', expect: OWNED_WRITE, request: async f => ['DELETE', `/licenses/${f.licenseId}/devices/${await f.freshDevice()}`] },
]

let w: TestWorker
let f: F
const tokens = {} as Record<Role, string | null>
beforeAll(async () => {
  w = await startWorker({ vars: { MANAGEMENT_RATE_LIMIT_PER_MINUTE: '100000' } })
  const owner = await seedOwner(w)
  const stranger = await seedOwner(w)
  tokens.none = null
  tokens.owner = (await tokenFor(w, owner.id)).token
  tokens.stranger = (await tokenFor(w, stranger.id)).token
  tokens.admin = (await tokenFor(w, w.admin.id)).token
  tokens.readOnly = (await tokenFor(w, owner.id, { readOnly: true })).token
  const revoked = await tokenFor(w, owner.id)
  tokens.revoked = revoked.token
  const { ctx } = w.context()
  await revokeApiToken(ctx, { all: true }, revoked.id)
  const { createProduct } = await import('../../server/services/products')
  const product = async () => (await createProduct(ctx, owner.id, { name: 'P', slug: `p-${newId('x').slice(2, 12)}`, defaults: {} })).id
  const license = await seedLicense(w, owner.id, { label: 'owner', expiresIn: '1y' })
  f = {
    productId: await product(),
    licenseId: license.license.id,
    key: license.key,
    freshProduct: product,
    freshLicense: async () => (await seedLicense(w, owner.id, { label: 'fresh', expiresIn: '1y' })).license.id,
    freshDevice: async () => {
      const id = newId('dev')
      const now = new Date()
      await ctx.db.insert(devices).values({ id, licenseId: license.license.id, fingerprint: `fp-${id}`, name: 'matrix', ip: null, firstSeenAt: now, lastSeenAt: now })
      return id
    },
  }
})
afterAll(async () => { await w?.close() })

describe('management API authorization matrix', () => {
  it('covers every route of the route table', () => {
    expect(CASES.map(c => c.op).sort()).toEqual(MANAGEMENT_ROUTES.map(r => r.operationId).sort())
  })

  for (const c of CASES) {
    for (const role of ROLES) {
      const expected = c.expect[role]
      it(`${c.op} as ${role}: ${expected}${expected === 'OK' ? '' : ', nothing changed'}`, async () => {
        const [method, path, body] = await c.request(f)
        const before = expected === 'OK' ? '' : await snapshot(w)
        const r = await mgmt(w, tokens[role], method, path, body)
        const outcome = r.status < 300 ? 'OK' : r.json?.error?.code
        expect(outcome, r.text).toBe(expected)
        if (expected !== 'OK') expect(await snapshot(w)).toBe(before)
        if (expected === 'OK' && role === 'stranger' && method === 'GET') {
          // A list shows the stranger none of the owner's objects.
          expect(JSON.stringify(r.json)).not.toContain(f.licenseId)
          expect(JSON.stringify(r.json)).not.toContain(f.productId)
        }
      })
    }
  }
})
