import { relations, sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from 'drizzle-orm/sqlite-core'
import { id, timestamps } from './columns'
import { products } from './products'
import { users } from './users'

export const LICENSE_STATUSES = ['active', 'suspended'] as const

/** Above every other text in SQLite's (UTF-8 byte) order: empty values sort last ascending. */
const TEXT_LAST = sql`char(1114111)`
/** Above every epoch-ms timestamp: perpetual licenses sort as the latest expiry. */
const TIME_LAST = sql`9007199254740991`

/**
 * The lists' sort keys (docs/ui.md, "Sorting"): each is both an index expression below and the
 * ORDER BY / keyset expression of server/services/licenses.ts (the same expression, so SQLite
 * reads the index in order instead of sorting). No commas: drizzle-kit splits index expressions at commas.
 */
export const licenseSortKeys = (t: { label: AnySQLiteColumn, customerName: AnySQLiteColumn, customerEmail: AnySQLiteColumn, externalId: AnySQLiteColumn, expiresAt: AnySQLiteColumn }) => ({
  label: sql`(case when ${t.label} = '' then ${TEXT_LAST} else lower(${t.label}) end)`,
  // The customer as the list shows it: name, else email, else external id.
  customer: sql`(case when ${t.customerName} is not null then lower(${t.customerName}) when ${t.customerEmail} is not null then ${t.customerEmail} when ${t.externalId} is not null then lower(${t.externalId}) else ${TEXT_LAST} end)`,
  expiresAt: sql`(case when ${t.expiresAt} is null then ${TIME_LAST} else ${t.expiresAt} end)`,
})
export type LicenseStatus = (typeof LICENSE_STATUSES)[number]

/**
 * A license. The key itself is never stored: `keyDigest` (HMAC-SHA-256 with KEY_HMAC_SECRET) is the
 * lookup, `keyCiphertext` (AES-256-GCM with KEY_ENC_SECRET) lets the owner see it again.
 */
export const licenses = sqliteTable('licenses', {
  id: id(),
  ownerId: text('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** The owner's product this license is for; null = none. A product with licenses cannot be deleted. */
  productId: text('product_id').references(() => products.id),
  label: text('label').notNull().default(''),
  keyDigest: text('key_digest').notNull(),
  keyCiphertext: text('key_ciphertext').notNull(),
  /** Last 3 symbols of the key (2 random + the check symbol), for a masked display without decrypting (LM-•••••-…-••9XH): server/lib/keys.ts. */
  keyHint: text('key_hint').notNull(),
  status: text('status', { enum: LICENSE_STATUSES }).notNull().default('active'),
  /** null = perpetual. */
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
  /** null = unlimited. */
  maxDevices: integer('max_devices'),
  metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
  /** Renewal period as a duration string (30d, 1y, 6mo …); null = none. */
  renewalPeriod: text('renewal_period'),
  /**
   * Expiry announcements (license.expiring / license.expired) are idempotent markers: the expiresAt
   * value each was sent for. Renewing or editing the expiry changes expiresAt, which re-arms both.
   */
  expiringNotifiedFor: integer('expiring_notified_for', { mode: 'timestamp_ms' }),
  expiredNotifiedFor: integer('expired_notified_for', { mode: 'timestamp_ms' }),
  /**
   * The seller's bookkeeping (e.g. the order or subscription in their payment system): searchable
   * in the dashboard, CLI and management API, never in a public answer, a token or an event detail.
   * customerEmail is stored trimmed and lower-cased; externalId is unique per owner when set.
   */
  customerEmail: text('customer_email'),
  customerName: text('customer_name'),
  externalId: text('external_id'),
  // License policies (docs/policies.md), all enforced at request time by the public API's one lookup.
  /** Grace period after expiresAt (a duration, 7d); null = none. graceEndsAt = expiresAt + grace, kept with every change of either. */
  grace: text('grace'),
  graceEndsAt: integer('grace_ends_at', { mode: 'timestamp_ms' }),
  /** Trial that starts on first use: expiresAt stays null until the first ACTIVATED answer, then becomes that time + this duration. */
  expiresAfterActivation: text('expires_after_activation'),
  /** Activation churn limit: at most `count` new activations within the trailing `period` (a duration); both or neither. */
  activationLimitCount: integer('activation_limit_count'),
  activationLimitPeriod: text('activation_limit_period'),
  /** Floating seats: an activation is a lease of this length (1min…30d), renewed by heartbeat or verify; null = seats are held until freed. */
  leaseDuration: text('lease_duration'),
  /** license.grace_started marker: the expiresAt value it was sent for (as the expiry markers). */
  graceNotifiedFor: integer('grace_notified_for', { mode: 'timestamp_ms' }),
  /** Last license.device_limit_reached (at most one an hour) and license.anomaly (at most one a day, with its distinct IP count): the badges. */
  deviceLimitReachedAt: integer('device_limit_reached_at', { mode: 'timestamp_ms' }),
  anomalyAt: integer('anomaly_at', { mode: 'timestamp_ms' }),
  anomalyIps: integer('anomaly_ips'),
  ...timestamps,
}, t => [
  uniqueIndex('licenses_key_digest_unique').on(t.keyDigest),
  index('licenses_owner_created_idx').on(t.ownerId, t.createdAt),
  index('licenses_created_idx').on(t.createdAt),
  // Per-product lists and counts (and the "is this product in use" check of a delete).
  index('licenses_product_created_idx').on(t.productId, t.createdAt).where(sql`"product_id" is not null`),
  uniqueIndex('licenses_owner_external_id_unique').on(t.ownerId, t.externalId).where(sql`"external_id" is not null`),
  index('licenses_customer_email_idx').on(t.customerEmail).where(sql`"customer_email" is not null`),
  // The expiry cron's scans: only licenses with an announcement still due are in these indexes.
  index('licenses_expiring_due_idx').on(t.expiresAt).where(sql`"expires_at" is not null and "expiring_notified_for" is not "expires_at"`),
  // license.expired is due at the grace end when there is one (one line, no commas: drizzle-kit splits index expressions at commas).
  index('licenses_expired_due_idx').on(sql`(case when "grace_ends_at" is null then "expires_at" else "grace_ends_at" end)`).where(sql`"expires_at" is not null and "expired_notified_for" is not "expires_at"`),
  index('licenses_grace_due_idx').on(t.expiresAt).where(sql`"grace_ends_at" is not null and "grace_notified_for" is not "expires_at"`),
  // The list's sorts, for one owner and for an admin's whole list.
  index('licenses_owner_label_sort_idx').on(t.ownerId, licenseSortKeys(t).label, t.id),
  index('licenses_label_sort_idx').on(licenseSortKeys(t).label, t.id),
  index('licenses_owner_customer_sort_idx').on(t.ownerId, licenseSortKeys(t).customer, t.id),
  index('licenses_customer_sort_idx').on(licenseSortKeys(t).customer, t.id),
  index('licenses_owner_expires_sort_idx').on(t.ownerId, licenseSortKeys(t).expiresAt, t.id),
  index('licenses_expires_sort_idx').on(licenseSortKeys(t).expiresAt, t.id),
])

/** A device (activation) of a license; one row per fingerprint. */
export const devices = sqliteTable('devices', {
  id: id(),
  licenseId: text('license_id').notNull().references(() => licenses.id, { onDelete: 'cascade' }),
  fingerprint: text('fingerprint').notNull(),
  name: text('name'),
  ip: text('ip'),
  firstSeenAt: integer('first_seen_at', { mode: 'timestamp_ms' }).notNull(),
  lastSeenAt: integer('last_seen_at', { mode: 'timestamp_ms' }).notNull(),
  /** Floating seats: the device holds a seat while this is in the future (null: not a lease, held until freed). */
  leaseExpiresAt: integer('lease_expires_at', { mode: 'timestamp_ms' }),
}, t => [
  uniqueIndex('devices_license_fingerprint_unique').on(t.licenseId, t.fingerprint),
  // The lookup's live-seat count and "does this fingerprint hold a seat" from the index alone (covering).
  index('devices_license_fingerprint_lease_idx').on(t.licenseId, t.fingerprint, t.leaseExpiresAt),
])

/**
 * Every ACTIVATED answer (a new device, or a lapsed lease taken again), kept after the device is
 * deactivated: the activation churn limit counts these in its trailing period. Pruned by the
 * maintenance cron after ACTIVATION_HISTORY_DAYS (server/services/limit-events.ts; longer than the longest period).
 */
export const activations = sqliteTable('activations', {
  id: id(),
  licenseId: text('license_id').notNull().references(() => licenses.id, { onDelete: 'cascade' }),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
}, t => [index('activations_license_created_idx').on(t.licenseId, t.createdAt)])

export const licensesRelations = relations(licenses, ({ one, many }) => ({
  owner: one(users, { fields: [licenses.ownerId], references: [users.id] }),
  product: one(products, { fields: [licenses.productId], references: [products.id] }),
  devices: many(devices),
}))

export const devicesRelations = relations(devices, ({ one }) => ({
  license: one(licenses, { fields: [devices.licenseId], references: [licenses.id] }),
}))

export type License = typeof licenses.$inferSelect
export type Device = typeof devices.$inferSelect
