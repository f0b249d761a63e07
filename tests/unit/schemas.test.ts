import { describe, expect, it } from 'vitest'
import { loginSchema } from '../../shared/schemas/auth'
import { createUserSchema, updateUserSchema } from '../../shared/schemas/users'

describe('shared form schemas', () => {
  it('normalises email case and whitespace', () => {
    expect(loginSchema.parse({ email: '  Ada@Example.COM ', password: 'x' }).email).toBe('ada@example.com')
  })

  it.each([
    ['over-long email', { email: `${'a'.repeat(250)}@example.com`, password: 'x' }],
    ['not an email', { email: "' OR 1=1 --", password: 'x' }],
    ['empty password', { email: 'a@example.com', password: '' }],
    ['over-long password', { email: 'a@example.com', password: 'x'.repeat(257) }],
    ['wrong types', { email: 42, password: ['x'] }],
  ])('login refuses %s', (_, input) => {
    expect(loginSchema.safeParse(input).success).toBe(false)
  })

  it('create user: password optional (generated), at least 10 characters when given', () => {
    expect(createUserSchema.parse({ email: 'a@example.com' })).toMatchObject({ role: 'user', name: '' })
    const short = createUserSchema.safeParse({ email: 'a@example.com', password: 'short' })
    expect(short.success).toBe(false)
    expect(short.error?.issues[0]?.path).toEqual(['password'])
  })

  it('update user refuses bad ids, roles and limits', () => {
    expect(updateUserSchema.safeParse({ id: 'usr_abc', role: 'root' }).success).toBe(false)
    expect(updateUserSchema.safeParse({ id: "usr_1'; drop table users", name: 'x' }).success).toBe(false)
    expect(updateUserSchema.safeParse({ id: 'usr_abc', verifyLimitPerMinute: 1.5 }).success).toBe(false)
    expect(updateUserSchema.safeParse({ id: 'usr_abc', verifyLimitPerMinute: null }).success).toBe(true)
  })
})

describe('license schemas', async () => {
  const { createLicenseSchema, renewLicenseSchema } = await import('../../shared/schemas/licenses')
  it('refuses zero and malformed durations (never reaching the service)', () => {
    for (const expiresIn of ['0d', '00h', '1m', 'forever', '']) {
      expect(createLicenseSchema.safeParse({ expiresIn }).success, expiresIn).toBe(false)
      expect(renewLicenseSchema.safeParse({ id: 'lic_abc', expiresIn }).success, expiresIn).toBe(false)
    }
    expect(createLicenseSchema.safeParse({ expiresIn: '14D' }).data?.expiresIn).toBe('14d')
  })
})
