// The lean local D1's binding (docs/performance.md, "The local D1, per hop"): `env.DB` is D1's API —
// prepare, bind, first, all, raw, run, batch, exec, withSession, query — with the results, meta and
// `D1_ERROR: …` / `D1_TYPE_ERROR` / `D1_COLUMN_NOTFOUND` / `D1_EXEC_ERROR` errors of workerd's own
// D1 binding module (the one Miniflare's D1 binding is made of, used in its RPC mode), whose rules are
// restated here without its tracing spans, which cost a fifth of a statement's CPU in the app's isolate
// (docs/performance.md). Each call is one Workers RPC call to the Durable Object that owns the SQLite
// file (object.mjs), which runs the call's statements in one transaction.
// tests/integration/lean-d1.test.ts holds both to D1's behaviour, side by side with Miniflare's D1.

const rowsToObjects = (columns, rows) => rows.map(row => Object.fromEntries(row.map((cell, i) => [columns[i], cell])))

/** D1's accepted parameter types: numbers, strings, null, booleans (as 1/0), bytes (as arrays of bytes). */
function toParam(r) {
  const type = typeof r
  if (type === 'number' || type === 'string') return r
  if (type === 'boolean') return r ? 1 : 0
  if (type === 'object') {
    if (r == null) return r
    if (Array.isArray(r) && r.every(b => typeof b == 'number' && b >= 0 && b < 256)) return r
    if (r instanceof ArrayBuffer) return Array.from(new Uint8Array(r))
    if (ArrayBuffer.isView(r)) return Array.from(r)
  }
  throw new Error(`D1_TYPE_ERROR: Type '${type}' not supported for value '${r}'`, { cause: new Error(`Type '${type}' not supported for value '${r}'`) })
}

export default function makeBinding(env) {
  const ns = env.NAMESPACE
  let id
  /** The Durable Object that owns the file (a stub per call: a stub belongs to the request that made it). */
  const object = () => ns.get(id ??= ns.idFromName(env.NAME))
  /** One call: the statements' results ({ columns, rows, meta } each), or D1's error with SQLite's message. */
  async function run(queries) {
    try {
      return await object().query(queries)
    }
    catch (e) {
      throw new Error(`D1_ERROR: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    }
  }
  const asObjects = r => ({ success: true, meta: r.meta, results: rowsToObjects(r.columns, r.rows) })

  class D1PreparedStatement {
    constructor(statement, params) {
      this.statement = statement
      this.params = params ?? []
    }

    bind(...values) {
      return new D1PreparedStatement(this.statement, values.map(toParam))
    }

    #one() {
      return run([{ sql: this.statement, params: this.params }]).then(results => results[0])
    }

    async first(colName) {
      const r = await this.#one()
      if (r.rows.length === 0) return null
      const first = rowsToObjects(r.columns, [r.rows[0]])[0]
      if (colName === undefined) return first
      if (first[colName] === undefined) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${colName})`, { cause: new Error('Column not found') })
      return first[colName]
    }

    async all() {
      return asObjects(await this.#one())
    }

    async run() {
      return asObjects(await this.#one())
    }

    async raw(options) {
      const r = await this.#one()
      return options?.columnNames ? [r.columns, ...r.rows] : r.rows
    }
  }

  const session = {
    prepare: sql => new D1PreparedStatement(sql),
    async batch(statements) {
      const results = await run(statements.map(s => ({ sql: s.statement, params: s.params })))
      return results.map(asObjects)
    },
    // The local database is its own primary: no bookmarks.
    getBookmark: () => null,
  }

  return {
    ...session,
    /** Statements one per line (as D1's exec splits them), in one call; a failure is told as D1 tells it, "in line 1". */
    async exec(query) {
      const lines = query.trim().split('\n')
      let results
      try {
        results = await object().query(lines.map(sql => ({ sql })))
      }
      catch (e) {
        const legacy = `Error in line 1: ${lines[0]}: ${e instanceof Error ? e.message : String(e)}`
        // D1's own shape: the cause is the message restated, not the object's error.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(`D1_EXEC_ERROR: ${legacy}`, { cause: new Error(legacy) })
      }
      return { count: results.length, duration: results.reduce((sum, r) => sum + r.meta.duration, 0) }
    },
    withSession: () => session,
    /** The lower-level call: rows and columns as the D1 service answers them. */
    async query(request) {
      const results = await object().query(request.queries)
      return { results: results.map(r => ({ meta: r.meta, data: { kind: 'raw', columns: r.columns, rows: r.rows } })) }
    },
    async dump() {
      throw new Error('D1_DUMP_ERROR: dump() is not supported by D1 any more', { cause: new Error('dump() is not supported') })
    },
  }
}
