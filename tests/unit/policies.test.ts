import { describe, expect, it } from 'vitest'
import { activateCode, graceEndOf, heartbeatCode, leaseEndOf, snapshotOf, trialExpiryOf, verifyCode, type DeviceState, type LicensePolicyState } from '../../server/lib/policies'
import { activationLimitSchema, activationLimitTextSchema, expiresAfterActivationSchema, graceSchema, leaseDurationSchema, leaseInWords } from '../../shared/schemas/policies'

const T = new Date('2026-06-15T12:00:00.000Z')
const at = (ms: number) => new Date(T.getTime() + ms)
const MIN = 60_000
const DAY = 86_400_000

const base: LicensePolicyState = { status: 'active', expiresAt: null, grace: null, maxDevices: null, productSlug: 'app' }
const lic = (over: Partial<LicensePolicyState> = {}) => ({ ...base, ...over })
const dev = (fingerprint: string, leaseExpiresAt: Date | null = null): DeviceState => ({ fingerprint, leaseExpiresAt })

const verify = (l: LicensePolicyState, devices: DeviceState[], now: Date, fingerprint?: string, product?: string) =>
  verifyCode(snapshotOf(l, devices, [], fingerprint, now), { fingerprint, product }, now)
const activate = (l: LicensePolicyState, devices: DeviceState[], activations: Date[], fingerprint: string, now: Date, product?: string) =>
  activateCode(snapshotOf(l, devices, activations, fingerprint, now), { product }, now)

describe('grace period', () => {
  const l = lic({ expiresAt: T, grace: '7d' })
  it('graceEndsAt = expiresAt + grace (calendar months clamp)', () => {
    expect(graceEndOf(T, '7d')).toEqual(at(7 * DAY))
    expect(graceEndOf(new Date('2026-01-31T00:00:00Z'), '1mo')).toEqual(new Date('2026-02-28T00:00:00Z'))
    expect(graceEndOf(null, '7d')).toBeNull()
    expect(graceEndOf(T, null)).toBeNull()
  })
  it('VALID before expiry, GRACE_PERIOD from expiresAt until the grace end (exclusive), then EXPIRED', () => {
    expect(verify(l, [], at(-1))).toBe('VALID')
    expect(verify(l, [], T)).toBe('GRACE_PERIOD')
    expect(verify(l, [], at(7 * DAY - 1))).toBe('GRACE_PERIOD')
    expect(verify(l, [], at(7 * DAY))).toBe('EXPIRED')
    expect(verify(lic({ expiresAt: T }), [], T)).toBe('EXPIRED')
  })
  it('precedence: SUSPENDED and PRODUCT_MISMATCH beat grace; DEVICE_NOT_ACTIVATED beats GRACE_PERIOD', () => {
    expect(verify({ ...l, status: 'suspended' }, [], at(DAY))).toBe('SUSPENDED')
    expect(verify(l, [], at(DAY), undefined, 'other')).toBe('PRODUCT_MISMATCH')
    expect(verify(l, [], at(DAY), 'fp-1')).toBe('DEVICE_NOT_ACTIVATED')
    expect(verify(l, [dev('fp-1')], at(DAY), 'fp-1')).toBe('GRACE_PERIOD')
  })
  it('activation is refused during grace (EXPIRED); a heartbeat still keeps its seat', () => {
    expect(activate(l, [], [], 'fp-1', at(DAY))).toBe('EXPIRED')
    expect(activate(l, [dev('fp-1')], [], 'fp-1', at(DAY))).toBe('EXPIRED')
    expect(heartbeatCode(snapshotOf(l, [dev('fp-1')], [], 'fp-1', at(DAY)), {}, at(DAY))).toBe('ALIVE')
    expect(heartbeatCode(snapshotOf(l, [dev('fp-1')], [], 'fp-1', at(8 * DAY)), {}, at(8 * DAY))).toBe('EXPIRED')
  })
})

