/**
 * `db backup|restore|export|import`: the local D1 of a self-hosted installation (docs/self-hosting.md).
 * They work on the SQLite file itself (node:sqlite), not through wrangler:
 * - backup: a consistent copy while the server runs (VACUUM INTO: one read transaction; in WAL mode
 *   it blocks no writer), restored with `db restore` (only while no server serves the state);
 * - export: the data as SQL INSERTs, for `wrangler d1 execute DB --remote --file FILE` after
 *   `npm run deploy` made the tables (moving to Workers + D1), or `db import` into another local D1.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { LOCK_FILE, localD1File, servingPid } from '../../scripts/lib/local-d1'
import { str, UsageError, type Parsed } from '../args'
import type { CommandResult } from '../command'
import { ROOT } from '../platform'
import type { StandaloneCommand } from './signing-keys'

/** Tables that are not the app's data: wrangler's migration record, SQLite's and Cloudflare's own. */
const NOT_DATA = (name: string) => name === 'd1_migrations' || name.startsWith('sqlite_') || name.startsWith('_cf_')

function stateOf(args: Parsed) {
  if (args.flags.remote === true) throw new UsageError('db commands work on the local D1; for the deployed one see docs/self-hosting.md (wrangler d1 export / execute --remote)')
  return resolve(str(args.flags, 'persist-to') ?? join(ROOT, '.wrangler/state'))
}

function requireD1(state: string): string {
  const file = localD1File(state)
  if (!file) throw new UsageError(`no local D1 in ${state}: run npm start once to create it`)
  return file
}

function refuseWhileServing(state: string, what: string) {
  const pid = servingPid(state)
  if (pid !== null) throw new UsageError(`a server (pid ${pid}, ${join(state, LOCK_FILE)}) is serving ${state}: stop it before ${what}`)
}

function refuseExisting(file: string) {
  if (existsSync(file)) throw new UsageError(`${file} exists: choose a new file name (nothing is overwritten)`)
}

const dataTables = (db: DatabaseSync) => (db.prepare(`select name from sqlite_master where type = 'table' order by name`).all() as { name: string }[]).map(r => r.name).filter(n => !NOT_DATA(n))
const quoteId = (id: string) => `"${id.replace(/"/g, '""')}"`

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return 'NULL'
  if (typeof v === 'number' || typeof v === 'bigint') return String(v)
  if (v instanceof Uint8Array) return `X'${Buffer.from(v).toString('hex')}'`
  return `'${String(v).replace(/'/g, "''")}'`
}

