/** Durations as people write them: 12h, 14d, 2w, 6mo (calendar months), 1y. */
export type Duration = { n: number, unit: 'h' | 'd' | 'w' | 'mo' | 'y' }

export const DURATION_PATTERN = /^(\d{1,4})(h|d|w|mo|y)$/

export function parseDuration(text: string): Duration | null {
  const m = DURATION_PATTERN.exec(text.trim().toLowerCase())
  if (!m) return null
  const n = Number(m[1])
  if (n < 1) return null
  return { n, unit: m[2] as Duration['unit'] }
}

/** Add a duration; months and years are calendar-based (Jan 31 + 1mo = Feb 28/29). */
export function addDuration(from: Date, d: Duration): Date {
  const t = new Date(from.getTime())
  switch (d.unit) {
    case 'h': return new Date(t.getTime() + d.n * 3_600_000)
    case 'd': return new Date(t.getTime() + d.n * 86_400_000)
    case 'w': return new Date(t.getTime() + d.n * 7 * 86_400_000)
    case 'mo':
    case 'y': {
      const months = d.unit === 'y' ? d.n * 12 : d.n
      const day = t.getUTCDate()
      t.setUTCDate(1)
      t.setUTCMonth(t.getUTCMonth() + months)
      const last = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 0)).getUTCDate()
      t.setUTCDate(Math.min(day, last))
      return t
    }
  }
}

/** Subtract a duration (the start of a trailing period): addDuration backwards, months clamped the same way. */
export function subtractDuration(from: Date, d: Duration): Date {
  return addDuration(from, { n: -d.n, unit: d.unit })
}
