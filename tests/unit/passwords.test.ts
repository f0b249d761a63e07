import { describe, expect, it } from 'vitest'
import { CURRENT_PARAMS, deriveScrypt, hashPassword, needsRehash, parseHash, timingSafeEqual, verifyPassword } from '../../server/lib/passwords'

describe('password hashing', () => {
  it('native node:crypto scrypt and scrypt-js derive the same key', async () => {
    const salt = new Uint8Array(16).map((_, i) => i * 7)
    for (const password of ['correct horse battery staple', 'pässwörd ☃ 🔑', '']) {
      const native = await deriveScrypt(password, salt, CURRENT_PARAMS, 'native')
      const portable = await deriveScrypt(password, salt, CURRENT_PARAMS, 'portable')
      expect(Buffer.from(native).toString('hex')).toBe(Buffer.from(portable).toString('hex'))
      expect(native).toHaveLength(32)
    }
  })

  it('a hash made by one implementation verifies with the other', async () => {
    const portable = await hashPassword('hunter2hunter2', 'portable')
    expect(await verifyPassword('hunter2hunter2', portable)).toBe(true)
    expect(await verifyPassword('hunter2hunter3', portable)).toBe(false)
  })

  it('stores OWASP-equivalent parameters and a 16-byte random salt in a PHC string', async () => {
    const a = await hashPassword('same password')
    const b = await hashPassword('same password')
    expect(a).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(a).not.toBe(b) // salted
    const parsed = parseHash(a)!
    expect(parsed.salt).toHaveLength(16)
    expect(2 ** parsed.params.ln).toBeGreaterThanOrEqual(2 ** 14)
    expect(parsed.params.r * parsed.params.p).toBeGreaterThanOrEqual(40)
  })

  it('asks for a rehash when stored parameters are below the current cost', async () => {
    const weak = await hashPassword('old password', 'native', { ln: 10, r: 8, p: 1 })
    expect(await verifyPassword('old password', weak)).toBe(true)
    expect(needsRehash(weak)).toBe(true)
    expect(needsRehash(await hashPassword('new password'))).toBe(false)
  })

  it('rejects malformed hash strings instead of throwing', async () => {
    for (const bad of ['', 'plain', '$scrypt$ln=99,r=8,p=1$AAAA$BBBB', '$argon2id$v=19$m=1$AAAA$BBBB', '$scrypt$ln=14,r=8,p=5$!!$??']) {
      expect(await verifyPassword('x', bad)).toBe(false)
      expect(needsRehash(bad)).toBe(true)
    }
  })

  it('compares in constant time over equal lengths', () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true)
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false)
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
  })
})
