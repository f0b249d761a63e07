import { z } from 'zod'
import { idSchema } from './common'
import { durationSchema } from './licenses'

/** API tokens of the management API (docs/management-api.md). */
export const API_TOKEN_RE = /^lm_[0-9A-HJKMNP-TV-Z]{40}$/
export const tokenNameSchema = z.string().trim().min(1, 'Give the token a name').max(100, 'At most 100 characters')

export const createApiTokenSchema = z.object({
  /** Admins (and the CLI) may create a token for another user; omitted = yourself. */
  ownerId: idSchema.optional(),
  name: tokenNameSchema,
  /** A read-only token may list and read, never change anything. */
  readOnly: z.boolean().default(false),
  /** Lifetime from now (e.g. 90d); absent or null = never expires. */
  expiresIn: durationSchema.nullable().optional(),
})
export type CreateApiTokenInput = z.input<typeof createApiTokenSchema>

export const listApiTokensSchema = z.object({
  /** Admins only: one owner's tokens. */
  ownerId: idSchema.optional(),
  /** Include revoked tokens (default: yes, so the history stays visible). */
  includeRevoked: z.boolean().default(true),
}).default({ includeRevoked: true })

export const apiTokenIdSchema = z.object({ id: idSchema })

export const TOKEN_EXPIRY_PRESETS = ['never', '30d', '90d', '1y'] as const
/** The create form of the Account page's API tokens card. */
export const createApiTokenFormSchema = z.object({
  name: tokenNameSchema,
  readOnly: z.boolean(),
  expiry: z.enum(TOKEN_EXPIRY_PRESETS),
})
export type CreateApiTokenFormInput = z.input<typeof createApiTokenFormSchema>
