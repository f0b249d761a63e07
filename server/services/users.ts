import { and, asc, count, eq, exists, gt, ne, or, sql } from 'drizzle-orm'
import type { z } from 'zod'
import { sessions, users, userSortKeys, type User } from '../../db/schema'
import type { SortDirection } from '../../shared/schemas/common'
import type { createUserSchema, listUsersSchema, updateUserSchema, USER_SORTS } from '../../shared/schemas/users'
import { changesAnything } from '../lib/insert-where'
import { hashPassword, verifyPassword } from '../lib/passwords'
import { containsPattern, sortedKeyset } from '../lib/paging'
import { generatePassword, newId } from '../lib/random'
import { newAttempt, reservePasswordAttempt, settleAttempt, THROTTLE_RETRY_SECONDS, withPasswordCheckSlot } from './auth-attempts'
import { nowOf, type ServiceContext } from './context'
import { notFound, ServiceError } from './errors'
import { recordEvent, recordEventWhere } from './events'
import { deleteUserSessions } from './sessions'

/** What leaves the service about a user: never the password hash. */
export function publicUser(u: User) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    disabled: u.disabled,
    verifyLimitPerMinute: u.verifyLimitPerMinute,
    lastLoginAt: u.lastLoginAt,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  }
}
export type PublicUser = ReturnType<typeof publicUser>

/** Another active admin must remain: guards demoting or disabling the last one (checked in SQL). */
const anotherActiveAdmin = (id: string) =>
  sql`(select count(*) from users a where a.role = 'admin' and a.disabled = 0 and a.id <> ${id}) > 0`

export async function countUsers(ctx: ServiceContext): Promise<number> {
  const [row] = await ctx.db.select({ n: count() }).from(users)
  return row?.n ?? 0
}

export async function getUser(ctx: ServiceContext, id: string) {
  const [u] = await ctx.db.select().from(users).where(eq(users.id, id)).limit(1)
  if (!u) throw notFound('User')
  return publicUser(u)
}

export async function findUserByEmail(ctx: ServiceContext, email: string) {
  const [u] = await ctx.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).limit(1)
  return u ? publicUser(u) : null
}

/** One page of the users list as a query (its plan is checked in tests/integration/list-sorting.test.ts). */
export function userPageQuery(ctx: ServiceContext, input: z.output<typeof listUsersSchema>) {
  const now = nowOf(ctx)
  const term = input.search ? containsPattern(input.search.toLowerCase()) : null
  const order = userOrder(input.sort, input.cursor)
  const query = ctx.db
    .select({
      user: users,
      // Raw column names: drizzle renders columns unqualified inside sql``, which a correlated subquery can't use.
      activeSessions: sql<number>`(select count(*) from sessions s where s.user_id = users.id and s.expires_at > ${now.getTime()})`,
      sortValue: order.value,
    })
    .from(users)
    .where(and(
      term ? or(sql`${users.email} like ${term} escape '\\'`, sql`lower(${users.name}) like ${term} escape '\\'`) : undefined,
      input.role ? eq(users.role, input.role) : undefined,
      input.status ? eq(users.disabled, input.status === 'disabled') : undefined,
      order.where,
    ))
    .orderBy(...order.orderBy)
    .limit(input.limit + 1)
  return { query, order, now }
}

export async function listUsers(ctx: ServiceContext, input: z.output<typeof listUsersSchema>) {
  const { query, order } = userPageQuery(ctx, input)
  const rows = await query
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    items: page.map(r => ({ ...publicUser(r.user), activeSessions: r.activeSessions })),
    nextCursor: rows.length > input.limit && last ? order.cursorOf({ sortValue: last.sortValue, id: last.user.id, email: last.user.email }) : null,
  }
}

/**
 * By email A–Z by default (cursor: the last email, as the CLI pages), or by email / last sign-in in
 * either direction, ties broken by id (emails are unique; the users_* indexes of db/schema/users.ts).
 */