describe('expiry from first activation', () => {
  it('the trial ends that long after the first ACTIVATED answer', () => {
    expect(trialExpiryOf('14d', T)).toEqual(at(14 * DAY))
    expect(trialExpiryOf('1mo', new Date('2026-01-31T00:00:00Z'))).toEqual(new Date('2026-02-28T00:00:00Z'))
  })
  it('until then the license is perpetual: VALID, and the first activation is ACTIVATED', () => {
    expect(verify(lic(), [], T)).toBe('VALID')
    expect(activate(lic(), [], [], 'fp-1', T)).toBe('ACTIVATED')
  })
})

describe('activation churn limit', () => {
  const l = lic({ activationLimitCount: 3, activationLimitPeriod: '30d' })
  const old = [at(-31 * DAY), at(-40 * DAY), at(-60 * DAY)]
  it('more new activations than count within the trailing period: ACTIVATION_LIMIT_REACHED, even with free seats', () => {
    expect(activate(l, [], [at(-DAY), at(-2 * DAY)], 'fp-1', T)).toBe('ACTIVATED')
    expect(activate(l, [], [at(-DAY), at(-2 * DAY), at(-29 * DAY)], 'fp-1', T)).toBe('ACTIVATION_LIMIT_REACHED')
    expect(activate(l, [], [...old, at(-DAY)], 'fp-1', T)).toBe('ACTIVATED') // older ones left the window
  })
  it('precedence: ALREADY_ACTIVATED beats it; it beats DEVICE_LIMIT_REACHED', () => {
    const three = [at(-DAY), at(-2 * DAY), at(-3 * DAY)]
    expect(activate(l, [dev('fp-1')], three, 'fp-1', T)).toBe('ALREADY_ACTIVATED')
    expect(activate({ ...l, maxDevices: 1 }, [dev('fp-2')], three, 'fp-1', T)).toBe('ACTIVATION_LIMIT_REACHED')
    expect(activate({ ...l, maxDevices: 1 }, [dev('fp-2')], [], 'fp-1', T)).toBe('DEVICE_LIMIT_REACHED')
  })
  it('a calendar period counts from the same day of an earlier month', () => {
    const m = lic({ activationLimitCount: 1, activationLimitPeriod: '1mo' })
    const now = new Date('2026-03-31T00:00:00Z')
    expect(activate(m, [], [new Date('2026-02-28T00:00:01Z')], 'fp', now)).toBe('ACTIVATION_LIMIT_REACHED')
    expect(activate(m, [], [new Date('2026-02-27T23:59:59Z')], 'fp', now)).toBe('ACTIVATED')
  })
})

describe('floating seats (leases)', () => {
  const l = lic({ maxDevices: 2 })
  it('a lease lapses at leaseExpiresAt: it no longer holds a seat, and its device is not activated', () => {
    expect(leaseEndOf('15min', T)).toEqual(at(15 * MIN))
    expect(leaseEndOf(null, T)).toBeNull()
    const devices = [dev('a', at(15 * MIN)), dev('b', at(5 * MIN))]
    expect(activate(l, devices, [], 'c', at(MIN))).toBe('DEVICE_LIMIT_REACHED')
    expect(activate(l, devices, [], 'c', at(5 * MIN))).toBe('ACTIVATED') // b lapsed exactly now
    expect(verify(l, devices, at(10 * MIN), 'b')).toBe('DEVICE_NOT_ACTIVATED')
    expect(verify(l, devices, at(10 * MIN), 'a')).toBe('VALID')
    expect(heartbeatCode(snapshotOf(l, devices, [], 'b', at(10 * MIN)), {}, at(10 * MIN))).toBe('DEVICE_NOT_ACTIVATED')
    expect(heartbeatCode(snapshotOf(l, devices, [], 'a', at(10 * MIN)), {}, at(10 * MIN))).toBe('ALIVE')
    expect(activate(l, devices, [], 'b', at(10 * MIN))).toBe('ACTIVATED') // the old one activates again
  })
  it('devices without a lease hold their seat until freed', () => {
    expect(snapshotOf(l, [dev('a'), dev('b', at(-1))], [], undefined, T).used).toBe(1)
  })
})

