/**
 * The lean local D1 (docs/performance.md, "The local D1, per hop"; the code is in ./lean-d1/): the
 * self-hosted server's `env.DB` is D1's API (its rules restated from workerd's own D1 binding module,
 * without that module's tracing spans) backed by one Workers RPC call to a Durable Object of ours that
 * owns the same SQLite file Miniflare's D1 binding would use, instead of that binding's chain (an
 * entry Worker, then JSON over HTTP to Miniflare's D1 object, zod-checked).
 * Loaded into Miniflare as an external plugin of an `unsafeBindings` entry.
 */
import { join } from 'node:path'

/** The `unsafeBindings` entry's type and plugin (add `name` and `options: { id }`). */
export const LEAN_D1_PLUGIN = {
  type: 'lean-d1',
  plugin: { package: join(import.meta.dirname, 'lean-d1/plugin.mjs'), name: 'lean-d1' },
} as const

type D1Option = string | { id?: string }

/**
 * Worker options with their local D1 bindings (`d1Databases`, as wrangler's
 * unstable_getMiniflareWorkerOptions gives them) served by the lean binding instead: the same
 * database ids, so the same files. Miniflare's D1 is left out entirely: one owner per file.
 */
export function withLeanD1<T extends { d1Databases?: Record<string, D1Option> | string[], unsafeBindings?: unknown[] }>(worker: T): Omit<T, 'd1Databases'> {
  const { d1Databases, ...rest } = worker
  const entries: [string, D1Option][] = Array.isArray(d1Databases) ? d1Databases.map(n => [n, n]) : Object.entries(d1Databases ?? {})
  const lean = entries.map(([name, db]) => {
    const id = typeof db === 'string' ? db : db.id
    if (!id) throw new Error(`D1 binding ${name} has no database id`)
    return { name, ...LEAN_D1_PLUGIN, options: { id } }
  })
  return { ...rest, unsafeBindings: [...(rest.unsafeBindings ?? []), ...lean] }
}