function userOrder(sort: { by: (typeof USER_SORTS)[number], dir: SortDirection } | undefined, cursor: string | undefined) {
  if (!sort || (sort.by === 'email' && sort.dir === 'asc')) {
    return {
      value: sql<string>`${users.email}`,
      where: cursor ? gt(users.email, cursor) : undefined,
      orderBy: [asc(users.email)],
      cursorOf: (last: { email: string }) => last.email,
    }
  }
  const expr = sort.by === 'email' ? sql`${users.email}` : userSortKeys(users).lastLoginAt
  return { value: sql<string | number>`${expr}`, ...sortedKeyset(sort.by, expr, users.id, sort.dir, cursor) }
}

export async function createUser(ctx: ServiceContext, input: z.output<typeof createUserSchema>) {
  const existing = await findUserByEmail(ctx, input.email)
  if (existing) throw new ServiceError('CONFLICT', 'A user with this email already exists', { email: ['A user with this email already exists'] })
  const generatedPassword = input.password ? null : generatePassword()
  const now = nowOf(ctx)
  const row = {
    id: newId('usr'),
    email: input.email,
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password ?? generatedPassword!),
    disabled: false,
    verifyLimitPerMinute: input.verifyLimitPerMinute ?? null,
    createdAt: now,
    updatedAt: now,
    passwordChangedAt: now,
  }
  try {
    await ctx.db.batch([
      ctx.db.insert(users).values(row),
      recordEvent(ctx, { type: 'user.created', outcome: 'success', subjectType: 'user', subjectId: row.id, ownerId: row.id, detail: { email: row.email, role: row.role } }),
    ])
  }
  catch (error) {
    // Two creations racing on one email: the unique index decides.
    if (String((error as Error)?.message ?? error).includes('UNIQUE')) {
      throw new ServiceError('CONFLICT', 'A user with this email already exists', { email: ['A user with this email already exists'] })
    }
    throw error
  }
  return { user: publicUser({ ...row, lastLoginAt: null }), generatedPassword }
}

export async function updateUser(ctx: ServiceContext, input: z.output<typeof updateUserSchema>) {
  const before = await getUser(ctx, input.id)
  const changes: Partial<User> = {}
  if (input.name !== undefined) changes.name = input.name
  if (input.role !== undefined) changes.role = input.role
  if (input.verifyLimitPerMinute !== undefined) changes.verifyLimitPerMinute = input.verifyLimitPerMinute
  if (Object.keys(changes).length === 0) return before
  const demoting = before.role === 'admin' && input.role === 'user'
  const target = and(eq(users.id, input.id), demoting ? anotherActiveAdmin(input.id) : undefined, changesAnything(users, changes))
  // The event on the update's own condition: no event for a refused demotion or an unchanged user.
  const event = recordEventWhere(ctx, {
    type: 'user.updated',
    outcome: 'success',
    subjectType: 'user',
    subjectId: input.id,
    ownerId: input.id,
    detail: { changed: Object.keys(changes), ...(input.role ? { role: input.role } : {}), ...(input.verifyLimitPerMinute !== undefined ? { verifyLimitPerMinute: input.verifyLimitPerMinute } : {}) },
  }, exists(ctx.db.select({ one: sql`1` }).from(users).where(target)))
  const [, updated] = await ctx.db.batch([
    event.insert,
    ctx.db.update(users).set({ ...changes, updatedAt: nowOf(ctx) }).where(target).returning(),
  ])
  if (updated[0]) return publicUser(updated[0])
  const current = await getUser(ctx, input.id)
  if (demoting && current.role === 'admin') throw new ServiceError('CONFLICT', 'The last active admin cannot be demoted', { role: ['The last active admin cannot be demoted'] })
  return current // nothing to change
}

