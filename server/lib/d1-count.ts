import type { D1Database, D1PreparedStatement } from '@cloudflare/workers-types'

/**
 * D1 statement counting for `npm run bench` (docs/performance.md): with the var LM_COUNT_D1=1, a
 * request's D1 binding is wrapped so every statement it sends is counted (read or write), and the
 * response carries, in headers, the statements that had completed when it left (its response path)
 * and those still in flight (sent but not waited for, e.g. a waitUntil event insert). Statements sent
 * after the response are visible in the isolate-wide totals (counted when sent), also in headers.
 * Off (the default): nothing is wrapped.
 */
export const D1_COUNT_VAR = 'LM_COUNT_D1'
export const D1_HEADERS = {
  reads: 'x-lm-d1-reads',
  writes: 'x-lm-d1-writes',
  calls: 'x-lm-d1-calls',
  pendingReads: 'x-lm-d1-pending-reads',
  pendingWrites: 'x-lm-d1-pending-writes',
  isolateReads: 'x-lm-d1-isolate-reads',
  isolateWrites: 'x-lm-d1-isolate-writes',
} as const

export interface D1Counts {
  /** Sent so far (reads, writes, round trips). */
  reads: number
  writes: number
  calls: number
  /** Completed so far. */
  doneReads: number
  doneWrites: number
  doneCalls: number
}
const isolate = { reads: 0, writes: 0, calls: 0 }

/** Counting is on for this env (a string var, set only in the bench's counting phase). */
export function d1CountingOn(env: unknown): boolean {
  return (env as Record<string, unknown> | undefined)?.[D1_COUNT_VAR] === '1'
}

const isRead = (sql: string) => /^\s*(select|pragma|explain)\b/i.test(sql) || (/^\s*with\b/i.test(sql) && !/\b(insert|update|delete|replace)\b/i.test(sql))

/** A D1 binding that counts the statements sent through it (per request, and isolate-wide). */
export function countingD1(binding: D1Database): { binding: D1Database, counts: D1Counts } {
  const counts: D1Counts = { reads: 0, writes: 0, calls: 0, doneReads: 0, doneWrites: 0, doneCalls: 0 }
  const inner = new WeakMap<object, D1PreparedStatement>()
  const sqlOf = new WeakMap<object, string>()
  /** Count a call of `sqls` when sent, and again when it settles. */
  const tally = <T>(sqls: string[], send: () => Promise<T>): Promise<T> => {
    const reads = sqls.filter(isRead).length
    const writes = sqls.length - reads
    counts.calls++
    counts.reads += reads
    counts.writes += writes
    isolate.calls++
    isolate.reads += reads
    isolate.writes += writes
    const settled = () => {
      counts.doneCalls++
      counts.doneReads += reads
      counts.doneWrites += writes
    }
    const p = send()
    p.then(settled, settled)
    return p
  }
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const w = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values), sql),
      first: (...args: unknown[]) => tally([sql], () => (stmt.first as (...a: unknown[]) => Promise<unknown>)(...args)),
      run: () => tally([sql], () => stmt.run()),
      all: () => tally([sql], () => stmt.all()),
      raw: (...args: unknown[]) => tally([sql], () => (stmt.raw as (...a: unknown[]) => Promise<unknown>)(...args)),
    } as unknown as D1PreparedStatement
    inner.set(w, stmt)
    sqlOf.set(w, sql)
    return w
  }
  const wrapped = {
    prepare: (sql: string) => wrap(binding.prepare(sql), sql),
    batch: (stmts: D1PreparedStatement[]) => tally(stmts.map(s => sqlOf.get(s) ?? ''), () => binding.batch(stmts.map(s => inner.get(s) ?? s))),
    exec: (sql: string) => tally(sql.split(';').filter(s => s.trim()), () => binding.exec(sql)),
    dump: () => binding.dump(),
    withSession: (...args: unknown[]) => (binding.withSession as (...a: unknown[]) => unknown)(...args),
  } as unknown as D1Database
  return { binding: wrapped, counts }
}

/**
 * The count headers for a response as it leaves: statements completed (the response path) and still
 * in flight (sent, not waited for), and the isolate totals sent so far.
 */
export function d1CountHeaders(counts: D1Counts): Record<string, string> {
  return {
    [D1_HEADERS.reads]: String(counts.doneReads),
    [D1_HEADERS.writes]: String(counts.doneWrites),
    [D1_HEADERS.calls]: String(counts.doneCalls),
    [D1_HEADERS.pendingReads]: String(counts.reads - counts.doneReads),
    [D1_HEADERS.pendingWrites]: String(counts.writes - counts.doneWrites),
    [D1_HEADERS.isolateReads]: String(isolate.reads),
    [D1_HEADERS.isolateWrites]: String(isolate.writes),
  }
}
