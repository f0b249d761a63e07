import { TRPCClientError } from '@trpc/client'
import type { Caller } from './client'
import type { TestWorker } from './worker'

/**
 * The authorization matrix (docs/authorization.md): every door's calls, the exact outcome each role
 * gets, and a sample input. A new tRPC procedure joins by a line here; tests/integration/authz.test.ts
 * fails until it does. Roles:
 * - anonymous: nobody signed in;
 * - stranger: a signed-in user who owns none of the fixtures (the "other owner");
 * - owner: the signed-in user who owns the fixtures;
 * - admin.
 */
export const ROLES = ['anonymous', 'stranger', 'owner', 'admin'] as const
export type Role = (typeof ROLES)[number]

/** OK, or the error code of the refusal. */
export type Outcome = 'OK' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST'
export type Expect = Record<Role, Outcome>

/** Refusals by the authorization rules: such a call must change nothing at all. */
export const REFUSALS: Outcome[] = ['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND']

/** Anyone, signed in or not. */
export const PUBLIC: Expect = { anonymous: 'OK', stranger: 'OK', owner: 'OK', admin: 'OK' }
/** Any signed-in user, on their own account. */
export const SIGNED_IN: Expect = { anonymous: 'UNAUTHORIZED', stranger: 'OK', owner: 'OK', admin: 'OK' }
/** The owner's object: invisible to another user (NOT_FOUND, as if it did not exist); admins see all. */
export const OWNED: Expect = { anonymous: 'UNAUTHORIZED', stranger: 'NOT_FOUND', owner: 'OK', admin: 'OK' }
/** Naming the owner as `ownerId` (a create for them, a filter): FORBIDDEN to anyone else but an admin. */
export const NAMING_OWNER: Expect = { anonymous: 'UNAUTHORIZED', stranger: 'FORBIDDEN', owner: 'OK', admin: 'OK' }
/** Admins only. */
export const ADMIN_ONLY: Expect = { anonymous: 'UNAUTHORIZED', stranger: 'FORBIDDEN', owner: 'FORBIDDEN', admin: 'OK' }

export interface Fixtures {
  ownerId: string
  strangerId: string
  /** A throwaway user the admin procedures act on. */
  targetUserId: string
  /** The owner's license (expiring in a year, one device), webhook endpoint (disabled: nothing is sent) and its delivery. */
  ownerLicenseId: string
  ownerDeviceId: string
  ownerWebhookId: string
  ownerDeliveryId: string
  /** The owner's product (slug matrix-product) and one with no licenses. */
  ownerProductId: string
  /** Credentials that sign in (auth.login is public). */
  login: { email: string, password: string }
  /** Fresh objects of the owner, for calls that use one up (delete, free a device, end a session). */
  freshLicense: () => Promise<string>
  freshDevice: () => Promise<{ licenseId: string, deviceId: string }>
  freshWebhook: () => Promise<string>
  freshProduct: () => Promise<string>
  freshOwnerSession: () => Promise<string>
  /** A fresh API token of the owner (its id). */
  freshToken: () => Promise<string>
}

export interface MatrixCase {
  /** A tRPC procedure path (`licenses.get`), or an HTTP route of the web app (`GET /api/log/export`). */
  path: string
  type: 'query' | 'mutation' | 'http'
  /** Tells apart several cases of one path. */
  variant?: string
  input?: (f: Fixtures) => unknown
  expect: Expect
  /** The call signs the caller out or in as someone else: the next case needs a new caller. */
  switchesSession?: boolean
  /** More checks on an allowed call's answer (e.g. a list shows no other owner's objects). */
  check?: (result: unknown, role: Role, f: Fixtures) => void
}

type Items = { items: { id: string, ownerId: string | null }[] }
type Listed = { id: string, ownerId: string }[]

