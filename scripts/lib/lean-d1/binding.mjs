// The lean local D1's binding (docs/performance.md, "The local D1, per hop"): `env.DB` is workerd's
// own D1 API (the `cloudflare-internal:d1-api` module Miniflare's D1 binding is made of, so prepare,
// bind, first, all, raw, run, batch, exec and their results and `D1_ERROR: …` errors are D1's), but its
// backend is one Workers RPC call to the Durable Object that owns the SQLite file (object.mjs) instead
// of Miniflare's entry Worker, a JSON-over-HTTP hop and a zod check. Both protocols of that API are
// served: RPC `query()` (with the d1_binding_jsrpc compatibility flag) and the HTTP one (`fetch`), the
// latter answered here in the isolate, without a request leaving it.
import makeD1 from 'cloudflare-internal:d1-api'

const rowsToObjects = (columns, rows) => rows.map(row => Object.fromEntries(columns.map((name, i) => [name, row[i]])))

export default function makeBinding(env) {
  const ns = env.NAMESPACE
  let id
  const run = queries => ns.get(id ??= ns.idFromName(env.NAME)).query(queries)
  const fetcher = {
    async query({ queries }) {
      const results = await run(queries)
      return { results: results.map(r => ({ meta: r.meta, data: { kind: 'raw', columns: r.columns, rows: r.rows } })) }
    },
    async fetch(input, init) {
      const url = new URL(typeof input === 'string' ? input : input.url)
      let body
      try {
        if (url.pathname !== '/query' && url.pathname !== '/execute') throw new Error(`unsupported D1 operation ${url.pathname}`)
        const parsed = JSON.parse(init?.body ?? 'null')
        const rowsAndColumns = url.searchParams.get('resultsFormat') === 'ROWS_AND_COLUMNS'
        const results = await run(Array.isArray(parsed) ? parsed : [parsed])
        body = results.map(r => ({ success: true, results: rowsAndColumns ? { columns: r.columns, rows: r.rows } : rowsToObjects(r.columns, r.rows), meta: r.meta }))
      }
      catch (error) {
        body = { success: false, error: error instanceof Error ? error.message : String(error) }
      }
      const text = JSON.stringify(body)
      return { ok: !('error' in body), status: 'error' in body ? 500 : 200, headers: new Headers(), text: async () => text, json: async () => JSON.parse(text) }
    },
  }
  return makeD1({ fetcher })
}
