import { and, desc, eq, exists, lt, ne, or, sql, type SQL } from 'drizzle-orm'
import type { z } from 'zod'
import { licenses, products, productSortKeys, users, type Product } from '../../db/schema'
import type { SortDirection } from '../../shared/schemas/common'
import { isProductId, type createProductSchema, type listProductsSchema, type PRODUCT_SORTS, type updateProductSchema } from '../../shared/schemas/products'
import { containsPattern, decodeCursor, encodeCursor, sortedKeyset } from '../lib/paging'
import { newId } from '../lib/random'
import { ownedBy, type OwnerScope } from './authz'
import { nowOf, type ServiceContext } from './context'
import { notFound, ServiceError } from './errors'
import { recordEvent, recordEventWhere } from './events'

/**
 * Products (docs/products.md): a seller's apps or editions. A license belongs to at most one product
 * of its owner; the public API's optional `product` (a slug) must match it.
 */

const inScope = (scope: OwnerScope, id?: string): SQL | undefined => and(
  id ? eq(products.id, id) : undefined,
  ownedBy(scope, products.ownerId),
)

const licenseCount = sql<number>`(select count(*) from licenses l where l.product_id = products.id)`.as('license_count')

export type ProductView = ReturnType<typeof productView>

export function productView(p: Product, extra: { licenseCount: number, ownerEmail?: string | null }) {
  return {
    id: p.id,
    ownerId: p.ownerId,
    ownerEmail: extra.ownerEmail ?? null,
    name: p.name,
    slug: p.slug,
    defaults: p.defaults,
    licenseCount: Number(extra.licenseCount),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  }
}

const SLUG_TAKEN = 'You already have a product with this slug'
const slugTaken = () => new ServiceError('CONFLICT', SLUG_TAKEN, { slug: [SLUG_TAKEN] })
const isUniqueViolation = (error: unknown) => /UNIQUE constraint failed: products\.owner_id, products\.slug/.test(String((error as Error)?.message ?? error))

function productEvent(type: string, p: Pick<Product, 'id' | 'ownerId'>, detail?: Record<string, unknown>) {
  return { type, outcome: 'success', subjectType: 'product', subjectId: p.id, ownerId: p.ownerId, detail }
}

async function slugInUse(ctx: ServiceContext, ownerId: string, slug: string, exceptId?: string) {
  const [row] = await ctx.db.select({ id: products.id }).from(products)
    .where(and(eq(products.ownerId, ownerId), eq(products.slug, slug), exceptId ? ne(products.id, exceptId) : undefined)).limit(1)
  return !!row
}

export async function createProduct(ctx: ServiceContext, ownerId: string, input: z.output<typeof createProductSchema>) {
  const [owner] = await ctx.db.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, ownerId)).limit(1)
  if (!owner) throw new ServiceError('BAD_REQUEST', 'No such owner', { ownerId: ['No such user'] })
  if (await slugInUse(ctx, ownerId, input.slug)) throw slugTaken()
  const now = nowOf(ctx)
  const row: Product = { id: newId('prd'), ownerId, name: input.name, slug: input.slug, defaults: input.defaults, createdAt: now, updatedAt: now }
  try {
    await ctx.db.batch([
      ctx.db.insert(products).values(row),
      recordEvent(ctx, productEvent('product.created', row, { name: row.name, slug: row.slug })),
    ])
  }
  catch (error) {
    // Two creations racing on one slug: the unique index decides, and the batch wrote nothing.
    if (isUniqueViolation(error)) throw slugTaken()
    throw error
  }
  return productView(row, { licenseCount: 0, ownerEmail: owner.email })
}

/** One page of the products list as a query (its plan is checked in tests/integration/list-sorting.test.ts). */
export function productPageQuery(ctx: ServiceContext, scope: OwnerScope, input: z.output<typeof listProductsSchema>) {
  const term = input.search ? containsPattern(input.search.toLowerCase()) : null
  const order = productOrder(input.sort, input.cursor)
  const query = ctx.db.select({ product: products, licenseCount, ownerEmail: users.email, sortValue: order.value })
    .from(products)
    .innerJoin(users, eq(users.id, products.ownerId))
    .where(and(
      inScope(scope),
      input.ownerId ? eq(products.ownerId, input.ownerId) : undefined,
      term ? or(sql`lower(${products.name}) like ${term} escape '\\'`, sql`${products.slug} like ${term} escape '\\'`) : undefined,
      order.where,
    ))
    .orderBy(...order.orderBy)
    .limit(input.limit + 1)
  return { query, order }
}

export async function listProducts(ctx: ServiceContext, scope: OwnerScope, input: z.output<typeof listProductsSchema>) {
  const { query, order } = productPageQuery(ctx, scope, input)
  const rows = await query
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    items: page.map(r => productView(r.product, r)),
    nextCursor: rows.length > input.limit && last ? order.cursorOf({ sortValue: last.sortValue, id: last.product.id, createdAt: last.product.createdAt }) : null,
  }
}

