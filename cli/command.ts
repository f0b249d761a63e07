import { scopeOf, type OwnerScope, type Principal } from '../server/services/authz'
import type { ServiceContext } from '../server/services/context'
import type { Parsed } from './args'

/** The CLI's principal (cli/platform.ts gives every command's context CLI_PRINCIPAL). */
export function principalOf(ctx: ServiceContext): Principal {
  if (!ctx.principal) throw new Error('the CLI context has no principal')
  return ctx.principal
}

/** What a command may see and touch: its principal's scope (server/services/authz.ts) — for the CLI, every owner's. */
export const scopeOfCommand = (ctx: ServiceContext): OwnerScope => scopeOf(principalOf(ctx))

/** What a command prints: `output` with --json (one JSON object), `human` otherwise. */
export interface CommandResult { output: unknown, human: string }

export interface Command {
  /** Its options (the global ones are added by lm.ts). */
  flags: Record<string, 'string' | 'boolean'>
  /** Names of its positional arguments, e.g. ['KEY']: exactly these are required. */
  positionals?: string[]
  /**
   * Checks the arguments — before the database is opened, so bad arguments answer fast — and returns the
   * work to do on the database. Throws UsageError for bad arguments.
   */
  prepare: (args: Parsed) => (ctx: ServiceContext) => Promise<CommandResult>
}

/** Aligned columns; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  return rows.map(r => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n')
}

/** A date for people: 2026-01-31 12:00 UTC, or "never". */
export function when(date: Date | null): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'never'
}