describe('first match wins', () => {
  it('verify: NOT_FOUND, PRODUCT_MISMATCH, SUSPENDED, EXPIRED, DEVICE_NOT_ACTIVATED, GRACE_PERIOD, VALID', () => {
    expect(verifyCode(null, {}, T)).toBe('NOT_FOUND')
    const s = lic({ status: 'suspended', expiresAt: at(-30 * DAY), grace: '7d' })
    expect(verify(s, [], T, 'x', 'other')).toBe('PRODUCT_MISMATCH')
    expect(verify(s, [], T, 'x', 'app')).toBe('SUSPENDED')
    expect(verify({ ...s, status: 'active' }, [], T, 'x')).toBe('EXPIRED')
  })
  it('activate: … SUSPENDED, EXPIRED, ALREADY_ACTIVATED, ACTIVATION_LIMIT_REACHED, DEVICE_LIMIT_REACHED, ACTIVATED', () => {
    expect(activateCode(null, {}, T)).toBe('NOT_FOUND')
    const full = lic({ status: 'suspended', maxDevices: 1, activationLimitCount: 1, activationLimitPeriod: '1d' })
    expect(activate(full, [dev('a')], [at(-1)], 'b', T, 'nope')).toBe('PRODUCT_MISMATCH')
    expect(activate(full, [dev('a')], [at(-1)], 'b', T)).toBe('SUSPENDED')
    expect(activate({ ...full, status: 'active', expiresAt: T }, [dev('a')], [at(-1)], 'a', T)).toBe('EXPIRED')
  })
})

describe('policy values: every door refuses the same', () => {
  it('grace and trial durations: positive, bounded, well-formed', () => {
    for (const ok of ['1h', '7d', '2w', '1mo', '1y', '12mo']) expect(graceSchema.safeParse(ok).success).toBe(true)
    for (const bad of ['0d', '-1d', '2y', '13mo', '400d', '7', 'week', '1.5d', '', '99999d']) expect(graceSchema.safeParse(bad).success).toBe(false)
    expect(expiresAfterActivationSchema.safeParse('14d').success).toBe(true)
    expect(expiresAfterActivationSchema.safeParse('11y').success).toBe(false)
  })
  it('lease: 1 minute to 30 days; seconds and minutes allowed', () => {
    for (const ok of ['1min', '60s', '15min', '1h', '30d', '4w']) expect(leaseDurationSchema.safeParse(ok).success).toBe(true)
    for (const bad of ['59s', '0min', '30s', '31d', '5w', '1mo', '15m', 'min', '-5min']) expect(leaseDurationSchema.safeParse(bad).success).toBe(false)
    expect(leaseDurationSchema.safeParse('30s').error?.issues[0]?.message).toMatch(/at least 1 minute/)
    expect(leaseInWords('15min')).toBe('15 min')
    expect(leaseInWords('1h')).toBe('1 hour')
  })
  it('churn limit: count 1…10,000 and a period; COUNT/PERIOD text', () => {
    expect(activationLimitSchema.safeParse({ count: 3, period: '30d' }).success).toBe(true)
    for (const bad of [{ count: 0, period: '30d' }, { count: -1, period: '1d' }, { count: 1.5, period: '1d' }, { count: 100_001, period: '1d' }, { count: 3, period: '0d' }, { count: 3 }, { count: '3', period: '1d' }, { count: 3, period: '1d', extra: 1 }]) {
      expect(activationLimitSchema.safeParse(bad).success).toBe(false)
    }
    expect(activationLimitTextSchema.parse('3/1MO')).toEqual({ count: 3, period: '1mo' })
    for (const bad of ['3', '/30d', '0/30d', '3/', '3/30', 'x/30d', '3/30d/1']) expect(activationLimitTextSchema.safeParse(bad).success).toBe(false)
  })
})
