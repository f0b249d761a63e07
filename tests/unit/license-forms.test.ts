import { describe, expect, it } from 'vitest'
import { createLicenseFormSchema, dayInputSchema, editLicenseFormSchema, metadataJsonSchema, renewalPeriodOf, renewalPresetOf, renewLicenseFormSchema } from '../../shared/schemas/licenses'

const base = { label: '', expiry: '1y', renewal: 'none', unlimitedDevices: false, maxDevices: 1, metadata: '' } as const
const messages = (r: { success: boolean, error?: { issues: { path: PropertyKey[], message: string }[] } }) =>
  Object.fromEntries((r.error?.issues ?? []).map(i => [i.path.join('.'), i.message]))

describe('license form schemas', () => {
  it('metadata text: empty is {}, otherwise a JSON object of at most 4 KiB', () => {
    expect(metadataJsonSchema.parse('')).toEqual({})
    expect(metadataJsonSchema.parse(' {"tier": "pro"} ')).toEqual({ tier: 'pro' })
    expect(messages(metadataJsonSchema.safeParse('{"tier": '))).toEqual({ '': 'Not valid JSON' })
    for (const notObject of ['[1]', '1', '"x"', 'null']) {
      expect(messages(metadataJsonSchema.safeParse(notObject))['']).toMatch(/JSON object/)
    }
    expect(messages(metadataJsonSchema.safeParse(JSON.stringify({ a: 'x'.repeat(4100) })))['']).toMatch(/4 KiB/)
  })

  it('create: every field that needs a companion value says so, all at once', () => {
    const r = createLicenseFormSchema.safeParse({ ...base, expiry: 'date', renewal: 'custom', renewalPeriod: '0d', maxDevices: null, metadata: '{' })
    expect(messages(r)).toEqual({
      metadata: 'Not valid JSON',
      expiresOn: 'Pick a date',
      renewalPeriod: expect.stringMatching(/at least 1/),
      maxDevices: 'Enter a number of devices',
    })
    expect(createLicenseFormSchema.safeParse({ ...base, maxDevices: 1.5 }).success).toBe(false)
    expect(createLicenseFormSchema.safeParse({ ...base, unlimitedDevices: true, maxDevices: null }).success).toBe(true)
    expect(createLicenseFormSchema.parse({ ...base, expiry: 'date', expiresOn: '2030-01-31', renewal: 'custom', renewalPeriod: ' 6MO ', metadata: '{"a":1}' }))
      .toMatchObject({ expiresOn: '2030-01-31', renewalPeriod: ' 6MO ', metadata: { a: 1 } })
  })

  it('renew: a duration or a real date when that mode is chosen', () => {
    expect(renewLicenseFormSchema.safeParse({ mode: 'period' }).success).toBe(true)
    expect(messages(renewLicenseFormSchema.safeParse({ mode: 'duration', expiresIn: '3 days' })).expiresIn).toMatch(/duration like/)
    expect(renewLicenseFormSchema.safeParse({ mode: 'duration', expiresIn: '2w' }).success).toBe(true)
    expect(messages(renewLicenseFormSchema.safeParse({ mode: 'date', expiresOn: '' }))).toEqual({ expiresOn: 'Pick a date' })
    expect(dayInputSchema.safeParse('2027-02-30').success).toBe(false)
    expect(dayInputSchema.safeParse('2028-02-29').success).toBe(true)
  })

  it('the renewal control is the same in Create and Edit: presets in words, a custom duration checked', () => {
    expect(renewalPresetOf(null)).toEqual({ renewal: 'none', renewalPeriod: '' })
    expect(renewalPresetOf('1y')).toEqual({ renewal: '1y', renewalPeriod: '' })
    expect(renewalPresetOf('6mo')).toEqual({ renewal: 'custom', renewalPeriod: '6mo' })
    expect(renewalPeriodOf('none', 'x')).toBeNull()
    expect(renewalPeriodOf('30d', '')).toBe('30d')
    expect(renewalPeriodOf('custom', ' 6MO ')).toBe('6mo')
    const edit = { id: 'lic_abc', label: 'x', renewal: 'custom' as const }
    expect(messages(editLicenseFormSchema.safeParse({ ...edit, renewalPeriod: 'soon' }))).toEqual({ renewalPeriod: expect.stringMatching(/duration like/) })
    expect(editLicenseFormSchema.safeParse({ ...edit, renewalPeriod: '2w' }).success).toBe(true)
    expect(editLicenseFormSchema.safeParse({ ...edit, renewal: 'none' }).success).toBe(true)
  })
})