/** Newest first by default (cursor "<ms>:<id>"), or by name / creation in either direction (db/schema/products.ts indexes). */
function productOrder(sort: { by: (typeof PRODUCT_SORTS)[number], dir: SortDirection } | undefined, cursor: string | undefined) {
  if (!sort || (sort.by === 'createdAt' && sort.dir === 'desc')) {
    let where: SQL | undefined
    if (cursor) {
      const { ms, id } = decodeCursor(cursor)
      const at = new Date(ms)
      where = or(lt(products.createdAt, at), and(eq(products.createdAt, at), lt(products.id, id)))
    }
    return {
      value: sql<number>`${products.createdAt}`,
      where,
      orderBy: [desc(products.createdAt), desc(products.id)],
      cursorOf: (last: { createdAt: Date, id: string }) => encodeCursor(last),
    }
  }
  const expr = sort.by === 'name' ? productSortKeys(products).name : sql`${products.createdAt}`
  return { value: sql<string | number>`${expr}`, ...sortedKeyset(sort.by, expr, products.id, sort.dir, cursor) }
}

async function findInScope(ctx: ServiceContext, scope: OwnerScope, id: string) {
  const [row] = await ctx.db.select({ product: products, licenseCount, ownerEmail: users.email })
    .from(products).innerJoin(users, eq(users.id, products.ownerId)).where(inScope(scope, id)).limit(1)
  if (!row) throw notFound('Product')
  return row
}

export async function getProduct(ctx: ServiceContext, scope: OwnerScope, id: string) {
  const row = await findInScope(ctx, scope, id)
  return productView(row.product, row)
}

/**
 * One of `ownerId`'s products by id or slug (a license's product is always its owner's). Another
 * owner's product is NOT_FOUND, like one that does not exist.
 */
export async function findOwnersProduct(ctx: ServiceContext, ownerId: string, ref: string): Promise<Product> {
  const [p] = await ctx.db.select().from(products)
    .where(and(eq(products.ownerId, ownerId), isProductId(ref) ? eq(products.id, ref) : eq(products.slug, ref))).limit(1)
  if (!p) throw new ServiceError('NOT_FOUND', 'Product not found', { product: ['No such product'] })
  return p
}

export async function updateProduct(ctx: ServiceContext, scope: OwnerScope, input: z.output<typeof updateProductSchema>) {
  const { product: before, ownerEmail, licenseCount: n } = await findInScope(ctx, scope, input.id)
  const changes: Partial<Product> = {}
  if (input.name !== undefined && input.name !== before.name) changes.name = input.name
  if (input.slug !== undefined && input.slug !== before.slug) {
    if (await slugInUse(ctx, before.ownerId, input.slug, before.id)) throw slugTaken()
    changes.slug = input.slug
  }
  if (input.defaults !== undefined && JSON.stringify(input.defaults) !== JSON.stringify(before.defaults)) changes.defaults = input.defaults
  if (Object.keys(changes).length === 0) return productView(before, { licenseCount: n, ownerEmail })
  const now = nowOf(ctx)
  const target = inScope(scope, input.id)
  // The event first, on the update's own condition (one transaction): no event without the change.
  const event = recordEventWhere(ctx, productEvent('product.updated', before, {
    changed: Object.keys(changes),
    ...(changes.slug ? { slug: changes.slug, previousSlug: before.slug } : {}),
  }), exists(ctx.db.select({ one: sql`1` }).from(products).where(target)))
  let updated: Product[]
  try {
    [, updated] = await ctx.db.batch([
      event.insert,
      ctx.db.update(products).set({ ...changes, updatedAt: now }).where(target).returning(),
    ])
  }
  catch (error) {
    if (isUniqueViolation(error)) throw slugTaken()
    throw error
  }
  if (!updated[0]) throw notFound('Product')
  return productView(updated[0], { licenseCount: n, ownerEmail })
}

/** Delete a product no license uses (checked in the DELETE itself, so a license created meanwhile keeps it). */
export async function deleteProduct(ctx: ServiceContext, scope: OwnerScope, id: string) {
  const { product: p } = await findInScope(ctx, scope, id)
  const target = and(inScope(scope, id), sql`not exists (select 1 from licenses l where l.product_id = ${id})`)
  // The event first, on the delete's own condition (one transaction): no event when nothing is deleted.
  const event = recordEventWhere(ctx, productEvent('product.deleted', p, { name: p.name, slug: p.slug }), exists(ctx.db.select({ one: sql`1` }).from(products).where(target)))
  const [, deleted] = await ctx.db.batch([
    event.insert,
    ctx.db.delete(products).where(target).returning({ id: products.id }),
  ])
  if (!deleted[0]) {
    const [{ n } = { n: 0 }] = await ctx.db.select({ n: sql<number>`count(*)` }).from(licenses).where(eq(licenses.productId, id))
    if (n > 0) {
      throw new ServiceError('CONFLICT', `${n} license${n === 1 ? ' uses' : 's use'} this product: move or delete ${n === 1 ? 'it' : 'them'} first`)
    }
    throw notFound('Product')
  }
  return { ok: true }
}
