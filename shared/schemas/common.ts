import { z } from 'zod'

/** Shared by forms (UForm :schema) and procedures (.input), so both give the same messages. */
export const emailSchema = z.string().trim().toLowerCase().min(3, 'Enter an email address').max(254, 'At most 254 characters').pipe(z.email('Enter a valid email address'))

export const newPasswordSchema = z.string()
  .min(10, 'At least 10 characters')
  .max(256, 'At most 256 characters')

export const nameSchema = z.string().trim().max(100, 'At most 100 characters')

export const idSchema = z.string().min(1).max(64).regex(/^[a-z]{3}_[0-9a-z]{1,40}$/, 'Invalid id')

export const USER_ROLES = ['admin', 'user'] as const
export const roleSchema = z.enum(USER_ROLES)

/** Per-user public API calls per minute; null = installation default. */
export const verifyLimitSchema = z.number().int('Whole number').min(1, 'At least 1').max(1_000_000, 'At most 1,000,000').nullable()

/** A product's slug: what applications send as `product` to the public API. */
export const PRODUCT_SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/

/** A product id (prd_…) or its slug: they never look alike (ids have an underscore, slugs cannot). */
export const productRefSchema = z.string().trim().min(1, 'Choose a product').max(64)
  .refine(v => idSchema.safeParse(v).success || PRODUCT_SLUG_RE.test(v), 'A product id (prd_…) or slug')
export const isProductId = (ref: string) => ref.includes('_')

export const SORT_DIRECTIONS = ['asc', 'desc'] as const
export type SortDirection = (typeof SORT_DIRECTIONS)[number]
/**
 * A list's server-side order (docs/ui.md, "Sorting"): one of the list's sortable columns and a
 * direction; absent = the list's default order. Closed enums: anything else is a 400.
 */
export const sortSchema = <const K extends readonly [string, ...string[]]>(keys: K) =>
  z.strictObject({ by: z.enum(keys), dir: z.enum(SORT_DIRECTIONS) })
/** A keyset cursor as a list gave it (sorted lists carry their sort key's value: longer). */
export const listCursorSchema = z.string().max(2000)
