/**
 * The self-hosted server's local D1 binding (scripts/lib/lean-d1.ts, docs/performance.md "The local
 * D1, per hop"): `env.DB` of the real server (tests/support/worker.ts) keeps D1's semantics — meta,
 * one transaction per batch, D1's error messages — and the database is the very file Miniflare's own
 * D1 binding uses, so wrangler, the CLI and existing installations see the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare, convertV4MiniflareOptions } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localD1File } from '../../scripts/lib/local-d1'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let persistTo: string
const db = () => w.env.DB

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), 'lm-lean-d1-'))
  w = await startWorker({ persistTo })
  await db().prepare('create table lean_t (id integer primary key autoincrement, v text unique, b blob)').run()
}, 120_000)

afterAll(async () => {
  await w?.close()
  rmSync(persistTo, { recursive: true, force: true })
})

/** Miniflare's own D1 binding on a state folder (what `wrangler d1 … --local` and the CLI open). */
async function withMiniflareD1<T>(state: string, use: (d1: TestWorker['env']['DB']) => Promise<T>): Promise<T> {
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    resourcePersistencePath: join(state, 'v3'),
    workers: [{ name: 'd1', modules: true, script: 'export default { fetch() { return new Response(null) } }', compatibilityDate: '2026-11-01', d1Databases: { DB: '00000000-0000-0000-0000-000000000000' } }],
  } as Parameters<typeof convertV4MiniflareOptions>[0]))
  try {
    return await use(await mf.getD1Database('DB') as unknown as TestWorker['env']['DB'])
  }
  finally {
    await mf.dispose()
  }
}

describe('env.DB of the self-hosted server', () => {
  it('meta.changes, last_row_id and changed_db as D1 computes them', async () => {
    const a = await db().prepare('insert into lean_t (v) values (?)').bind('a').run()
    expect(a.success).toBe(true)
    expect(a.meta).toMatchObject({ changes: 1, changed_db: true, served_by: 'miniflare.db', rows_written: expect.any(Number) })
    const b = await db().prepare('insert into lean_t (v) values (?)').bind('b').run()
    expect(b.meta.last_row_id).toBe(a.meta.last_row_id + 1)
    const up = await db().prepare('update lean_t set v = v || ? where v in (?, ?)').bind('!', 'a', 'b').run()
    expect(up.meta).toMatchObject({ changes: 2, changed_db: true })
    const none = await db().prepare('update lean_t set v = ? where v = ?').bind('z', 'missing').run()
    expect(none.meta).toMatchObject({ changes: 0, changed_db: false })
    const read = await db().prepare('select v from lean_t order by id').all<{ v: string }>()
    expect(read.results).toEqual([{ v: 'a!' }, { v: 'b!' }])
    expect(read.meta).toMatchObject({ changes: 0, changed_db: false, rows_read: 2 })
  })

  it('a batch is one transaction: a failing statement rolls back the ones before it, with D1\'s unique-constraint error', async () => {
    const batch = db().batch([
      db().prepare('insert into lean_t (v) values (?)').bind('kept?'),
      db().prepare('insert into lean_t (v) values (?)').bind('a!'),
    ])
    await expect(batch).rejects.toThrow('D1_ERROR: UNIQUE constraint failed: lean_t.v: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)')
    expect(await db().prepare('select count(*) as n from lean_t where v = ?').bind('kept?').first('n')).toBe(0)
    const ok = await db().batch([
      db().prepare('insert into lean_t (v) values (?)').bind('c'),
      db().prepare('select v from lean_t where v = ?').bind('c'),
    ])
    expect(ok.map(r => r.results)).toEqual([[], [{ v: 'c' }]])
    expect(ok[0]!.meta.changes).toBe(1)
  })

  it('first, raw, blobs and errors as D1 answers them', async () => {
    expect(await db().prepare('select v from lean_t where v = ?').bind('nope').first()).toBeNull()
    await expect(db().prepare('select v from lean_t limit 1').first('missing')).rejects.toThrow('D1_COLUMN_NOTFOUND: Column not found (missing)')
    expect(await db().prepare('select 1 as x, \'y\' as y').raw({ columnNames: true })).toEqual([['x', 'y'], [1, 'y']])
    await db().prepare('insert into lean_t (v, b) values (?, ?)').bind('blob', new Uint8Array([0, 1, 255])).run()
    expect(await db().prepare('select b from lean_t where v = ?').bind('blob').first('b')).toEqual([0, 1, 255])
    await expect(db().prepare('selec 1').run()).rejects.toThrow(/^D1_ERROR: near "selec": syntax error/)
    await expect(db().prepare('  -- nothing').run()).rejects.toThrow('D1_ERROR: No SQL statements detected.')
  })
})

