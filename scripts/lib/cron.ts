/**
 * Minimal 5-field cron matching (minute hour day-of-month month day-of-week) for the local
 * scheduler: `*`, numbers, `a-b`, lists and `/step`. Enough for wrangler.toml [triggers].
 */
function fieldMatches(field: string, value: number, min: number, max: number): boolean {
  return field.split(',').some((part) => {
    const [range, stepText] = part.split('/') as [string, string | undefined]
    const step = stepText ? Number(stepText) : 1
    let lo = min
    let hi = max
    if (range !== '*') {
      const [a, b] = range.split('-')
      lo = Number(a)
      hi = b === undefined ? (stepText ? max : lo) : Number(b)
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || !Number.isInteger(step) || step < 1) return false
    return value >= lo && value <= hi && (value - lo) % step === 0
  })
}

export function cronMatches(expr: string, date: Date): boolean {
  const f = expr.trim().split(/\s+/)
  if (f.length !== 5) return false
  return fieldMatches(f[0]!, date.getUTCMinutes(), 0, 59)
    && fieldMatches(f[1]!, date.getUTCHours(), 0, 23)
    && fieldMatches(f[2]!, date.getUTCDate(), 1, 31)
    && fieldMatches(f[3]!, date.getUTCMonth() + 1, 1, 12)
    && fieldMatches(f[4]!, date.getUTCDay(), 0, 6)
}

/** The cron expressions of wrangler.toml's [triggers] crons = [...]. */
export function cronsFromWranglerToml(toml: string): string[] {
  const m = /^\s*crons\s*=\s*\[([^\]]*)\]/m.exec(toml)
  if (!m) return []
  return [...m[1]!.matchAll(/"([^"]+)"/g)].map(x => x[1]!)
}
