import scryptJsModule from 'scrypt-js'
import { fromBase64, randomBytes, toBase64 } from './random'

/**
 * Password hashing: scrypt, PHC-style string `$scrypt$ln=14,r=8,p=5$<salt>$<hash>` (base64, no padding).
 * Cost N=2^14, r=8, p=5 is OWASP's scrypt recommendation; memory 16 MiB, within workerd's 128 MB.
 * Parameters live in the string, so raising them later only needs `needsRehash` on login.
 */
export const CURRENT_PARAMS = { ln: 14, r: 8, p: 5 } as const
const KEY_LENGTH = 32
const SALT_LENGTH = 16

export interface ScryptParams { ln: number, r: number, p: number }
export type ScryptImpl = 'native' | 'portable'

type NativeScrypt = (password: Uint8Array, salt: Uint8Array, keylen: number, options: { N: number, r: number, p: number, maxmem: number }, cb: (err: Error | null, key: Uint8Array) => void) => void
let nativeScrypt: NativeScrypt | null | undefined

async function loadNative(): Promise<NativeScrypt | null> {
  if (nativeScrypt !== undefined) return nativeScrypt
  try {
    const mod = await import('node:crypto')
    nativeScrypt = typeof mod.scrypt === 'function' ? (mod.scrypt as unknown as NativeScrypt) : null
  }
  catch {
    nativeScrypt = null
  }
  return nativeScrypt
}

/**
 * Derive a scrypt key. `native` uses the runtime's node:crypto (workerd nodejs_compat or Node; ~6x faster),
 * `portable` uses scrypt-js (pure JS, runs anywhere). Both give identical output (tested).
 */
export async function deriveScrypt(password: string, salt: Uint8Array, params: ScryptParams, impl: ScryptImpl = 'native'): Promise<Uint8Array> {
  const pw = new TextEncoder().encode(password.normalize('NFKC'))
  const N = 2 ** params.ln
  const native = impl === 'native' ? await loadNative() : null
  if (native) {
    return await new Promise<Uint8Array>((resolve, reject) => {
      native(pw, salt, KEY_LENGTH, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 }, (err, key) => {
        if (err) reject(err)
        else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
      })
    })
  }
  // scrypt-js is CommonJS: take its export from the default import (works in Node ESM and bundles).
  const scryptJs = (scryptJsModule as unknown as { scrypt: typeof scryptJsModule.scrypt }).scrypt
  return await scryptJs(pw, salt, N, params.r, params.p, KEY_LENGTH)
}

export async function hashPassword(password: string, impl: ScryptImpl = 'native', params: ScryptParams = CURRENT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await deriveScrypt(password, salt, params, impl)
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${toBase64(salt)}$${toBase64(key)}`
}

export function parseHash(hash: string): { params: ScryptParams, salt: Uint8Array, key: Uint8Array } | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash)
  if (!m) return null
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }
  if (params.ln < 1 || params.ln > 20 || params.r < 1 || params.p < 1) return null
  return { params, salt: fromBase64(m[4]!), key: fromBase64(m[5]!) }
}

/** Constant-time comparison of two byte strings (length is not secret). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash)
  if (!parsed) return false
  const key = await deriveScrypt(password, parsed.salt, parsed.params)
  return timingSafeEqual(key, parsed.key)
}

export function needsRehash(hash: string): boolean {
  const parsed = parseHash(hash)
  if (!parsed) return true
  const { ln, r, p } = parsed.params
  return ln < CURRENT_PARAMS.ln || r < CURRENT_PARAMS.r || p < CURRENT_PARAMS.p
}

/** A real hash of a random password: verifying unknown accounts against it costs the same time. */
let dummyHash: Promise<string> | undefined
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(toBase64(randomBytes(12)))
  return dummyHash
}
