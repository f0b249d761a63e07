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
