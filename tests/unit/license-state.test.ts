import { describe, expect, it } from 'vitest'
import { exactTime, expiryInWords, isTrial, licenseBanner, relativeTime, trialBadge } from '../../shared/license-state'

const now = new Date('2026-06-01T12:00:00Z')
const at = (ms: number) => new Date(now.getTime() + ms)
const DAY = 86_400_000

describe('license state for people', () => {
  it('relative times in words, the biggest unit that fits', () => {
    expect(relativeTime(at(14 * DAY + 3600_000), now)).toBe('in 14 days')
    expect(relativeTime(at(DAY), now)).toBe('in 1 day')
    expect(relativeTime(at(-3 * 3600_000), now)).toBe('3 hours ago')
    expect(relativeTime(at(5 * 60_000 + 10), now)).toBe('in 5 minutes')
    expect(relativeTime(at(20_000), now)).toBe('just now')
    expect(relativeTime(at(90 * DAY), now)).toBe('in 3 months')
    expect(relativeTime(at(365 * DAY - 60_000), now)).toBe('in 1 year')
    expect(relativeTime(at(-400 * DAY), now)).toBe('1 year ago')
  })

  it('a banner for suspended, expired and expiring within two weeks; none otherwise', () => {
    const base = { status: 'active', createdAt: at(-100 * DAY), renewalPeriod: '1y' }
    expect(licenseBanner({ ...base, status: 'suspended', expiresAt: at(-DAY) }, now)).toEqual({ kind: 'suspended' })
    expect(licenseBanner({ ...base, expiresAt: at(-DAY) }, now)).toEqual({ kind: 'expired', at: at(-DAY) })
    expect(licenseBanner({ ...base, expiresAt: at(10 * DAY) }, now)).toEqual({ kind: 'expiring', at: at(10 * DAY) })
    expect(licenseBanner({ ...base, expiresAt: at(15 * DAY) }, now)).toBeNull()
    expect(licenseBanner({ ...base, expiresAt: null }, now)).toBeNull()
  })

  it('a trial: a term of at most a month that does not renew', () => {
    expect(isTrial({ status: 'active', createdAt: now, expiresAt: at(14 * DAY), renewalPeriod: null })).toBe(true)
    expect(isTrial({ status: 'active', createdAt: now, expiresAt: at(30 * DAY), renewalPeriod: '30d' })).toBe(false)
    expect(isTrial({ status: 'active', createdAt: now, expiresAt: at(365 * DAY), renewalPeriod: null })).toBe(false)
    expect(isTrial({ status: 'active', createdAt: now, expiresAt: null, renewalPeriod: null })).toBe(false)
    // An import created already expired ("Old import") has no term: not a trial.
    expect(isTrial({ status: 'active', createdAt: now, expiresAt: at(-DAY), renewalPeriod: null })).toBe(false)
  })

  it('list rows: relative expiry, an exact UTC title, and the trial badge', () => {
    expect(expiryInWords(at(14 * DAY + 60_000), now)).toBe('expires in 14 days')
    expect(expiryInWords(at(-3 * DAY - 60_000), now)).toBe('expired 3 days ago')
    expect(exactTime(new Date('2030-01-31T00:00:00Z'))).toBe('Jan 31, 2030, 00:00 UTC')
    const base = { status: 'active', createdAt: at(-DAY), renewalPeriod: '1y' }
    expect(trialBadge({ ...base, expiresAt: null, expiresAfterActivation: '14d', trialPending: true }, now)).toBe('trial · starts on first activation')
    expect(trialBadge({ ...base, expiresAt: at(9 * DAY + 60_000), expiresAfterActivation: '14d', trialPending: false }, now)).toBe('trial · ends in 9 days')
    expect(trialBadge({ ...base, expiresAt: at(-3 * DAY - 60_000), expiresAfterActivation: '14d', trialPending: false }, now)).toBe('trial · ended 3 days ago')
    expect(trialBadge({ ...base, renewalPeriod: null, expiresAt: at(13 * DAY) }, now)).toBe('trial · ends in 13 days')
    expect(trialBadge({ ...base, expiresAt: at(300 * DAY) }, now)).toBeNull()
    expect(trialBadge({ ...base, expiresAt: null }, now)).toBeNull()
  })
})
