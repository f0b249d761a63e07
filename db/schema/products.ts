import { relations, sql } from 'drizzle-orm'
import { index, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { ProductDefaults } from '../../shared/schemas/products'
import { id, timestamps } from './columns'
import { users } from './users'

/**
 * A product of a seller (owner): licenses may belong to one, and public API calls may name it by
 * `slug` (a key sold for one product never unlocks another). `defaults` fill a new license's unset
 * fields; it is one JSON object checked by productDefaultsSchema, so more defaults (grace, lease…)
 * are new members of that schema, not new columns.
 */
/** The products list's sort key besides created_at (docs/ui.md, "Sorting"): an index expression and the service's ORDER BY. */
export const productSortKeys = (t: { name: AnySQLiteColumn }) => ({
  name: sql`lower(${t.name})`,
})

export const products = sqliteTable('products', {
  id: id(),
  ownerId: text('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  /** [a-z0-9][a-z0-9-]{0,62}, unique per owner. */
  slug: text('slug').notNull(),
  defaults: text('defaults', { mode: 'json' }).$type<ProductDefaults>().notNull().default({}),
  ...timestamps,
}, t => [
  uniqueIndex('products_owner_slug_unique').on(t.ownerId, t.slug),
  index('products_owner_created_idx').on(t.ownerId, t.createdAt),
  index('products_owner_name_sort_idx').on(t.ownerId, productSortKeys(t).name, t.id),
  index('products_name_sort_idx').on(productSortKeys(t).name, t.id),
])

export const productsRelations = relations(products, ({ one }) => ({
  owner: one(users, { fields: [products.ownerId], references: [users.id] }),
}))

export type Product = typeof products.$inferSelect
