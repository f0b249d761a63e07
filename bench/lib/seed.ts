/**
 * Fast seeding straight into the local D1's SQLite file (wrangler --persist-to layout), with
 * node:sqlite, while no worker is running: big transactions, prepared statements, and the tables'
 * secondary indexes dropped during the bulk insert and rebuilt after (a sort instead of a million
 * random B-tree inserts). Rows are real: keys are made by server/lib/keys.ts (Crockford + Luhn check
 * symbol), their lookup digest is HMAC-SHA-256 with the worker's KEY_HMAC_SECRET, and their
 * ciphertext is AES-256-GCM with KEY_ENC_SECRET in the worker's `v1.<iv>.<ct+tag>` format — computed
 * here with node:crypto (same algorithms, checked against keys.ts at start).
 */
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { decryptKey, generateKey, keyDigest, keyHintOf } from '../../server/lib/keys'
import { hashPassword } from '../../server/lib/passwords'
import type { Secrets } from '../../scripts/lib/dev-vars'

export const DAY = 86_400_000

/** The D1 database file wrangler created under a --persist-to folder (one D1 binding: one file). */
export function d1File(persistTo: string): string {
  const dir = join(persistTo, 'v3/d1/miniflare-D1DatabaseObject')
  const files = readdirSync(dir).filter(f => f.endsWith('.sqlite') && f !== 'metadata.sqlite')
  if (files.length !== 1) throw new Error(`expected one D1 SQLite file in ${dir}, found: ${files.join(', ') || 'none'}`)
  return join(dir, files[0]!)
}

export interface SeedOptions {
  licenses: number
  events: number
  /** License owners (the per-developer rate limit applies per owner). */
  owners: number
  /** Keys kept in memory to drive the load (spread evenly over the table). */
  sampleKeys: number
  /** Licenses with one activated device each, for verify-with-fingerprint. */
  fingerprintKeys: number
  /** Licenses with free seats reserved for activate/deactivate pairs (one per connection). */
  activationKeys: number
  admin: { email: string, password: string }
}

export interface Seeded {
  /** Keys of active, unexpired licenses (verify answers VALID). */
  validKeys: string[]
  /** [key, fingerprint] of licenses with that device activated (verify answers VALID). */
  fingerprintKeys: [string, string][]
  /** Keys of licenses with no device and 3 seats (activate → ACTIVATED, deactivate → DEACTIVATED). */
  activationKeys: string[]
  /** IPs that occur in the seeded events (for a filtered system-log page). */
  eventIps: string[]
  ownerIds: string[]
  seconds: { licenses: number, events: number, total: number }
}

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
/** newId()-shaped ids (prefix_ + 20 Crockford lower-case symbols), from a fast counter+random mix. */
function idMaker(prefix: string) {
  let pool = randomBytes(0)
  let at = 0
  return () => {
    if (at + 20 > pool.length) {
      pool = randomBytes(20 * 4096)
      at = 0
    }
    let s = `${prefix}_`
    for (let i = 0; i < 20; i++) s += ID_ALPHABET[pool[at++]! & 31]
    return s
  }
}

const b64 = (buf: Buffer) => buf.toString('base64').replace(/=+$/, '')

/** Check once that the node:crypto versions give what the worker's keys.ts gives. */
async function checkCrypto(secrets: Secrets, digest: (body: string) => string, encrypt: (body: string) => string) {
  const { body } = generateKey()
  if (digest(body) !== await keyDigest(secrets.KEY_HMAC_SECRET, body)) throw new Error('seed: HMAC digest differs from server/lib/keys.ts')
  if (await decryptKey(secrets.KEY_ENC_SECRET, encrypt(body)) !== body) throw new Error('seed: AES-GCM ciphertext not readable by server/lib/keys.ts')
}

/** Drop a table's secondary indexes (returns their CREATE statements, to rebuild after the bulk insert). */
function dropIndexes(db: DatabaseSync, table: string): string[] {
  const rows = db.prepare(`select name, sql from sqlite_master where type = 'index' and tbl_name = ? and sql is not null`).all(table) as { name: string, sql: string }[]
  for (const r of rows) db.exec(`drop index "${r.name}"`)
  return rows.map(r => r.sql)
}

