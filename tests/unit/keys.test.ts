import { describe, expect, it } from 'vitest'
import { decryptKey, encryptKey, formatKey, generateKey, keyDigest, normalizeKey } from '../../server/lib/keys'
import { CROCKFORD } from '../../server/lib/random'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'

describe('license keys', () => {
  it('look like LM- plus six groups of five Crockford symbols and carry ≥ 128 bits', () => {
    const keys = Array.from({ length: 500 }, () => generateKey())
    for (const { key, body } of keys.slice(0, 50)) {
      expect(key).toMatch(/^LM(-[0-9A-HJKMNP-TV-Z]{5}){6}$/)
      expect(formatKey(body)).toBe(key)
      expect(normalizeKey(key)).toBe(body)
    }
    expect(new Set(keys.map(k => k.key)).size).toBe(500)
    expect(29 * Math.log2(32)).toBeGreaterThanOrEqual(128) // random symbols before the check symbol
    // Every symbol position varies (no stuck bits).
    for (let i = 0; i < 29; i++) expect(new Set(keys.map(k => k.body[i])).size).toBeGreaterThan(20)
  })

  it('catches every single-symbol substitution and adjacent swap with the check symbol', () => {
    const { body } = generateKey()
    for (let i = 0; i < body.length; i++) {
      for (const c of CROCKFORD) {
        if (c === body[i]) continue
        expect(normalizeKey(body.slice(0, i) + c + body.slice(i + 1))).toBeNull()
      }
    }
    let swapsCaught = 0
    let swaps = 0
    for (let i = 0; i < body.length - 1; i++) {
      if (body[i] === body[i + 1]) continue
      swaps++
      if (normalizeKey(body.slice(0, i) + body[i + 1] + body[i] + body.slice(i + 2)) === null) swapsCaught++
    }
    expect(swapsCaught / swaps).toBeGreaterThan(0.9)
  })

  it('rejects about 31 in 32 random strings without any lookup', () => {
    let accepted = 0
    for (let i = 0; i < 3200; i++) {
      const s = Array.from({ length: 30 }, () => CROCKFORD[Math.floor(Math.random() * 32)]).join('')
      if (normalizeKey(s)) accepted++
    }
    expect(accepted).toBeLessThan(200) // expected 100
  })

  it('normalises case, whitespace, dashes, prefix and Crockford folding', () => {
    const { key, body } = generateKey()
    const folded = body.replace(/0/g, 'o').replace(/1/g, 'L')
    for (const v of [key.toLowerCase(), ` ${key} `, key.replace(/-/g, ''), body, key.replace(/-/g, '  '), `lm-${folded}`, `\t${key}\n`]) {
      expect(normalizeKey(v)).toBe(body)
    }
    for (const bad of ['', 'LM', `${key}X`, key.slice(0, -1), key.replace(/.$/, 'U'), `LM-${body}-${body}`, 'x'.repeat(300), `${key}\u0000`]) {
      expect(normalizeKey(bad)).toBeNull()
    }
  })

  it('digests with HMAC-SHA-256 (deterministic, secret-dependent) and encrypts with AES-GCM (random IV)', async () => {
    const { body } = generateKey()
    const d1 = await keyDigest(SECRET, body)
    expect(d1).toMatch(/^[A-Za-z0-9+/]{43}$/)
    expect(await keyDigest(SECRET, body)).toBe(d1)
    expect(await keyDigest(`${SECRET}-other`, body)).not.toBe(d1)
    const c1 = await encryptKey(SECRET, body)
    const c2 = await encryptKey(SECRET, body)
    expect(c1).not.toBe(c2)
    expect(c1).not.toContain(body)
    expect(await decryptKey(SECRET, c1)).toBe(body)
    await expect(decryptKey(`${SECRET}-other`, c1)).rejects.toThrow()
    await expect(keyDigest('short', body)).rejects.toThrow(/KEY_HMAC_SECRET/)
  })
})
