import { describe, expect, it } from 'vitest'
import { durationInWords } from '../../shared/schemas/licenses'
import { defaultsFromForm, formFromDefaults, productDefaultsSchema, productFormSchema, productSlugSchema, slugify } from '../../shared/schemas/products'

const base = { name: 'Photo Pro', slug: 'photo-pro', expiry: 'none', renewal: 'none', unlimitedDevices: true, maxDevices: 1, metadata: '' } as const

describe('product schemas and forms', () => {
  it('slugs: lower-case letters, digits and dashes, 1–63, not starting with a dash', () => {
    for (const ok of ['a', 'photo-pro', '0day', 'a'.repeat(63)]) expect(productSlugSchema.safeParse(ok).success, ok).toBe(true)
    for (const bad of ['', '-a', 'Photo', 'a b', 'a_b', 'a'.repeat(64), 'é']) expect(productSlugSchema.safeParse(bad).success, bad).toBe(false)
    expect(slugify('  Photo Pro — Édition 2! ')).toBe('photo-pro-edition-2')
    expect(productSlugSchema.safeParse(slugify('x'.repeat(80))).success).toBe(true)
  })

  it('defaults: unknown members refused, null and absent mean no default', () => {
    expect(productDefaultsSchema.parse({ expiresIn: '1Y', renewalPeriod: null, maxDevices: 3, metadata: null })).toEqual({ expiresIn: '1y', maxDevices: 3 })
    expect(productDefaultsSchema.safeParse({ seats: 3 }).success).toBe(false)
    // Policies (docs/policies.md): a grace needs an expiry to follow; an expiry and a trial clock exclude each other.
    expect(productDefaultsSchema.parse({ expiresIn: '1y', grace: '7D', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '30d' } }))
      .toEqual({ expiresIn: '1y', grace: '7d', leaseDuration: '15min', maxActivationsPerPeriod: { count: 3, period: '30d' } })
    expect(productDefaultsSchema.safeParse({ grace: '7d' }).success).toBe(false)
    expect(productDefaultsSchema.safeParse({ expiresAfterActivation: '14d', grace: '3d' }).success).toBe(true)
    expect(productDefaultsSchema.safeParse({ expiresIn: '30d', expiresAfterActivation: '14d' }).success).toBe(false)
    expect(productDefaultsSchema.safeParse({ leaseDuration: '30s' }).success).toBe(false)
    expect(productDefaultsSchema.safeParse({ maxDevices: 0 }).success).toBe(false)
  })

  it('the form maps onto defaults and back', () => {
    const out = productFormSchema.parse({ ...base, expiry: 'custom', expiresIn: ' 6MO ', renewal: '1y', unlimitedDevices: false, maxDevices: 2, metadata: '{"tier":"pro"}' })
    const defaults = productDefaultsSchema.parse(defaultsFromForm(out))
    expect(defaults).toEqual({ expiresIn: '6mo', renewalPeriod: '1y', maxDevices: 2, metadata: { tier: 'pro' } })
    expect(formFromDefaults(defaults)).toMatchObject({ expiry: 'custom', expiresIn: '6mo', renewal: '1y', unlimitedDevices: false, maxDevices: 2 })
    expect(defaultsFromForm(productFormSchema.parse(base))).toEqual({ expiresIn: undefined, renewalPeriod: undefined, maxDevices: undefined, metadata: undefined, grace: null, expiresAfterActivation: null, maxActivationsPerPeriod: null, leaseDuration: null })
    // Policies as text fields (empty = none), checked against the expiry choice.
    const withPolicies = productFormSchema.parse({ ...base, expiry: '1y', renewal: 'none', unlimitedDevices: true, metadata: '', grace: '7d', maxActivationsPerPeriod: '3/1mo', leaseDuration: '15min' })
    expect(productDefaultsSchema.parse(defaultsFromForm(withPolicies))).toEqual({ expiresIn: '1y', grace: '7d', maxActivationsPerPeriod: { count: 3, period: '1mo' }, leaseDuration: '15min' })
    expect(formFromDefaults({ maxActivationsPerPeriod: { count: 3, period: '1mo' } })).toMatchObject({ maxActivationsPerPeriod: '3/1mo', grace: '' })
    const perpetualGrace = productFormSchema.safeParse({ ...base, expiry: 'none', renewal: 'none', unlimitedDevices: true, metadata: '', grace: '7d' })
    expect(perpetualGrace.error?.issues.map(i => i.path.join('.'))).toEqual(['grace'])
    const trialAndExpiry = productFormSchema.safeParse({ ...base, expiry: '1y', renewal: 'none', unlimitedDevices: true, metadata: '', expiresAfterActivation: '14d', leaseDuration: '10s' })
    expect(trialAndExpiry.error?.issues.map(i => i.path.join('.')).sort()).toEqual(['expiresAfterActivation', 'leaseDuration'])
    expect(formFromDefaults({})).toMatchObject({ expiry: 'none', renewal: 'none', unlimitedDevices: true, metadata: '' })
  })

  it('the form names every field that needs a value', () => {
    const r = productFormSchema.safeParse({ ...base, slug: 'Bad Slug', expiry: 'custom', expiresIn: '', renewal: 'custom', renewalPeriod: 'x', unlimitedDevices: false, maxDevices: null })
    expect(Object.keys(Object.fromEntries(r.error!.issues.map(i => [i.path.join('.'), 1]))).sort()).toEqual(['expiresIn', 'maxDevices', 'renewalPeriod', 'slug'])
  })

  it('durations in words', () => {
    expect(['1y', '6mo', '14d', '1h', '2w', 'x'].map(durationInWords)).toEqual(['1 year', '6 months', '14 days', '1 hour', '2 weeks', 'x'])
  })
})
