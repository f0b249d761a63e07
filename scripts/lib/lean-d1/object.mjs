// The lean local D1's database (docs/performance.md, "The local D1, per hop"): a Durable Object that
// owns the local D1 SQLite file and runs statements on it with `ctx.storage.sql`, called over Workers
// RPC from the binding (binding.mjs). It is registered under the unique key of Miniflare's own D1
// object and named by the database id as Miniflare names it, so workerd opens the very file Miniflare's
// D1 would (<state>/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite). The statement semantics are those of
// Miniflare's D1 object: the statements of one call run in one transaction (all or nothing), the meta
// fields are computed the same way (changes from total_changes(), last_row_id, changed_db, size_after,
// rows read/written), blobs travel as arrays of bytes, and a failure carries SQLite's message.
import { DurableObject } from 'cloudflare:workers'

const SERVED_BY = 'miniflare.db'

const isEmpty = sql => sql.replace(/^\s*--.*/gm, '').trim().length === 0

function toParams(params) {
  // Byte arrays (what the binding's bind() makes of an ArrayBuffer or view) are blobs.
  return (params ?? []).map(p => (Array.isArray(p) ? new Uint8Array(p).buffer : p))
}

function toRows(rows) {
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) if (row[i] instanceof ArrayBuffer) row[i] = Array.from(new Uint8Array(row[i]))
  }
  return rows
}

export class LeanD1 extends DurableObject {
  #sql = this.ctx.storage.sql
  /**
   * The connection's counters after the last statement that completed: the next statement's "before"
   * (total_changes() and last_insert_rowid() belong to this object's connection, which nothing else
   * uses, and a rollback resets neither). Re-read after a failure. The file's size is read around
   * every statement: another process (the CLI, `wrangler d1 --local`) may have written in between.
   */
  #last = null

  #counters() {
    return this.#sql.exec('SELECT total_changes() AS c, last_insert_rowid() AS r').one()
  }

  #run(query) {
    const sql = this.#sql
    const beforeSize = sql.databaseSize
    const before = this.#last ?? this.#counters()
    const t0 = performance.now()
    const cursor = sql.exec(query.sql, ...toParams(query.params))
    const columns = cursor.columnNames
    const rows = toRows(cursor.raw().toArray())
    const duration = performance.now() - t0
    const afterSize = sql.databaseSize
    const after = this.#last = this.#counters()
    const changes = after.c - before.c
    return {
      columns,
      rows,
      meta: {
        served_by: SERVED_BY,
        served_by_primary: true,
        total_attempts: 1,
        timings: { sql_duration_ms: duration },
        duration,
        changes,
        last_row_id: after.r,
        changed_db: changes !== 0 || after.r !== before.r || afterSize !== beforeSize,
        size_after: afterSize,
        rows_read: cursor.rowsRead,
        rows_written: cursor.rowsWritten,
      },
    }
  }

  /** Run `queries` ({ sql, params }) in one transaction; throws (SQLite's message) and rolls back on any failure. */
  query(queries) {
    const nonEmpty = queries.filter(q => !isEmpty(q.sql))
    if (nonEmpty.length === 0) throw new Error('No SQL statements detected.')
    try {
      return this.ctx.storage.transactionSync(() => nonEmpty.map(q => this.#run(q)))
    }
    catch (error) {
      this.#last = null
      throw error
    }
  }
}

export default {
  fetch() {
    return new Response(null, { status: 404 })
  },
}
