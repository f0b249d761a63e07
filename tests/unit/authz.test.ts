import { describe, expect, it } from 'vitest'
import { licenses } from '../../db/schema'
import { actorOf, CLI_PRINCIPAL, namedOwner, ownedBy, ownerForCreate, ownScopeOf, requireAdmin, requireWrite, scopeOf, sessionPrincipal, tokenPrincipal } from '../../server/services/authz'
import { ServiceError } from '../../server/services/errors'

const user = sessionPrincipal({ id: 'ses_1', user: { id: 'usr_a', role: 'user' } })
const admin = sessionPrincipal({ id: 'ses_2', user: { id: 'usr_admin', role: 'admin' } })
const readOnly = tokenPrincipal({ id: 'tok_1', userId: 'usr_a', role: 'user', readOnly: true })
const adminToken = tokenPrincipal({ id: 'tok_2', userId: 'usr_admin', role: 'admin', readOnly: false })

const codeOf = (fn: () => unknown) => {
  try {
    fn()
    return 'OK'
  }
  catch (e) {
    return e instanceof ServiceError ? e.code : 'THREW'
  }
}

describe('authorization helper', () => {
  it('scopes: a user (and their token) their own objects; admins, admin tokens and the CLI all', () => {
    expect(scopeOf(user)).toEqual({ ownerId: 'usr_a' })
    expect(scopeOf(readOnly)).toEqual({ ownerId: 'usr_a' })
    expect(scopeOf(admin)).toEqual({ all: true })
    expect(scopeOf(adminToken)).toEqual({ all: true })
    expect(scopeOf(CLI_PRINCIPAL)).toEqual({ all: true })
    expect(ownScopeOf(admin)).toEqual({ ownerId: 'usr_admin' })
    expect(codeOf(() => ownScopeOf(CLI_PRINCIPAL))).toBe('BAD_REQUEST')
  })

  it('puts a user scope into the WHERE clause and none for all owners', () => {
    expect(ownedBy({ all: true }, licenses.ownerId)).toBeUndefined()
    expect(ownedBy({ ownerId: 'usr_a' }, licenses.ownerId)).toBeDefined()
  })

  it('admin-only abilities and writes', () => {
    expect(codeOf(() => requireAdmin(user))).toBe('FORBIDDEN')
    expect(codeOf(() => requireAdmin(readOnly))).toBe('FORBIDDEN')
    expect(codeOf(() => requireAdmin(admin))).toBe('OK')
    expect(codeOf(() => requireAdmin(CLI_PRINCIPAL))).toBe('OK')
    expect(codeOf(() => requireWrite(readOnly))).toBe('FORBIDDEN')
    expect(codeOf(() => requireWrite(user))).toBe('OK')
  })

  it('naming an owner: yourself always, another only as an admin', () => {
    expect(namedOwner(user, undefined)).toBeUndefined()
    expect(namedOwner(user, 'usr_a')).toBe('usr_a')
    expect(codeOf(() => namedOwner(user, 'usr_b'))).toBe('FORBIDDEN')
    expect(namedOwner(admin, 'usr_b')).toBe('usr_b')
    expect(ownerForCreate(user, undefined)).toBe('usr_a')
    expect(codeOf(() => ownerForCreate(readOnly, 'usr_b'))).toBe('FORBIDDEN')
    expect(ownerForCreate(adminToken, 'usr_b')).toBe('usr_b')
    expect(ownerForCreate(CLI_PRINCIPAL, 'usr_b')).toBe('usr_b')
    expect(codeOf(() => ownerForCreate(CLI_PRINCIPAL, undefined))).toBe('BAD_REQUEST')
  })

  it('the audit actor: a user by id, a token by its id, the CLI', () => {
    expect(actorOf(user)).toEqual({ type: 'user', id: 'usr_a' })
    expect(actorOf(readOnly)).toEqual({ type: 'token', id: 'tok_1' })
    expect(actorOf(CLI_PRINCIPAL)).toEqual({ type: 'cli', id: null })
  })
})