/** A list's answer: the stranger sees none of the owner's objects, the owner and admins see `id`. */
function onlyOwn(id: (f: Fixtures) => string, items: (r: unknown) => { id: string, ownerId: string | null }[]) {
  return (result: unknown, role: Role, f: Fixtures) => {
    const rows = items(result)
    if (role === 'stranger') {
      if (rows.some(r => r.ownerId !== f.strangerId)) throw new Error(`the stranger saw another owner's rows: ${JSON.stringify(rows.map(r => r.ownerId))}`)
    }
    else if (!rows.some(r => r.id === id(f))) {
      throw new Error(`${role} does not see ${id(f)}`)
    }
  }
}

export const CASES: MatrixCase[] = [
  { path: 'auth.me', type: 'query', expect: PUBLIC },
  { path: 'auth.login', type: 'mutation', expect: PUBLIC, input: f => f.login, switchesSession: true },
  { path: 'auth.logout', type: 'mutation', expect: SIGNED_IN, switchesSession: true },

  { path: 'account.profile', type: 'query', expect: SIGNED_IN },
  { path: 'account.updateProfile', type: 'mutation', expect: SIGNED_IN, input: () => ({ name: 'Matrix' }) },
  // A wrong current password: refused for what it is, once signed in.
  { path: 'account.changePassword', type: 'mutation', expect: { ...SIGNED_IN, stranger: 'BAD_REQUEST', owner: 'BAD_REQUEST', admin: 'BAD_REQUEST' }, input: () => ({ currentPassword: 'definitely-wrong', newPassword: 'another-password-1' }) },
  { path: 'account.sessions', type: 'query', expect: SIGNED_IN },
  // Your own sessions only, admin or not (admins end a user's sessions with users.endSessions).
  { path: 'account.revokeSession', type: 'mutation', expect: { ...OWNED, admin: 'NOT_FOUND' }, input: async f => ({ id: await f.freshOwnerSession() }) },
  { path: 'account.revokeOtherSessions', type: 'mutation', expect: SIGNED_IN },
  // Your own progress only: the owner's fixtures tick their steps, the stranger's stay unticked.
  { path: 'account.onboarding', type: 'query', expect: SIGNED_IN, check: (r, role) => {
    const steps = r as Record<string, boolean>
    if (role === 'stranger' && (steps.product || steps.license || steps.webhook)) throw new Error('the stranger\'s checklist shows the owner\'s objects')
    if (role === 'owner' && !(steps.product && steps.license && steps.webhook)) throw new Error(`the owner's checklist misses their objects: ${JSON.stringify(steps)}`)
  } },

  { path: 'users.list', type: 'query', expect: ADMIN_ONLY, input: () => ({}) },
  { path: 'users.get', type: 'query', expect: ADMIN_ONLY, input: f => ({ id: f.targetUserId }) },
  { path: 'users.create', type: 'mutation', expect: ADMIN_ONLY, input: () => ({ email: `matrix-${Math.random().toString(36).slice(2)}@example.com` }) },
  { path: 'users.update', type: 'mutation', expect: ADMIN_ONLY, input: f => ({ id: f.targetUserId, name: 'Matrix' }) },
  { path: 'users.setDisabled', type: 'mutation', expect: ADMIN_ONLY, input: f => ({ id: f.targetUserId, disabled: false }) },
  { path: 'users.endSessions', type: 'mutation', expect: ADMIN_ONLY, input: f => ({ id: f.targetUserId }) },

  { path: 'products.list', type: 'query', expect: SIGNED_IN, input: () => ({}), check: onlyOwn(f => f.ownerProductId, r => (r as Items).items) },
  { path: 'products.list', variant: 'ownerId', type: 'query', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId }) },
  { path: 'products.get', type: 'query', expect: OWNED, input: f => ({ id: f.ownerProductId }) },
  { path: 'products.create', type: 'mutation', expect: SIGNED_IN, input: () => ({ name: 'Matrix', slug: `matrix-${Math.random().toString(36).slice(2, 8)}` }) },
  { path: 'products.create', variant: 'ownerId', type: 'mutation', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId, name: 'Planted', slug: `planted-${Math.random().toString(36).slice(2, 8)}` }) },
  { path: 'products.update', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerProductId, name: 'Matrix product', defaults: { maxDevices: 2 } }) },
  { path: 'products.delete', type: 'mutation', expect: OWNED, input: async f => ({ id: await f.freshProduct() }) },
  // A license is always for a product of its owner: another owner's product is not found.
  { path: 'licenses.create', variant: 'product', type: 'mutation', expect: { ...OWNED, admin: 'NOT_FOUND' }, input: f => ({ product: f.ownerProductId, label: 'foreign product' }) },
  { path: 'licenses.list', type: 'query', expect: SIGNED_IN, input: () => ({}), check: onlyOwn(f => f.ownerLicenseId, r => (r as Items).items) },
  { path: 'licenses.list', variant: 'ownerId', type: 'query', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId }) },
  { path: 'licenses.get', type: 'query', expect: OWNED, input: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.reveal', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.create', type: 'mutation', expect: SIGNED_IN, input: () => ({ label: 'matrix' }) },
  { path: 'licenses.create', variant: 'ownerId', type: 'mutation', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId, label: 'planted' }) },
  { path: 'licenses.update', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerLicenseId, label: 'matrix', maxDevices: 5 }) },
  { path: 'licenses.suspend', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.reinstate', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.renew', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerLicenseId, expiresIn: '30d' }) },
  { path: 'licenses.freeDevice', type: 'mutation', expect: OWNED, input: async f => ({ id: f.ownerLicenseId, deviceId: (await f.freshDevice()).deviceId }) },
  { path: 'licenses.freeDevice', variant: 'owner device', type: 'mutation', expect: { ...OWNED, owner: 'NOT_FOUND', admin: 'NOT_FOUND' }, input: async f => ({ id: await f.freshLicense(), deviceId: f.ownerDeviceId }) },
  { path: 'licenses.delete', type: 'mutation', expect: OWNED, input: async f => ({ id: await f.freshLicense() }) },

  { path: 'log.list', type: 'query', expect: ADMIN_ONLY, input: f => ({ userId: f.ownerId, limit: 5 }) },
  { path: 'log.mine', type: 'query', expect: SIGNED_IN, input: () => ({ limit: 100 }), check: (r, role, f) => {
    const mine = role === 'stranger' ? f.strangerId : role === 'owner' ? f.ownerId : null
    if (mine && (r as Items).items.some(e => e.ownerId !== mine)) throw new Error(`log.mine showed another owner's events to ${role}`)
  } },
  // Filtering your own log by another owner's license finds nothing (the owner filter is in the WHERE clause).
  { path: 'log.mine', variant: 'licenseId', type: 'query', expect: SIGNED_IN, input: f => ({ licenseId: f.ownerLicenseId, limit: 100 }), check: (r, role) => {
    if (role !== 'owner' && (r as Items).items.length) throw new Error(`log.mine listed another owner's license events to ${role}`)
  } },
  { path: 'log.lostEvents', type: 'query', expect: ADMIN_ONLY },
  { path: 'log.validationChart', type: 'query', expect: ADMIN_ONLY, input: f => ({ userId: f.ownerId }) },
  { path: 'log.myValidationChart', type: 'query', expect: SIGNED_IN, input: () => ({}) },

  { path: 'webhooks.list', type: 'query', expect: SIGNED_IN, input: () => ({}), check: onlyOwn(f => f.ownerWebhookId, r => r as Listed) },
  { path: 'webhooks.list', variant: 'ownerId', type: 'query', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId }) },
  { path: 'webhooks.get', type: 'query', expect: OWNED, input: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.create', type: 'mutation', expect: SIGNED_IN, input: () => ({ url: 'https://example.com/matrix', enabled: false }) },
  { path: 'webhooks.create', variant: 'ownerId', type: 'mutation', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId, url: 'https://example.com/planted', enabled: false }) },
  { path: 'webhooks.update', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerWebhookId, description: 'matrix' }) },
  { path: 'webhooks.delete', type: 'mutation', expect: OWNED, input: async f => ({ id: await f.freshWebhook() }) },
  { path: 'webhooks.revealSecret', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.rotateSecret', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerWebhookId, overlapHours: 1 }) },
  { path: 'webhooks.deliveries', type: 'query', expect: OWNED, input: f => ({ endpointId: f.ownerWebhookId }) },
  // The endpoint is disabled: once it is found, the test event is refused for that.
  { path: 'webhooks.sendTest', type: 'mutation', expect: { ...OWNED, owner: 'BAD_REQUEST', admin: 'BAD_REQUEST' }, input: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.replay', type: 'mutation', expect: OWNED, input: f => ({ id: f.ownerDeliveryId }) },

  { path: 'tokens.mine', type: 'query', expect: SIGNED_IN, check: (r, role, f) => {
    const mine = role === 'stranger' ? f.strangerId : role === 'owner' ? f.ownerId : null
    if (mine && (r as Listed).some(t => t.ownerId !== mine)) throw new Error(`tokens.mine showed another owner's tokens to ${role}`)
  } },
  { path: 'tokens.all', type: 'query', expect: ADMIN_ONLY, input: () => ({}) },
  { path: 'tokens.create', type: 'mutation', expect: SIGNED_IN, input: () => ({ name: 'matrix' }) },
  { path: 'tokens.create', variant: 'ownerId', type: 'mutation', expect: NAMING_OWNER, input: f => ({ ownerId: f.ownerId, name: 'planted' }) },
  { path: 'tokens.revoke', type: 'mutation', expect: OWNED, input: async f => ({ id: await f.freshToken() }) },

  { path: 'settings.integration', type: 'query', expect: SIGNED_IN },
  { path: 'settings.signing', type: 'query', expect: ADMIN_ONLY },

  // The web app's plain routes.
  { path: 'GET /api/log/export', type: 'http', expect: ADMIN_ONLY },
]

const HTTP_OUTCOME: Record<number, Outcome> = { 200: 'OK', 400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' }

/** Run one case as `caller`: OK and the answer, or the refusal's code. */
export async function run(caller: Caller, c: MatrixCase, input: unknown): Promise<{ outcome: Outcome | string, result?: unknown }> {
  if (c.type === 'http') {
    const [method, path] = c.path.split(' ') as [string, string]
    const res = await caller.fetch(`${caller.baseUrl}${path}`, { method })
    const body = await res.text()
    return { outcome: HTTP_OUTCOME[res.status] ?? `HTTP ${res.status}`, result: body }
  }
  try {
    const result = c.type === 'query' ? await caller.raw.query(c.path, input) : await caller.raw.mutation(c.path, input)
    return { outcome: 'OK', result }
  }
  catch (error) {
    if (error instanceof TRPCClientError) return { outcome: (error.data as { code: string }).code }
    throw error
  }
}

/**
 * Every row of every table of the worker's D1 (sessions without last-seen and API tokens without
 * last-used, which a request may touch): equal before and after a refused call means it changed nothing — no status, expiry,
 * device, secret, session or event.
 */
export async function snapshot(w: TestWorker): Promise<string> {
  const { results: tables } = await w.env.DB.prepare(
    `select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%' and name <> 'd1_migrations' order by name`,
  ).all<{ name: string }>()
  const dump: Record<string, unknown[]> = {}
  for (const { name } of tables) {
    const { results } = await w.env.DB.prepare(`select * from "${name}" order by rowid`).all<Record<string, unknown>>()
    // Sessions' last-seen and API tokens' last-used are written by any request.
    dump[name] = name === 'sessions' ? results.map(({ last_seen_at: _, ...rest }) => rest) : name === 'api_tokens' ? results.map(({ last_used_at: _, ...rest }) => rest) : results
  }
  return JSON.stringify(dump)
}
