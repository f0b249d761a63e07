import { describe, expect, it } from 'vitest'
import { CROCKFORD, fromBase64, generatePassword, newId, toBase64, toCrockford } from '../../server/lib/random'

describe('random helpers', () => {
  it('encodes Crockford base32 (5 bits per symbol, no ambiguous letters)', () => {
    expect(toCrockford(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]))).toBe('ZZZZZZZZ')
    expect(toCrockford(new Uint8Array([0, 0, 0, 0, 0]))).toBe('00000000')
    expect(toCrockford(new Uint8Array([0x08]))).toBe('10')
    expect(CROCKFORD).not.toMatch(/[ILOU]/)
  })

  it('makes prefixed ids that do not repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newId('usr')))
    expect(ids.size).toBe(2000)
    for (const id of [...ids].slice(0, 20)) expect(id).toMatch(/^usr_[0-9a-z]{20}$/)
  })

  it('generates strong passwords from an unambiguous alphabet', () => {
    const pw = generatePassword()
    expect(pw).toHaveLength(20)
    expect(pw).not.toMatch(/[lIO01]/)
    expect(new Set(Array.from({ length: 200 }, () => generatePassword())).size).toBe(200)
  })

  it('round-trips base64', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255])
    expect([...fromBase64(toBase64(bytes))]).toEqual([...bytes])
  })
})
