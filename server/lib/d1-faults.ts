import type { D1Database, D1PreparedStatement } from '@cloudflare/workers-types'

/**
 * Test-only fault injection, off unless the var LM_FAULTS=1 (never set in wrangler.toml): the public
 * API's D1 binding is wrapped so that writes fail on demand — against the real D1, not a mock —
 * and tests can prove that a failed event write is retried and a lost one counted.
 * A statement with a bound value containing `lm-fault:<n>:<token>` (e.g. a request's user agent,
 * which becomes an event column) fails its first n executions, `lm-fault:always:<token>` every one,
 * with an injected error; a batch holding such a statement fails as a whole, as D1's do.
 */
export const D1_FAULTS_VAR = 'LM_FAULTS'
const MARK = /lm-fault:(\d{1,3}|always):([\w-]{1,64})/
/** Failures injected so far per token (per isolate). */
const injected = new Map<string, number>()

export function d1FaultsOn(env: unknown): boolean {
  return (env as Record<string, unknown> | undefined)?.[D1_FAULTS_VAR] === '1'
}

/** Throws (as a rejected D1 call would) when one of the values asks for a failure now. */
function injectFault(values: unknown[]): Promise<never> | null {
  for (const v of values) {
    if (typeof v !== 'string') continue
    const m = MARK.exec(v)
    if (!m) continue
    const token = m[2]!
    const so = injected.get(token) ?? 0
    if (m[1] === 'always' || so < Number(m[1])) {
      injected.set(token, so + 1)
      return Promise.reject(new Error('D1_ERROR: injected fault (LM_FAULTS)'))
    }
  }
  return null
}

export function faultyD1(binding: D1Database): D1Database {
  const inner = new WeakMap<object, D1PreparedStatement>()
  const bound = new WeakMap<object, unknown[]>()
  const wrap = (stmt: D1PreparedStatement, values: unknown[]): D1PreparedStatement => {
    const call = (name: 'first' | 'run' | 'all' | 'raw') => (...args: unknown[]) =>
      injectFault(values) ?? (stmt[name] as (...a: unknown[]) => Promise<unknown>)(...args)
    const w = {
      bind: (...next: unknown[]) => wrap(stmt.bind(...next), next),
      first: call('first'),
      run: call('run'),
      all: call('all'),
      raw: call('raw'),
    } as unknown as D1PreparedStatement
    inner.set(w, stmt)
    bound.set(w, values)
    return w
  }
  return {
    prepare: (sql: string) => wrap(binding.prepare(sql), []),
    batch: (stmts: D1PreparedStatement[]) => injectFault(stmts.flatMap(s => bound.get(s) ?? [])) ?? binding.batch(stmts.map(s => inner.get(s) ?? s)),
    exec: (sql: string) => binding.exec(sql),
    dump: () => binding.dump(),
    withSession: (...args: unknown[]) => (binding.withSession as (...a: unknown[]) => unknown)(...args),
  } as unknown as D1Database
}
