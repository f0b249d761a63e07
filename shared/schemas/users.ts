import { z } from 'zod'
import { emailSchema, idSchema, listCursorSchema, nameSchema, newPasswordSchema, roleSchema, sortSchema, verifyLimitSchema } from './common'

export const createUserSchema = z.object({
  email: emailSchema,
  name: nameSchema.default(''),
  role: roleSchema.default('user'),
  /** Absent = generate one and show it once. */
  password: newPasswordSchema.optional(),
  verifyLimitPerMinute: verifyLimitSchema.optional(),
})
export type CreateUserInput = z.input<typeof createUserSchema>

export const updateUserSchema = z.object({
  id: idSchema,
  name: nameSchema.optional(),
  role: roleSchema.optional(),
  verifyLimitPerMinute: verifyLimitSchema.optional(),
})
export type UpdateUserInput = z.infer<typeof updateUserSchema>

/** The users list's server-side sorts. */
export const USER_SORTS = ['email', 'lastLoginAt'] as const

export const listUsersSchema = z.object({
  search: z.string().trim().max(100).optional(),
  role: roleSchema.optional(),
  status: z.enum(['active', 'disabled']).optional(),
  /** Absent: by email, A to Z. */
  sort: sortSchema(USER_SORTS).optional(),
  limit: z.number().int().min(1).max(100).default(50),
  /** Keyset cursor as nextCursor gave it (by email A–Z: the last row's email). */
  cursor: listCursorSchema.optional(),
})

export const userIdSchema = z.object({ id: idSchema })
export const setDisabledSchema = z.object({ id: idSchema, disabled: z.boolean() })
