import { eq, type SQL } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { UserRole } from '../../db/schema'
import type { Actor } from './context'
import { ServiceError } from './errors'

/**
 * Authorization, in one place (docs/authorization.md). Every door — the web app's tRPC tiers, the
 * CSV export route, the CLI and the management API — turns its caller into a Principal and asks
 * these functions what it may see and do. The answer for objects is a scope that goes into the
 * WHERE clause, so another owner's object is simply not found (NOT_FOUND, the same answer as for
 * an object that does not exist); role-gated abilities (admin-only procedures, acting for another
 * owner, writing with a read-only token) are refused with FORBIDDEN.
 */

/** Who is asking. */
export type Principal =
  /** A person signed in to the web app (the session row was checked this request). */
  | { kind: 'user', userId: string, role: UserRole, readOnly: false, sessionId: string }
  /** An API token acting with its owner's rights (an admin's token sees all owners). */
  | { kind: 'token', userId: string, role: UserRole, readOnly: boolean, tokenId: string }
  /** The server's operator through the CLI: acts as an administrator, for no particular user. */
  | { kind: 'cli', userId: null, role: 'admin', readOnly: false }

export const CLI_PRINCIPAL: Principal = Object.freeze({ kind: 'cli', userId: null, role: 'admin', readOnly: false })

export function sessionPrincipal(session: { id: string, user: { id: string, role: UserRole } }): Principal {
  return { kind: 'user', userId: session.user.id, role: session.user.role, readOnly: false, sessionId: session.id }
}

export function tokenPrincipal(token: { id: string, userId: string, role: UserRole, readOnly: boolean }): Principal {
  return { kind: 'token', userId: token.userId, role: token.role, readOnly: token.readOnly, tokenId: token.id }
}

/** Whose objects a principal sees: every owner's, or one owner's. */
export type OwnerScope = { all: true } | { ownerId: string }

export const isAdmin = (p: Principal): boolean => p.role === 'admin'

/** The scope of everything a principal may see and touch: admins and the CLI all owners, a user their own. */
export function scopeOf(p: Principal): OwnerScope {
  return isAdmin(p) || p.userId === null ? { all: true } : { ownerId: p.userId }
}

/** The principal's own objects only, admin or not (the Activity page, the account's sessions). */
export function ownScopeOf(p: Principal): { ownerId: string } {
  if (p.userId === null) throw new ServiceError('BAD_REQUEST', 'This needs a user; the CLI acts for none')
  return { ownerId: p.userId }
}

/**
 * The scope as a WHERE condition on an owner column (undefined = no condition, for all owners).
 * Use it in every query, update and delete that reads or touches an owned object, together with
 * the object's id: a row outside the scope is never read, so it answers NOT_FOUND.
 */
export function ownedBy(scope: OwnerScope, ownerColumn: SQLiteColumn): SQL | undefined {
  return 'ownerId' in scope ? eq(ownerColumn, scope.ownerId) : undefined
}

/** Admin-only abilities (user management, the system log, its export). */
export function requireAdmin(p: Principal): void {
  if (!isAdmin(p)) throw new ServiceError('FORBIDDEN', 'Admins only')
}

/** Any change: refused to read-only API tokens. */
export function requireWrite(p: Principal): void {
  if (p.readOnly) throw new ServiceError('FORBIDDEN', 'This API token is read-only')
}

/**
 * Naming an owner — `ownerId` on a create, or as a list filter — is an admin's ability: a user may
 * only name themselves. Refused with FORBIDDEN whether or not that user exists, so the answer says
 * nothing about other accounts. Returns the owner named (undefined when none was).
 */
export function namedOwner(p: Principal, requested: string | undefined): string | undefined {
  if (requested !== undefined && requested !== p.userId && !isAdmin(p)) {
    throw new ServiceError('FORBIDDEN', 'Only admins act for other users', { ownerId: ['Only admins act for other users'] })
  }
  return requested
}

/** Whom a new object belongs to: the owner named (checked by namedOwner), else the principal itself. */
export function ownerForCreate(p: Principal, requested: string | undefined): string {
  const owner = namedOwner(p, requested) ?? p.userId
  if (owner === null) throw new ServiceError('BAD_REQUEST', 'Name the owner', { ownerId: ['Name the owner'] })
  return owner
}

/** How the principal appears in the audit log (a token by its id, never its secret). */
export function actorOf(p: Principal): Actor {
  switch (p.kind) {
    case 'user': return { type: 'user', id: p.userId }
    case 'token': return { type: 'token', id: p.tokenId }
    case 'cli': return { type: 'cli', id: null }
  }
}