/** Disable (ends every session at once) or re-enable a user. */
export async function setUserDisabled(ctx: ServiceContext, id: string, disabled: boolean) {
  if (disabled && ctx.actor.type === 'user' && ctx.actor.id === id) {
    throw new ServiceError('BAD_REQUEST', 'You cannot disable your own account')
  }
  await getUser(ctx, id)
  const target = and(eq(users.id, id), ne(users.disabled, disabled), disabled ? anotherActiveAdmin(id) : undefined)
  const event = recordEventWhere(ctx, { type: disabled ? 'user.disabled' : 'user.enabled', outcome: 'success', subjectType: 'user', subjectId: id, ownerId: id },
    exists(ctx.db.select({ one: sql`1` }).from(users).where(target)))
  const [, updated] = await ctx.db.batch([
    event.insert,
    ctx.db.update(users).set({ disabled, updatedAt: nowOf(ctx) }).where(target).returning(),
    ...(disabled ? [deleteUserSessions(ctx, id)] : []),
  ])
  if (!updated[0]) {
    const current = await getUser(ctx, id)
    if (current.disabled === disabled) return current // already in the requested state
    throw new ServiceError('CONFLICT', 'The last active admin cannot be disabled')
  }
  return publicUser(updated[0])
}

export async function endUserSessions(ctx: ServiceContext, id: string) {
  await getUser(ctx, id)
  const event = recordEventWhere(ctx, { type: 'session.ended', outcome: 'success', subjectType: 'user', subjectId: id, ownerId: id, detail: { reason: 'admin' } },
    exists(ctx.db.select({ one: sql`1` }).from(sessions).where(eq(sessions.userId, id))))
  const [, deleted] = await ctx.db.batch([event.insert, deleteUserSessions(ctx, id)])
  return { ended: deleted.length }
}

/**
 * Change one's own password: checks the current one (reserved against its throttle before hashing,
 * in a password-check slot: server/services/auth-attempts.ts); ends every other session.
 */
export async function changePassword(ctx: ServiceContext, userId: string, currentPassword: string, newPassword: string, keepSessionId: string) {
  return await withPasswordCheckSlot(async () => {
    const attempt = newAttempt(ctx, 'password', userId)
    const [reserved, [u]] = await ctx.db.batch([
      reservePasswordAttempt(ctx, attempt),
      ctx.db.select().from(users).where(eq(users.id, userId)).limit(1),
    ])
    if (!u) throw notFound('User')
    const subject = { subjectType: 'user', subjectId: userId, ownerId: userId }
    if (reserved.length === 0) {
      await recordEvent(ctx, { ...subject, type: 'user.password_changed', outcome: 'failure', detail: { reason: 'throttled' } })
      throw new ServiceError('TOO_MANY_REQUESTS', 'Too many wrong current passwords. Try again in a few minutes.', undefined, THROTTLE_RETRY_SECONDS)
    }
    if (!(await verifyPassword(currentPassword, u.passwordHash))) {
      await ctx.db.batch([
        settleAttempt(ctx, attempt, 'failed'),
        recordEvent(ctx, { ...subject, type: 'user.password_changed', outcome: 'failure', detail: { reason: 'wrong-current-password' } }),
      ])
      throw new ServiceError('BAD_REQUEST', 'Current password is incorrect', { currentPassword: ['Current password is incorrect'] })
    }
    if (currentPassword === newPassword) {
      await settleAttempt(ctx, attempt, 'succeeded')
      throw new ServiceError('BAD_REQUEST', 'Choose a password different from the current one', { newPassword: ['Choose a password different from the current one'] })
    }
    const now = nowOf(ctx)
    const [, ended] = await ctx.db.batch([
      ctx.db.update(users).set({ passwordHash: await hashPassword(newPassword), passwordChangedAt: now, updatedAt: now }).where(eq(users.id, userId)),
      deleteUserSessions(ctx, userId, keepSessionId),
      settleAttempt(ctx, attempt, 'succeeded'),
      recordEvent(ctx, { ...subject, type: 'user.password_changed', outcome: 'success' }),
    ])
    return { endedSessions: ended.length }
  })
}

export async function updateProfile(ctx: ServiceContext, userId: string, name: string) {
  const [updated] = await ctx.db.batch([
    ctx.db.update(users).set({ name, updatedAt: nowOf(ctx) }).where(eq(users.id, userId)).returning(),
    recordEvent(ctx, { type: 'user.updated', outcome: 'success', subjectType: 'user', subjectId: userId, ownerId: userId, detail: { changed: ['name'] } }),
  ])
  if (!updated[0]) throw notFound('User')
  return publicUser(updated[0])
}

