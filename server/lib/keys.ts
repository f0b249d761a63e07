import { CROCKFORD, fromBase64, randomBytes, toBase64, toCrockford } from './random'

/**
 * License keys: `LM-` + 30 Crockford base32 symbols in six groups of five, e.g.
 * LM-7K3QF-9XW2M-TR8VD-0HJ4N-B6ZCE-4Q9XH. 29 symbols come from the CSPRNG (145 bits ≥ 128) and the
 * 30th is a Luhn mod 32 check symbol: any single mistyped symbol and most swaps of neighbours are
 * caught without a database read, as are 31 in 32 random strings.
 */
export const KEY_PREFIX = 'LM'
const BODY_RANDOM = 29
const BODY_LENGTH = BODY_RANDOM + 1
const N = 32

function luhnCheckSymbol(body: string): string {
  // Luhn mod N, computed from the right with the check symbol's place doubled first.
  let factor = 2
  let sum = 0
  for (let i = body.length - 1; i >= 0; i--) {
    let addend = factor * CROCKFORD.indexOf(body[i]!)
    factor = factor === 2 ? 1 : 2
    addend = Math.floor(addend / N) + (addend % N)
    sum += addend
  }
  return CROCKFORD[(N - (sum % N)) % N]!
}

function luhnValid(body: string): boolean {
  return luhnCheckSymbol(body.slice(0, -1)) === body.at(-1)
}

/** Display form of a 30-symbol body: LM-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX. */
export function formatKey(body: string): string {
  return `${KEY_PREFIX}-${body.match(/.{5}/g)!.join('-')}`
}

export function generateKey(): { key: string, body: string } {
  // 19 random bytes = 152 bits; the first 145 become 29 symbols.
  const body = toCrockford(randomBytes(19)).slice(0, BODY_RANDOM)
  const full = body + luhnCheckSymbol(body)
  return { key: formatKey(full), body: full }
}

/**
 * The stored hint (the masked display `LM-•••••-…-••9XH` without decrypting): the last 3 symbols —
 * 2 random ones and the check symbol. A database copy then leaves 27 unknown random symbols, whose
 * check symbol is known: 27 × 5 − 5 = 130 bits, above the 128-bit floor.
 */
export const KEY_HINT_LENGTH = 3
export const keyHintOf = (body: string) => body.slice(-KEY_HINT_LENGTH)
export const maskedKeyOf = (hint: string) => `${KEY_PREFIX}-•••••-•••••-•••••-•••••-•••••-${hint.padStart(5, '•')}`
/** Secret bits a database copy leaves of a key: the random symbols not in the hint, less what the known check symbol gives away. */
export const SECRET_BITS_BEYOND_HINT = (BODY_RANDOM - (KEY_HINT_LENGTH - 1)) * 5 - 5

const VALID_BODY = /^[0-9A-HJKMNP-TV-Z]{30}$/

/**
 * Normalise what a customer typed: case-insensitive, surrounding whitespace trimmed, dashes and
 * inner spaces ignored, Crockford folding (O→0, I/L→1), the LM prefix optional. Returns the
 * canonical 30-symbol body, or null when it cannot be a key (wrong length, alphabet or check symbol).
 */
export function normalizeKey(input: string): string | null {
  if (input.length > 256) return null
  let s = input.toUpperCase().replace(/[\s-]+/g, '')
  if (s.length === BODY_LENGTH + KEY_PREFIX.length && s.startsWith(KEY_PREFIX)) s = s.slice(KEY_PREFIX.length)
  if (s.length !== BODY_LENGTH) return null
  s = s.replace(/O/g, '0').replace(/[IL]/g, '1')
  if (!VALID_BODY.test(s)) return null
  return luhnValid(s) ? s : null
}

// CryptoKeys are derived once per isolate and secret (no data, only key material, is cached).
const hmacKeys = new Map<string, Promise<CryptoKey>>()
const aesKeys = new Map<string, Promise<CryptoKey>>()
const enc = new TextEncoder()

function secretBytes(secret: string, name: string): Uint8Array<ArrayBuffer> {
  if (!secret || secret.length < 32) throw new Error(`${name} is missing or shorter than 32 characters`)
  return enc.encode(secret)
}

function hmacKey(secret: string): Promise<CryptoKey> {
  let k = hmacKeys.get(secret)
  if (!k) {
    k = crypto.subtle.importKey('raw', secretBytes(secret, 'KEY_HMAC_SECRET'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    hmacKeys.set(secret, k)
  }
  return k
}

function aesKey(secret: string): Promise<CryptoKey> {
  let k = aesKeys.get(secret)
  if (!k) {
    // Any-length secret → 256-bit AES key via SHA-256.
    k = crypto.subtle.digest('SHA-256', secretBytes(secret, 'KEY_ENC_SECRET'))
      .then(raw => crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']))
    aesKeys.set(secret, k)
  }
  return k
}

/** Lookup digest: HMAC-SHA-256(secret, canonical body), base64 (no padding). */
export async function keyDigest(secret: string, body: string): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret), enc.encode(body))
  return toBase64(new Uint8Array(sig))
}

/** AES-256-GCM with a random 96-bit IV; stored as `v1.<iv>.<ciphertext+tag>` (base64). */
export async function encryptKey(secret: string, body: string): Promise<string> {
  const iv = randomBytes(12)
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await aesKey(secret), enc.encode(body))
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(ct))}`
}

export async function decryptKey(secret: string, stored: string): Promise<string> {
  const [version, iv, ct] = stored.split('.')
  if (version !== 'v1' || !iv || !ct) throw new Error('unknown key ciphertext format')
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64(iv) }, await aesKey(secret), fromBase64(ct))
  return new TextDecoder().decode(plain)
}
