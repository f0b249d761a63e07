import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { licenses } from '../../db/schema'
import { KEY_HINT_LENGTH, SECRET_BITS_BEYOND_HINT } from '../../server/lib/keys'
import { rotateKeySecrets } from '../../server/services/licenses'
import { verifyLicense } from '../../server/services/validation'
import { Caller } from '../support/client'
import { ROOT, startWorker, TEST_SECRETS, type TestWorker } from '../support/worker'

let w: TestWorker
beforeAll(async () => { w = await startWorker() })
afterAll(async () => { await w?.close() })

/** Every row of every table, as text: what a copy of the database would give away. */
async function dumpDatabase(): Promise<string> {
  const tables = await w.env.DB.prepare(`select name from sqlite_master where type = 'table'`).all<{ name: string }>()
  const parts: string[] = []
  for (const { name } of tables.results) {
    if (name.startsWith('_cf_') || name.startsWith('sqlite_')) continue
    const rows = await w.env.DB.prepare(`select * from "${name}"`).all()
    parts.push(JSON.stringify(rows.results))
  }
  return parts.join('\n')
}

describe('license keys at rest', () => {
  it('the database holds no key in any form, only digests and ciphertexts', async () => {
    const admin = new Caller(w.url)
    await admin.login(w.admin.email, w.admin.password)
    const keys: string[] = []
    for (let i = 0; i < 5; i++) keys.push((await admin.trpc.licenses.create.mutate({ label: `stored-${i}` })).key)
    const revealed = await admin.trpc.licenses.reveal.mutate({ id: (await admin.trpc.licenses.list.query({})).items[0]!.id })
    expect(keys).toContain(revealed.key)
    const dump = await dumpDatabase()
    expect(dump).toContain('stored-4') // the dump does include the licenses
    for (const key of keys) {
      const body = key.slice(3).replace(/-/g, '')
      for (const form of [key, body, key.toLowerCase(), body.toLowerCase(), body.slice(0, 12), body.slice(-12, -5)]) {
        expect(dump.includes(form), `key material found in the database: ${form.slice(0, 6)}…`).toBe(false)
      }
    }
  })

  it(`the stored hint leaves ${SECRET_BITS_BEYOND_HINT} secret bits (≥ 128) to a database copy; the upgrade shortens old hints, old keys keep working`, async () => {
    expect(SECRET_BITS_BEYOND_HINT).toBeGreaterThanOrEqual(128)
    const admin = new Caller(w.url)
    await admin.login(w.admin.email, w.admin.password)
    const { key, license } = await admin.trpc.licenses.create.mutate({ label: 'hinted' })
    const body = key.slice(3).replace(/-/g, '')
    const { ctx, settle } = w.context()
    const [row] = await ctx.db.select().from(licenses).where(eq(licenses.id, license.id))
    // Two random symbols and the check symbol, nothing more.
    expect(row!.keyHint).toBe(body.slice(-KEY_HINT_LENGTH))
    expect(KEY_HINT_LENGTH).toBe(3)
    expect(license.maskedKey).toBe(`LM-•••••-•••••-•••••-•••••-•••••-••${body.slice(-3)}`)

    // A license from before the upgrade (5-symbol hint), then the real migration file applied to it.
    await ctx.db.update(licenses).set({ keyHint: body.slice(-5) }).where(eq(licenses.id, license.id))
    const migration = readFileSync(join(ROOT, 'db/migrations/0006_shorter_key_hints.sql'), 'utf8')
    await w.env.DB.exec(migration.split('\n').filter(l => !l.startsWith('--')).join(' '))
    const [after] = await ctx.db.select().from(licenses).where(eq(licenses.id, license.id))
    expect(after!.keyHint).toBe(body.slice(-3))
    expect((await verifyLicense(ctx, { key })).code).toBe('VALID')
    expect((await admin.trpc.licenses.list.query({ search: body.slice(-3) })).items.map(l => l.id)).toContain(license.id)
    expect((await ctx.db.select({ hint: licenses.keyHint }).from(licenses)).every(l => l.hint.length === KEY_HINT_LENGTH)).toBe(true)
    await settle() // the verify call's batched event, before the worker closes
  })

  it('rotating the key secrets keeps every key working, in one read during the rotation', async () => {
    const admin = new Caller(w.url)
    await admin.login(w.admin.email, w.admin.password)
    const { key, license } = await admin.trpc.licenses.create.mutate({ label: 'rotate-me' })
    const { ctx, settle } = w.context()
    const next = { KEY_HMAC_SECRET: randomBytes(32).toString('base64url'), KEY_ENC_SECRET: randomBytes(32).toString('base64url') }
    const during = { ...ctx, env: { ...ctx.env, ...next, KEY_HMAC_SECRET_PREVIOUS: TEST_SECRETS.KEY_HMAC_SECRET, KEY_ENC_SECRET_PREVIOUS: TEST_SECRETS.KEY_ENC_SECRET } }
    const afterwards = { ...ctx, env: { ...ctx.env, ...next } }
    expect((await verifyLicense(afterwards, { key })).code).toBe('NOT_FOUND') // new secret alone: not yet
    expect((await verifyLicense(during, { key })).code).toBe('VALID') // both digests looked up
    const { rewritten } = await rotateKeySecrets(during)
    expect(rewritten).toBeGreaterThanOrEqual(1)
    expect((await rotateKeySecrets(during)).rewritten).toBe(0) // idempotent
    expect((await verifyLicense(afterwards, { key })).code).toBe('VALID')
    const rows = await ctx.db.select().from(licenses)
    expect(rows.find(r => r.id === license.id)).toBeTruthy()
    // The verify calls' events are written after the call (batched): let them land before the worker closes.
    await settle()
  })
})
