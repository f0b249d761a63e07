import type { Caller } from './client'

/**
 * The authorization matrix: every tRPC procedure, who may call it, and a sample input.
 * A new procedure joins by one line here; tests/integration/authz.test.ts fails until it does.
 */
export type Access = 'public' | 'user' | 'admin'

export interface Fixtures {
  /** A throwaway user the admin procedures act on. */
  targetUserId: string
  /** A session that belongs to the "owner" user (for other-user checks). */
  ownerSessionId: string
  /** A licence of the "owner" user, with one device; and one that admins may delete. */
  ownerLicenseId: string
  ownerDeviceId: string
  deletableLicenseId: string
  ownerId: string
  /** A (disabled, so nothing is sent) webhook endpoint of the "owner" user with one delivery; and one that admins may delete. */
  ownerWebhookId: string
  ownerDeliveryId: string
  deletableWebhookId: string
  /** Credentials of a plain user (login must succeed for everyone). */
  login: { email: string, password: string }
}

export interface ProcedureSpec {
  path: string
  type: 'query' | 'mutation'
  access: Access
  input?: (f: Fixtures) => unknown
  /** For procedures on a user's own object: input naming another user's object must answer NOT_FOUND. */
  foreignInput?: (f: Fixtures) => unknown
  /** The refusal expected for foreignInput (default NOT_FOUND: the object is invisible, not forbidden). */
  foreignCode?: 'NOT_FOUND' | 'FORBIDDEN'
}

export const PROCEDURES: ProcedureSpec[] = [
  { path: 'auth.me', type: 'query', access: 'public' },
  { path: 'auth.login', type: 'mutation', access: 'public', input: f => f.login },
  { path: 'auth.logout', type: 'mutation', access: 'user' },
  { path: 'account.profile', type: 'query', access: 'user' },
  { path: 'account.updateProfile', type: 'mutation', access: 'user', input: () => ({ name: 'Matrix' }) },
  { path: 'account.changePassword', type: 'mutation', access: 'user', input: () => ({ currentPassword: 'definitely-wrong', newPassword: 'another-password-1' }) },
  { path: 'account.sessions', type: 'query', access: 'user' },
  { path: 'account.revokeSession', type: 'mutation', access: 'user', input: () => ({ id: 'ses_doesnotexist' }), foreignInput: f => ({ id: f.ownerSessionId }) },
  { path: 'account.revokeOtherSessions', type: 'mutation', access: 'user' },
  { path: 'users.list', type: 'query', access: 'admin', input: () => ({}) },
  { path: 'users.get', type: 'query', access: 'admin', input: f => ({ id: f.targetUserId }) },
  { path: 'users.create', type: 'mutation', access: 'admin', input: () => ({ email: `matrix-${Math.random().toString(36).slice(2)}@example.com` }) },
  { path: 'users.update', type: 'mutation', access: 'admin', input: f => ({ id: f.targetUserId, name: 'Matrix' }) },
  { path: 'users.setDisabled', type: 'mutation', access: 'admin', input: f => ({ id: f.targetUserId, disabled: false }) },
  { path: 'users.endSessions', type: 'mutation', access: 'admin', input: f => ({ id: f.targetUserId }) },
  { path: 'licenses.list', type: 'query', access: 'user', input: () => ({}), foreignInput: f => ({ ownerId: f.ownerId }), foreignCode: 'FORBIDDEN' },
  { path: 'licenses.get', type: 'query', access: 'user', input: f => ({ id: f.ownerLicenseId }), foreignInput: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.reveal', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId }), foreignInput: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.create', type: 'mutation', access: 'user', input: () => ({ label: 'matrix' }), foreignInput: f => ({ ownerId: f.ownerId, label: 'planted' }), foreignCode: 'FORBIDDEN' },
  { path: 'licenses.update', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId, label: 'matrix' }), foreignInput: f => ({ id: f.ownerLicenseId, label: 'hijacked' }) },
  { path: 'licenses.suspend', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId }), foreignInput: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.reinstate', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId }), foreignInput: f => ({ id: f.ownerLicenseId }) },
  { path: 'licenses.renew', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId, expiresIn: '30d' }), foreignInput: f => ({ id: f.ownerLicenseId, expiresIn: '1y' }) },
  { path: 'licenses.freeDevice', type: 'mutation', access: 'user', input: f => ({ id: f.ownerLicenseId, deviceId: 'dev_doesnotexist' }), foreignInput: f => ({ id: f.ownerLicenseId, deviceId: f.ownerDeviceId }) },
  { path: 'licenses.delete', type: 'mutation', access: 'user', input: f => ({ id: f.deletableLicenseId }), foreignInput: f => ({ id: f.ownerLicenseId }) },
  { path: 'log.list', type: 'query', access: 'admin', input: f => ({ userId: f.ownerId, limit: 5 }) },
  { path: 'log.mine', type: 'query', access: 'user', input: () => ({ limit: 5 }) },
  { path: 'log.lostEvents', type: 'query', access: 'admin' },
  { path: 'log.validationChart', type: 'query', access: 'admin', input: f => ({ userId: f.ownerId }) },
  { path: 'log.myValidationChart', type: 'query', access: 'user', input: () => ({}) },
  { path: 'webhooks.list', type: 'query', access: 'user', input: () => ({}), foreignInput: f => ({ ownerId: f.ownerId }), foreignCode: 'FORBIDDEN' },
  { path: 'webhooks.get', type: 'query', access: 'user', input: f => ({ id: f.ownerWebhookId }), foreignInput: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.create', type: 'mutation', access: 'user', input: () => ({ url: 'https://example.com/matrix', enabled: false }), foreignInput: f => ({ ownerId: f.ownerId, url: 'https://example.com/planted' }), foreignCode: 'FORBIDDEN' },
  { path: 'webhooks.update', type: 'mutation', access: 'user', input: f => ({ id: f.ownerWebhookId, description: 'matrix' }), foreignInput: f => ({ id: f.ownerWebhookId, url: 'https://example.com/hijacked' }) },
  { path: 'webhooks.delete', type: 'mutation', access: 'user', input: f => ({ id: f.deletableWebhookId }), foreignInput: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.revealSecret', type: 'mutation', access: 'user', input: f => ({ id: f.ownerWebhookId }), foreignInput: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.rotateSecret', type: 'mutation', access: 'user', input: f => ({ id: f.ownerWebhookId, overlapHours: 1 }), foreignInput: f => ({ id: f.ownerWebhookId }) },
  { path: 'webhooks.deliveries', type: 'query', access: 'user', input: f => ({ endpointId: f.ownerWebhookId }), foreignInput: f => ({ endpointId: f.ownerWebhookId }) },
  { path: 'webhooks.sendTest', type: 'mutation', access: 'user', input: f => ({ id: f.ownerWebhookId }), foreignInput: f => ({ id: f.ownerWebhookId }) },
  { path: 'settings.integration', type: 'query', access: 'user' },
  { path: 'settings.signing', type: 'query', access: 'admin' },
  { path: 'webhooks.replay', type: 'mutation', access: 'user', input: f => ({ id: f.ownerDeliveryId }), foreignInput: f => ({ id: f.ownerDeliveryId }) },
]

export async function call(caller: Caller, spec: ProcedureSpec, input: unknown) {
  return spec.type === 'query' ? await caller.raw.query(spec.path, input) : await caller.raw.mutation(spec.path, input)
}
