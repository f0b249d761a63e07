import { describe, expect, it } from 'vitest'
import { ApiError, parseBody, ROUTES, type Fields, type Route } from '../../server/lib/public-api'
import { publicRequestSchemas } from '../../shared/schemas/public-api'

/**
 * The verify path parses bodies by hand (server/lib/public-api.ts, no zod on the hot path); the
 * OpenAPI document describes them with zod schemas (shared/schemas/public-api.ts) built from the
 * same field rules. This proves the two are one contract: on seeded fuzzed bodies, both accept
 * exactly the same ones and read the same fields.
 */

/** mulberry32: a small seeded PRNG, so a failure replays. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FIELDS = ['key', 'fingerprint', 'name', 'product', 'nonce', 'signed', 'extra', '__proto__', 'constructor']
const LENGTHS = [0, 1, 2, 64, 127, 128, 129, 255, 256, 257, 1000]

function fuzzValue(r: () => number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!
  switch (Math.floor(r() * 12)) {
    case 0: return undefined
    case 1: return null
    case 2: return pick([true, false])
    case 3: return pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER])
    case 4: return []
    case 5: return { key: 'x' }
    case 6: return pick(['\u0000', '💥'.repeat(100), ' ', '"', '\\u0000'])
    case 7: return 'é'.repeat(pick(LENGTHS))
    default: return 'a'.repeat(pick(LENGTHS))
  }
}

function fuzzBody(r: () => number): string {
  const roll = r()
  if (roll < 0.04) return pick(r, ['', 'null', '[]', '"key"', '42', '{', '{"key":', 'true', '[{"key":"a"}]'])
  const obj: Record<string, unknown> = {}
  // Mostly the route's own fields, so the interesting (near-valid) cases dominate.
  for (const f of ['key', 'fingerprint']) if (r() < 0.85) obj[f] = r() < 0.8 ? 'a'.repeat(pick(r, [1, 10, 256, 257])) : fuzzValue(r)
  for (const f of FIELDS) if (r() < 0.3) obj[f] = fuzzValue(r)
  if (r() < 0.3) obj.signed = pick(r, [true, false, 'true', 1, null])
  return JSON.stringify(obj)
}
const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!

function byHand(route: Route, text: string): Fields | 'refused' {
  try {
    return parseBody(route, text)
  }
  catch (error) {
    if (error instanceof ApiError && error.code === 'BAD_REQUEST') return 'refused'
    throw error
  }
}

function byZod(route: Route, text: string): Fields | 'refused' {
  let data: unknown
  try {
    data = JSON.parse(text)
  }
  catch {
    return 'refused'
  }
  const r = publicRequestSchemas[route].safeParse(data)
  if (!r.success) return 'refused'
  // zod keeps only known keys; drop those left undefined so both sides compare as plain objects.
  return Object.fromEntries(Object.entries(r.data).filter(([, v]) => v !== undefined)) as unknown as Fields
}

describe('public request bodies: the hand parser and the zod schemas agree', () => {
  it.each(ROUTES)('%s: 5 000 seeded fuzzed bodies, same verdict and same fields', (route) => {
    const r = rng(0x5eed + route.length)
    let accepted = 0
    let refused = 0
    for (let i = 0; i < 5000; i++) {
      const text = fuzzBody(r)
      const hand = byHand(route, text)
      const zod = byZod(route, text)
      expect({ text, verdict: zod }).toEqual({ text, verdict: hand })
      if (hand === 'refused') refused++
      else accepted++
    }
    // Both verdicts are well represented, so agreement is not agreement on one side only.
    expect(accepted).toBeGreaterThan(300)
    expect(refused).toBeGreaterThan(300)
  })

  it('own properties only: "__proto__" smuggling is refused by both as a missing key', () => {
    const text = '{"__proto__":{"key":"LM-AAAA"},"fingerprint":"f"}'
    expect(byHand('verify', text)).toBe('refused')
    expect(byZod('verify', text)).toBe('refused')
  })
})
