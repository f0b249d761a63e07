import { describe, expect, it } from 'vitest'
import { addDuration, parseDuration } from '../../server/lib/duration'

describe('durations', () => {
  it('parses Nh, Nd, Nw, Nmo, Ny and nothing else', () => {
    expect(parseDuration('12h')).toEqual({ n: 12, unit: 'h' })
    expect(parseDuration('6MO')).toEqual({ n: 6, unit: 'mo' })
    for (const bad of ['', '0d', '1m', 'd', '1.5d', '-1d', '99999d', '1 d', '1dd']) expect(parseDuration(bad)).toBeNull()
  })

  it('adds calendar months and years, clamping to the month end', () => {
    const at = (s: string) => new Date(s)
    expect(addDuration(at('2026-01-31T10:00:00Z'), { n: 1, unit: 'mo' }).toISOString()).toBe('2026-02-28T10:00:00.000Z')
    expect(addDuration(at('2028-01-31T10:00:00Z'), { n: 1, unit: 'mo' }).toISOString()).toBe('2028-02-29T10:00:00.000Z')
    expect(addDuration(at('2028-02-29T00:00:00Z'), { n: 1, unit: 'y' }).toISOString()).toBe('2029-02-28T00:00:00.000Z')
    expect(addDuration(at('2026-11-30T00:00:00Z'), { n: 2, unit: 'w' }).toISOString()).toBe('2026-12-14T00:00:00.000Z')
    expect(addDuration(at('2026-11-30T00:00:00Z'), { n: 36, unit: 'h' }).toISOString()).toBe('2026-12-01T12:00:00.000Z')
  })
})
