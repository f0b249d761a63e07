/** Small, strict argument parsing: unknown flags and missing values are errors, not surprises. */
export class UsageError extends Error {}

export interface Parsed { positionals: string[], flags: Record<string, string | true> }

export function parseArgs(argv: string[], known: Record<string, 'string' | 'boolean'>): Parsed {
  const positionals: string[] = []
  const flags: Record<string, string | true> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) {
      positionals.push(arg)
      continue
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined]
    const kind = known[rawName]
    if (!kind) throw new UsageError(`unknown option --${rawName}`)
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${rawName} takes no value`)
      flags[rawName] = true
      continue
    }
    const value = inline ?? argv[++i]
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${rawName} needs a value`)
    flags[rawName] = value
  }
  return { positionals, flags }
}

export function str(flags: Parsed['flags'], name: string): string | undefined {
  const v = flags[name]
  return typeof v === 'string' ? v : undefined
}
