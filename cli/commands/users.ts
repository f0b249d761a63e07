import type { z } from 'zod'
import { createUserSchema } from '../../shared/schemas/users'
import { requireAdmin } from '../../server/services/authz'
import type { ServiceContext } from '../../server/services/context'
import { createUser, listUsers } from '../../server/services/users'
import { str, UsageError, type Parsed } from '../args'
import { principalOf, type Command } from '../command'

export const userFlags = { email: 'string', name: 'string', role: 'string', password: 'string', 'verify-limit': 'string' } as const

export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!
  return `${issue.path.length ? `--${issue.path.join('.')}: ` : ''}${issue.message}`
}

export async function userAdd(ctx: ServiceContext, { flags }: Parsed) {
  if (!str(flags, 'email')) throw new UsageError('user add needs --email')
  const limit = str(flags, 'verify-limit')
  const parsed = createUserSchema.safeParse({
    email: str(flags, 'email'),
    name: str(flags, 'name'),
    role: str(flags, 'role'),
    password: str(flags, 'password'),
    verifyLimitPerMinute: limit === undefined ? undefined : Number(limit),
  })
  if (!parsed.success) throw new UsageError(firstIssue(parsed.error))
  requireAdmin(principalOf(ctx))
  return await createUser(ctx, parsed.data)
}

export async function userList(ctx: ServiceContext) {
  requireAdmin(principalOf(ctx))
  const all = []
  let cursor: string | undefined
  do {
    const page = await listUsers(ctx, { limit: 100, cursor })
    all.push(...page.items)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return all
}

export const userCommands: Record<string, Command> = {
  'user add': {
    flags: userFlags,
    prepare: args => async (ctx) => {
      const { user, generatedPassword } = await userAdd(ctx, args)
      return {
        output: { ...user, ...(generatedPassword ? { password: generatedPassword } : {}) },
        human: `Added ${user.role} ${user.email} (${user.id})${generatedPassword ? `\nPassword (shown once): ${generatedPassword}` : ''}`,
      }
    },
  },
  'user list': {
    flags: {},
    prepare: () => async (ctx) => {
      const users = await userList(ctx)
      return {
        output: { users },
        human: users.length === 0
          ? 'No users.'
          : users.map(u => `${u.id}  ${u.email.padEnd(32)} ${u.role.padEnd(6)} ${u.disabled ? 'disabled' : 'active'}`).join('\n'),
      }
    },
  },
}
