import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { generateWebhookSecret, webhookHeaders } from '../../server/lib/webhook-signing'
import { retryAfterMs, retrySchedule, DEFAULT_RETRY_SCHEDULE } from '../../server/services/webhook-delivery'

describe('webhook signing (Standard Webhooks)', () => {
  it('signs as the standardwebhooks package verifies, with every secret during a rotation', async () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()]
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    const body = JSON.stringify({ type: 'license.created', timestamp: new Date().toISOString(), data: { license: { id: 'lic_1' } } })
    const headers = await webhookHeaders([a, b], 'msg_1', Math.floor(Date.now() / 1000), body)
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    expect(new Webhook(a).verify(body, headers)).toMatchObject({ type: 'license.created' })
    expect(new Webhook(b).verify(body, headers)).toMatchObject({ type: 'license.created' })
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow()
    expect(() => new Webhook(a).verify(body.replace('lic_1', 'lic_2'), headers)).toThrow()
    // The same as the package's own signer.
    const ts = new Date()
    const mine = await webhookHeaders([a], 'msg_2', Math.floor(ts.getTime() / 1000), body)
    expect(mine['webhook-signature']).toBe(new Webhook(a).sign('msg_2', ts, body))
  })
})

describe('retry schedule', () => {
  it('defaults to roughly Standard Webhooks and gives up after about 3 days', () => {
    expect(retrySchedule({})).toBe(DEFAULT_RETRY_SCHEDULE)
    const total = DEFAULT_RETRY_SCHEDULE.reduce((a, b) => a + b, 0)
    expect(total / 86_400).toBeGreaterThan(2.5)
    expect(total / 86_400).toBeLessThan(3.5)
    expect(retrySchedule({ WEBHOOK_RETRY_SCHEDULE: '1, 2,x,3' })).toEqual([1, 2, 3])
  })

  it('reads Retry-After as seconds or a date, capped at a day', () => {
    const now = new Date('2026-01-01T00:00:00Z')
    expect(retryAfterMs('30', now)).toBe(30_000)
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000)
    expect(retryAfterMs('999999', now)).toBe(86_400_000)
    expect(retryAfterMs('soon', now)).toBeNull()
    expect(retryAfterMs(null, now)).toBeNull()
  })
})
