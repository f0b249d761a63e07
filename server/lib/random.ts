// Crockford base32: no I, L, O, U — unambiguous when read aloud or retyped.
export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** `n` random bytes from the platform CSPRNG (WebCrypto: same in workerd and Node). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n)
  crypto.getRandomValues(bytes)
  return bytes
}

/** Encode bytes as Crockford base32 (5 bits per character, no padding). */
export function toCrockford(bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += CROCKFORD[(buffer >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += CROCKFORD[(buffer << (5 - bits)) & 31]
  return out
}

/** Prefixed, sortable-enough, unguessable ids: usr_…, ses_…, evt_… (100 bits of entropy). */
export function newId(prefix: string): string {
  return `${prefix}_${toCrockford(randomBytes(13)).toLowerCase().slice(0, 20)}`
}

/**
 * A time-ordered id (evt_…): 9 symbols of the millisecond clock, then 11 random ones (55 bits).
 * Rows inserted in time order then land at the end of their primary-key index instead of on a
 * random page of it: for the events table, written on every public API call, that is one page
 * written per batch instead of one per row (docs/performance.md). For rows whose ids must not
 * reveal anything (users, licenses, tokens), use newId.
 */
export function newTimeOrderedId(prefix: string, now = Date.now()): string {
  let time = ''
  let t = Math.max(0, Math.floor(now))
  for (let i = 0; i < 9; i++) {
    time = CROCKFORD[t % 32]! + time
    t = Math.floor(t / 32)
  }
  return `${prefix}_${(time + toCrockford(randomBytes(7)).slice(0, 11)).toLowerCase()}`
}

const PASSWORD_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'

/** A generated password: 20 characters from a 57-symbol alphabet (~116 bits), no look-alikes. */
export function generatePassword(length = 20): string {
  const out: string[] = []
  // Rejection sampling keeps the distribution uniform.
  const limit = 256 - (256 % PASSWORD_ALPHABET.length)
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out.push(PASSWORD_ALPHABET[byte % PASSWORD_ALPHABET.length]!)
    }
  }
  return out.join('')
}

/** Standard base64 with its `=` padding (what Standard Webhooks receivers compare against). */
export function toBase64Padded(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s)
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64Padded(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Base64 or base64url, padded or not. */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const normal = s.replace(/-/g, '+').replace(/_/g, '/')
  const bin = atob(normal + '='.repeat((4 - (normal.length % 4)) % 4))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

export function toBase64(bytes: Uint8Array): string {
  return toBase64Padded(bytes).replace(/=+$/, '')
}
