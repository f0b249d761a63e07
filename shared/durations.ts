/** Durations as people write them (12h, 14d, 2w, 6mo, 1y) and read them: no zod here, so pages can import it cheaply. */
export const DURATION_RE = /^(\d{1,4})(h|d|w|mo|y)$/

const UNIT_WORDS = { h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' } as const
/** A duration for people: "1 year", "6 months", "14 days" (the text itself if it is not one). */
export function durationInWords(d: string): string {
  const m = DURATION_RE.exec(d.trim().toLowerCase())
  if (!m) return d
  const n = Number(m[1])
  return `${n} ${UNIT_WORDS[m[2] as keyof typeof UNIT_WORDS]}${n === 1 ? '' : 's'}`
}