export async function seed(file: string, secrets: Secrets, opts: SeedOptions): Promise<Seeded> {
  const started = performance.now()
  const hmacKey = Buffer.from(secrets.KEY_HMAC_SECRET, 'utf8')
  const aesKey = createHash('sha256').update(secrets.KEY_ENC_SECRET, 'utf8').digest()
  const digest = (body: string) => b64(createHmac('sha256', hmacKey).update(body).digest())
  const encrypt = (body: string) => {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', aesKey, iv)
    const ct = Buffer.concat([c.update(body, 'utf8'), c.final(), c.getAuthTag()])
    return `v1.${b64(iv)}.${b64(ct)}`
  }
  await checkCrypto(secrets, digest, encrypt)

  const db = new DatabaseSync(file)
  db.exec('pragma journal_mode = wal; pragma synchronous = off; pragma cache_size = -200000')
  const now = Date.now()

  // Users: one admin (real scrypt hash, to log in) and the license owners (one shared hash that never matches).
  const ownerHash = await hashPassword(randomBytes(18).toString('base64url'))
  const userId = idMaker('usr')
  const insUser = db.prepare('insert into users (id, email, name, role, password_hash, disabled, verify_limit_per_minute, created_at, updated_at) values (?, ?, ?, ?, ?, 0, ?, ?, ?)')
  const ownerIds: string[] = []
  db.exec('begin')
  insUser.run(userId(), opts.admin.email, 'Bench admin', 'admin', await hashPassword(opts.admin.password), null, now, now)
  for (let i = 0; i < opts.owners; i++) {
    const id = userId()
    ownerIds.push(id)
    // The limiter stays on (as in production); the bench owners' own limit is high so a load run never trips it.
    insUser.run(id, `owner-${i}@bench.example.com`, `Owner ${i}`, 'user', ownerHash, 1_000_000, now, now)
  }
  db.exec('commit')

  // Licenses. Reserved rows (fingerprint, activation) first, then the bulk; samples spread evenly.
  const lt = performance.now()
  const licIndexes = dropIndexes(db, 'licenses')
  const insLic = db.prepare(`insert into licenses (id, owner_id, label, key_digest, key_ciphertext, key_hint, status, expires_at, max_devices, metadata, renewal_period, created_at, updated_at)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const insDev = db.prepare('insert into devices (id, license_id, fingerprint, name, ip, first_seen_at, last_seen_at) values (?, ?, ?, ?, ?, ?, ?)')
  const licId = idMaker('lic')
  const devId = idMaker('dev')
  const out: Seeded = { validKeys: [], fingerprintKeys: [], activationKeys: [], eventIps: [], ownerIds, seconds: { licenses: 0, events: 0, total: 0 } }
  const sampleEvery = Math.max(1, Math.floor(opts.licenses / Math.max(1, opts.sampleKeys)))
  const metadata = ['{}', '{"tier":"pro"}', '{"tier":"team","seats":5,"features":["sync","export"]}']
  db.exec('begin')
  for (let i = 0; i < opts.licenses; i++) {
    const { key, body } = generateKey()
    const id = licId()
    const created = now - (i % 365) * DAY
    const reserved = i < opts.fingerprintKeys + opts.activationKeys
    // Mostly active; every 20th suspended and every 20th expired (shifted), half perpetual, the rest a year out.
    const status = !reserved && i % 20 === 7 ? 'suspended' : 'active'
    const expiresAt = !reserved && i % 20 === 13 ? now - DAY : i % 2 ? now + 365 * DAY : null
    const maxDevices = i % 3 === 0 ? null : 3
    insLic.run(id, ownerIds[i % ownerIds.length]!, `Bench license ${i}`, digest(body), encrypt(body), keyHintOf(body), status, expiresAt, reserved ? 3 : maxDevices,
      metadata[i % 3]!, i % 4 === 0 ? '1y' : null, created, created)
    if (i < opts.fingerprintKeys) {
      const fp = `bench-fp-${i}`
      insDev.run(devId(), id, fp, 'Bench device', '203.0.113.9', created, created)
      out.fingerprintKeys.push([key, fp])
    }
    else if (reserved) {
      out.activationKeys.push(key)
    }
    else if (i % sampleEvery === 0 && status === 'active' && expiresAt !== now - DAY && out.validKeys.length < opts.sampleKeys) {
      out.validKeys.push(key)
    }
    if (i % 100_000 === 99_999) {
      db.exec('commit')
      db.exec('begin')
    }
  }
  db.exec('commit')
  for (const sql of licIndexes) db.exec(sql)
  out.seconds.licenses = (performance.now() - lt) / 1000

  // Events: the system log's mix over 90 days — mostly validations, some logins, license and device changes.
  const et = performance.now()
  const evIndexes = dropIndexes(db, 'events')
  const insEv = db.prepare(`insert into events (id, created_at, type, actor_type, actor_id, subject_type, subject_id, owner_id, ip, user_agent, country, outcome, detail)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const evId = idMaker('evt')
  const ips = Array.from({ length: 5000 }, (_, i) => `198.${18 + (i >> 8 & 1)}.${i & 255}.${(i * 7) % 250 + 1}`)
  out.eventIps = ips.slice(0, 10)
  const kinds: [type: string, actor: string, outcomes: string[], weight: number][] = [
    ['validation.verify', 'api', ['VALID', 'VALID', 'VALID', 'NOT_FOUND', 'EXPIRED', 'SUSPENDED', 'DEVICE_NOT_ACTIVATED'], 70],
    ['validation.activate', 'api', ['ACTIVATED', 'ALREADY_ACTIVATED', 'DEVICE_LIMIT_REACHED', 'NOT_FOUND'], 8],
    ['validation.deactivate', 'api', ['DEACTIVATED', 'DEVICE_NOT_ACTIVATED'], 4],
    ['auth.login.succeeded', 'user', ['success'], 4],
    ['auth.login.failed', 'anonymous', ['failure'], 3],
    ['session.revoked', 'user', ['success'], 1],
    ['license.created', 'user', ['success'], 4],
    ['license.updated', 'user', ['success'], 2],
    ['device.activated', 'api', ['success'], 2],
    ['device.deactivated', 'api', ['success'], 1],
    ['user.updated', 'user', ['success'], 1],
  ]
  const wheel = kinds.flatMap(k => Array<typeof k>(k[3]).fill(k))
  const rnd = randomBytes(8 * Math.min(opts.events, 100_000) + 8)
  db.exec('begin')
  for (let i = 0; i < opts.events; i++) {
    const r = rnd.readUInt32LE((i * 4) % (rnd.length - 4))
    const [type, actorType, outcomes] = wheel[r % wheel.length]!
    const owner = ownerIds[(r >>> 8) % ownerIds.length]!
    const isApi = actorType === 'api'
    insEv.run(evId(), now - Math.floor(((r >>> 3) % 90_000) * (90 * DAY / 90_000)) - (i % 997), type, actorType, isApi || actorType === 'anonymous' ? null : owner,
      type.startsWith('auth.') ? 'account' : 'license', type.startsWith('auth.') ? `owner@bench.example.com` : `lic_bench${(r >>> 5) % 100_000}`, owner,
      // 1 in 100 events from eventIps[3] (the filtered-page case), whatever the random draw.
      i % 100 === 0 ? ips[3]! : ips[(r >>> 11) % ips.length]!, isApi ? 'MyApp/2.3 (bench)' : 'Mozilla/5.0 (bench)', 'DE', outcomes[(r >>> 16) % outcomes.length]!,
      isApi ? '{"fingerprint":"bench"}' : null)
    if (i % 100_000 === 99_999) {
      db.exec('commit')
      db.exec('begin')
    }
  }
  db.exec('commit')
  for (const sql of evIndexes) db.exec(sql)
  // No ANALYZE: the planner sees what a real installation's D1 has (no sqlite_stat1 unless someone runs it).
  out.seconds.events = (performance.now() - et) / 1000
  db.exec('pragma wal_checkpoint(truncate)')
  db.close()
  out.seconds.total = (performance.now() - started) / 1000
  return out
}