describe('the binding side by side with Miniflare\'s D1', () => {
  /** The same calls on a D1 binding; what each answers, without timings and connection-wide counters. */
  async function script(d1: TestWorker['env']['DB'], table: string) {
    const out: unknown[] = []
    const keep = (r: { success?: boolean, results?: unknown, meta?: Record<string, unknown> }) => ({ success: r.success, results: r.results, changes: r.meta?.changes, changed_db: r.meta?.changed_db, rows_read: r.meta?.rows_read, rows_written: r.meta?.rows_written })
    const error = async (call: () => Promise<unknown>) => {
      try {
        await call()
        return 'no error'
      }
      catch (e) {
        return `${(e as Error).message} | cause: ${((e as Error).cause as Error | undefined)?.message}`
      }
    }
    out.push(await d1.exec(`create table ${table} (id integer primary key, v text unique, flag integer)\ninsert into ${table} (v, flag) values ('x', 0)`).then(r => r.count))
    out.push(keep(await d1.prepare(`insert into ${table} (v, flag) values (?, ?)`).bind('t', true).run()))
    out.push(keep(await d1.prepare(`insert into ${table} (v, flag) values (?, ?)`).bind('f', false).run()))
    out.push(await error(() => d1.prepare(`insert into ${table} (v) values (?)`).bind(undefined as never).run()))
    out.push(await error(() => d1.prepare(`insert into ${table} (v) values (?)`).bind({} as never).run()))
    // A refused statement, then the counts of the next one are still its own.
    out.push(await error(() => d1.prepare(`insert into ${table} (v) values (?)`).bind('x').run()))
    out.push(keep(await d1.prepare(`update ${table} set flag = flag + 1 where v in (?, ?)`).bind('t', 'f').run()))
    out.push(keep(await d1.prepare(`select v, flag from ${table} order by id`).all()))
    out.push(await d1.prepare(`select v, flag from ${table} order by id`).raw())
    out.push(await d1.prepare(`select v, flag from ${table} order by id`).raw({ columnNames: true }))
    out.push(await d1.prepare(`select v from ${table} where v = ?`).bind('t').first('v'))
    out.push(await error(() => d1.prepare(`select v from ${table}`).first('nope')))
    out.push(await d1.withSession().prepare(`select count(*) as n from ${table}`).first())
    out.push((await d1.batch([d1.prepare(`delete from ${table} where v = ?`).bind('x'), d1.prepare(`select count(*) as n from ${table}`)])).map(keep))
    out.push(await error(() => d1.batch([d1.prepare(`delete from ${table}`), d1.prepare(`insert into ${table} (id) values (1), (1)`)])))
    out.push(await d1.prepare(`select count(*) as n from ${table}`).first('n'))
    out.push(await error(() => d1.exec(`insert into ${table} (v) values ('ok')\ninsert into nowhere values (1)`)))
    return out
  }

  it('answers every call as Miniflare\'s D1 does: values, meta counts, errors and their causes', async () => {
    const state = mkdtempSync(join(tmpdir(), 'lm-lean-d1-vs-'))
    try {
      const lean = await script(db(), 'lean_vs')
      const miniflare = await withMiniflareD1(state, d1 => script(d1, 'lean_vs'))
      expect(lean).toEqual(miniflare)
      // What the script is about, so that both sides failing alike would not pass unseen.
      expect(lean[0]).toBe(2)
      expect(lean[3]).toMatch(/^D1_TYPE_ERROR: Type 'undefined' not supported/)
      expect(lean[5]).toMatch(/^D1_ERROR: UNIQUE constraint failed/)
      expect(lean[6]).toMatchObject({ changes: 2, changed_db: true })
      expect(lean[8]).toEqual([['x', 0], ['t', 2], ['f', 1]])
    }
    finally {
      rmSync(state, { recursive: true, force: true })
    }
  }, 120_000)
})

describe('the same file as Miniflare\'s D1', () => {
  it('what the server wrote, Miniflare\'s D1 reads after it stops, and the other way round; one database file', async () => {
    const state = mkdtempSync(join(tmpdir(), 'lm-lean-d1-file-'))
    try {
      const first = await startWorker({ persistTo: state })
      await first.env.DB.prepare('create table lean_f (v text)').run()
      await first.env.DB.prepare('insert into lean_f values (?)').bind('from the server').run()
      await first.close()
      const file = localD1File(state)
      expect(file).toMatch(/miniflare-D1DatabaseObject\/[0-9a-f]{64}\.sqlite$/)
      await withMiniflareD1(state, async (d1) => {
        expect((await d1.prepare('select v from lean_f').all()).results).toEqual([{ v: 'from the server' }])
        await d1.prepare('insert into lean_f values (?)').bind('from Miniflare').run()
      })
      const again = await startWorker({ persistTo: state, seedAdmin: false })
      try {
        expect((await again.env.DB.prepare('select v from lean_f order by rowid').all()).results).toEqual([{ v: 'from the server' }, { v: 'from Miniflare' }])
        expect(localD1File(state)).toBe(file)
      }
      finally {
        await again.close()
      }
    }
    finally {
      rmSync(state, { recursive: true, force: true })
    }
  }, 120_000)
})
