import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedOwner } from '../support/licenses'
import { mgmt, tokenFor } from '../support/management'
import { startWorker, type TestWorker } from '../support/worker'

// The default limit (120 calls per owner per minute), with the real RateLimiter Durable Object.
let w: TestWorker
beforeAll(async () => { w = await startWorker() })
afterAll(async () => { await w?.close() })

describe('management API rate limit', () => {
  it('120 calls per owner per window, then 429 with Retry-After and RateLimit-*; other owners unaffected; refused calls do not count', async () => {
    const a = await seedOwner(w)
    const b = await seedOwner(w)
    // Two tokens of one owner share the owner's budget.
    const [t1, t2] = [(await tokenFor(w, a.id)).token, (await tokenFor(w, a.id)).token]
    const tb = (await tokenFor(w, b.id)).token
    for (let i = 0; i < 120; i++) {
      const r = await mgmt(w, i % 2 ? t1 : t2, 'GET', '/products')
      expect(r.status, `call ${i + 1}`).toBe(200)
      expect(r.headers.get('ratelimit-limit')).toBe('120')
      expect(r.headers.get('ratelimit-remaining')).toBe(String(119 - i))
    }
    for (let i = 0; i < 3; i++) {
      const r = await mgmt(w, t1, 'GET', '/products')
      expect(r.status).toBe(429)
      expect(r.json.error.code).toBe('RATE_LIMITED')
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60)
      expect(r.headers.get('ratelimit-remaining')).toBe('0')
      expect(r.headers.get('ratelimit-policy')).toBe('120;w=60')
    }
    // Writes are refused too, and change nothing.
    expect((await mgmt(w, t2, 'POST', '/licenses', { label: 'over the limit' })).status).toBe(429)
    const other = await mgmt(w, tb, 'GET', '/products')
    expect(other.status).toBe(200)
    expect(other.headers.get('ratelimit-remaining')).toBe('119')
  })
})
