import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedLicense, seedOwner } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

/** Deterministic PRNG (mulberry32): a failing body can be reproduced from the seed. */
function rng(seed: number) {
  return () => {
    seed |= 0
    seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const PER_ROUTE = 200

let w: TestWorker
let validKey = ''
beforeAll(async () => {
  w = await startWorker()
  const owner = await seedOwner(w)
  validKey = (await seedLicense(w, owner.id, { maxDevices: 2 })).key
})
afterAll(async () => { await w?.close() })

const HOSTILE_STRINGS = [
  "' OR 1=1 --", '"; DROP TABLE licenses; --', 'LM-\'||(select key_digest from licenses)||\'', '\u0000\u0001\u001f\u007f',
  '\uD800', '\uFFFF\uFFFE', '🔑'.repeat(100), '\u202E', '%s%n%x', '${7*7}', '{{7*7}}', '<img src=x onerror=alert(1)>',
  '../../etc/passwd', 'A'.repeat(256), 'A'.repeat(257), ' ', '\n', 'null', 'undefined', 'NaN', '__proto__', 'constructor',
]

function randomString(r: () => number): string {
  const n = Math.floor(r() * 300)
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * (r() < 0.9 ? 128 : 0xFFFF)))
  return s
}

function nested(r: () => number, depth: number): unknown {
  if (depth <= 0) return randomValue(r, 0)
  return r() < 0.5 ? { a: nested(r, depth - 1) } : [nested(r, depth - 1)]
}

function randomValue(r: () => number, depth = 2): unknown {
  const pick = Math.floor(r() * 14)
  switch (pick) {
    case 0: return HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)]
    case 1: return randomString(r)
    case 2: return r() < 0.5 ? 1e308 : -1e308
    case 3: return Number.MAX_SAFE_INTEGER * (r() < 0.5 ? 1 : -1) + Math.floor(r() * 100)
    case 4: return null
    case 5: return r() < 0.5
    case 6: return depth > 0 ? nested(r, 50 + Math.floor(r() * 200)) : 0
    case 7: return depth > 0 ? Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth - 1)) : []
    case 8: return validKey
    case 9: return validKey.toLowerCase().replace(/-/g, ' ')
    case 10: return validKey.slice(0, Math.floor(r() * validKey.length))
    case 11: return depth > 0 ? { key: randomValue(r, depth - 1) } : {}
    case 12: return ''
    default: return Math.floor(r() * 1000) - 500
  }
}

/** One hostile request: mostly JSON objects with fields of every type, plus raw binary and broken JSON. */
function randomRequest(r: () => number): { body: BodyInit, contentType: string } {
  const roll = r()
  if (roll < 0.1) {
    const bytes = new Uint8Array(Math.floor(r() * 2000))
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256)
    return { body: bytes, contentType: 'application/json' }
  }
  if (roll < 0.18) {
    const text = JSON.stringify({ key: validKey, fingerprint: 'fp' })
    return { body: text.slice(0, Math.floor(r() * text.length)), contentType: 'application/json; charset=utf-8' }
  }
  if (roll < 0.23) return { body: JSON.stringify(randomValue(r)), contentType: 'application/json' }
  if (roll < 0.28) return { body: `{"__proto__":{"key":"${validKey}"},"constructor":{"prototype":{"fingerprint":"x"}}}`, contentType: 'application/json' }
  const obj: Record<string, unknown> = {}
  for (const field of ['key', 'fingerprint', 'name', 'extra', 'toString', 'hasOwnProperty']) {
    if (r() < 0.7) obj[field] = randomValue(r)
  }
  return { body: JSON.stringify(obj), contentType: r() < 0.9 ? 'application/json' : 'text/plain' }
}

describe.each(['verify', 'activate', 'deactivate'])('fuzz POST /api/v1/licenses/%s', (route) => {
  it(`${PER_ROUTE} random and hostile bodies: never a 5xx, never a stack trace (seed ${SEED})`, async () => {
    const r = rng(SEED + route.length)
    const statuses = new Map<number, number>()
    const requests = Array.from({ length: PER_ROUTE }, () => randomRequest(r))
    for (let i = 0; i < requests.length; i += 10) {
      await Promise.all(requests.slice(i, i + 10).map(async (req, j) => {
        const res = await fetch(`${w.url}/api/v1/licenses/${route}`, {
          method: 'POST',
          headers: { 'content-type': req.contentType, 'cf-connecting-ip': `198.18.1.${(i + j) % 250}` },
          body: req.body,
        })
        const text = await res.text()
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        const where = `request #${i + j} (${String(req.body).slice(0, 80)})`
        expect(res.status, where).toBeLessThan(500)
        expect(text, where).not.toMatch(/\bat .+:\d+:\d+|node_modules|stack|\.ts\b/i)
        const json = JSON.parse(text)
        if (res.status === 200) expect(typeof json.code, where).toBe('string')
        else expect(json.error.code, where).toMatch(/^[A-Z_]+$/)
      }))
    }
    // The fuzzer reached both the protocol checks and the business logic.
    expect(statuses.get(400)).toBeGreaterThan(20)
    expect(statuses.get(200)).toBeGreaterThan(0)
  })
})