/** A file that is an SQLite database holding this app's schema (d1_migrations present), checked whole. */
function checkBackup(file: string) {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`)
  let db: DatabaseSync | undefined
  try {
    db = new DatabaseSync(file, { readOnly: true })
    const ok = db.prepare('pragma integrity_check').get() as { integrity_check: string }
    if (ok.integrity_check !== 'ok') throw new UsageError(`${file} is damaged (integrity_check: ${ok.integrity_check})`)
    const migrations = db.prepare(`select count(*) as n from sqlite_master where type = 'table' and name = 'd1_migrations'`).get() as { n: number }
    if (!migrations.n) throw new UsageError(`${file} is not a License Manager D1 backup (no d1_migrations table)`)
  }
  catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`${file} is not an SQLite database`)
  }
  finally {
    db?.close()
  }
}

async function backup(args: Parsed): Promise<CommandResult> {
  const state = stateOf(args)
  const source = requireD1(state)
  const out = resolve(args.positionals[0]!)
  refuseExisting(out)
  const db = new DatabaseSync(source)
  try {
    db.exec('pragma busy_timeout = 5000')
    db.prepare('vacuum into ?').run(out)
  }
  finally {
    db.close()
  }
  const bytes = statSync(out).size
  return { output: { file: out, bytes, source }, human: `Backed up the local D1 (${source}) to ${out} (${bytes.toLocaleString('en')} bytes). Restore: npm run lm -- db restore ${out}` }
}

async function restore(args: Parsed): Promise<CommandResult> {
  const state = stateOf(args)
  const from = resolve(args.positionals[0]!)
  checkBackup(from)
  refuseWhileServing(state, 'restoring')
  const target = requireD1(state)
  // The current database is kept beside the state (whole, WAL included) before it is replaced.
  const keptAs = join(state, `d1-before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}.sqlite`)
  const current = new DatabaseSync(target)
  try {
    current.prepare('vacuum into ?').run(keptAs)
  }
  finally {
    current.close()
  }
  const tmp = `${target}.restoring`
  copyFileSync(from, tmp)
  for (const f of [`${target}-wal`, `${target}-shm`]) rmSync(f, { force: true })
  renameSync(tmp, target)
  return { output: { restored: from, into: target, previous: keptAs }, human: `Restored ${from} into the local D1 (${target}). The previous database is kept as ${keptAs}. Start the server: npm start (it applies newer migrations).` }
}

async function exportSql(args: Parsed): Promise<CommandResult> {
  const state = stateOf(args)
  const source = requireD1(state)
  const out = resolve(args.positionals[0]!)
  refuseExisting(out)
  const db = new DatabaseSync(source, { readOnly: true })
  const lines = ['-- License Manager data export (npm run lm -- db export). Tables come from the migrations:', '-- run them first (npm run deploy / npm start), then: npx wrangler d1 execute DB --remote --file <this file>', 'PRAGMA defer_foreign_keys = true;']
  const counts: Record<string, number> = {}
  try {
    db.exec('pragma busy_timeout = 5000')
    // One read transaction: every table from the same moment, while the server keeps writing.
    db.exec('begin')
    for (const table of dataTables(db)) {
      const columns = (db.prepare(`pragma table_info(${quoteId(table)})`).all() as { name: string }[]).map(c => c.name)
      const head = `INSERT INTO ${quoteId(table)} (${columns.map(quoteId).join(', ')}) VALUES (`
      let n = 0
      for (const row of db.prepare(`select * from ${quoteId(table)}`).iterate() as Iterable<Record<string, unknown>>) {
        lines.push(`${head}${columns.map(c => sqlValue(row[c])).join(', ')});`)
        n++
      }
      counts[table] = n
    }
    db.exec('commit')
  }
  finally {
    db.close()
  }
  writeFileSync(out, `${lines.join('\n')}\n`, { mode: 0o600 })
  const rows = Object.values(counts).reduce((a, b) => a + b, 0)
  return { output: { file: out, rows, tables: counts }, human: `Exported ${rows.toLocaleString('en')} rows of ${Object.keys(counts).length} tables to ${out}.\nTo Cloudflare: npm run deploy, then npx wrangler d1 execute DB --remote --file ${out}` }
}

async function importSql(args: Parsed): Promise<CommandResult> {
  const state = stateOf(args)
  const from = resolve(args.positionals[0]!)
  if (!existsSync(from)) throw new UsageError(`no such file: ${from}`)
  refuseWhileServing(state, 'importing')
  if (!localD1File(state)) {
    // A new state folder: create its D1 with the migrations (as npm start would, without a first admin).
    const { startServer } = await import('../../scripts/lib/server')
    const server = await startServer({ root: ROOT, port: 0, persistTo: state, lock: true, onLog: () => {} })
    await server.close()
  }
  const target = requireD1(state)
  const db = new DatabaseSync(target)
  try {
    const occupied = dataTables(db).filter(t => (db.prepare(`select count(*) as n from ${quoteId(t)}`).get() as { n: number }).n > 0)
    if (occupied.length) throw new UsageError(`the local D1 already has data (${occupied.join(', ')}): import into a new state folder (--persist-to DIR)`)
    const sql = readFileSync(from, 'utf8')
    db.exec('begin')
    try {
      db.exec(sql)
      const fk = db.prepare('pragma foreign_key_check').all()
      if (fk.length) throw new UsageError(`${from} breaks ${fk.length} foreign key(s): nothing was imported`)
      db.exec('commit')
    }
    catch (error) {
      db.exec('rollback')
      if (error instanceof UsageError) throw error
      throw new UsageError(`${from} could not be imported, nothing was changed: ${error instanceof Error ? error.message : String(error)}`)
    }
    const counts = Object.fromEntries(dataTables(db).map(t => [t, (db.prepare(`select count(*) as n from ${quoteId(t)}`).get() as { n: number }).n]))
    return { output: { file: from, into: target, tables: counts }, human: `Imported ${from} into ${target} (${dirname(target)}).` }
  }
  finally {
    db.close()
  }
}

export const dbCommands: Record<string, StandaloneCommand> = {
  'db backup': { flags: {}, positionals: ['FILE'], standalone: backup },
  'db restore': { flags: {}, positionals: ['FILE'], standalone: restore },
  'db export': { flags: {}, positionals: ['FILE'], standalone: exportSql },
  'db import': { flags: {}, positionals: ['FILE'], standalone: importSql },
}
