/**
 * IP addresses as the limits and the log see them (docs/rate-limits.md, "Client IP"). One parser for
 * every notation a client IP may arrive in — IPv4 dotted quads, IPv6 compressed or in full, upper or
 * lower case, in brackets, with a zone id (`%eth0`), with an embedded IPv4 tail (`::ffff:1.2.3.4`) —
 * and two views of it:
 * - `canonicalIp`: one spelling per address for the log (lower-case, compressed, no zone, an
 *   IPv4-mapped address as plain IPv4), so a filter by IP finds every row of that address;
 * - `ipLimitKey`: the key a limit counts under. IPv6 is grouped per /64 (one subscriber's network:
 *   a /64 holder controls 2^64 addresses), IPv4 per address, and anything missing or unreadable
 *   shares ONE bucket — never "no limit".
 */

export type ParsedIp = { version: 4, octets: number[] } | { version: 6, groups: number[] }

/** The bucket every request without a readable client IP shares. */
export const UNKNOWN_IP_KEY = 'unknown'

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

function parseDottedQuad(s: string): number[] | null {
  const m = DOTTED_QUAD.exec(s)
  if (!m) return null
  const o = m.slice(1).map(Number)
  return o.every(n => n <= 255) ? o : null
}

/** Eight 16-bit groups, or null. Accepts `::` compression and an IPv4 tail. */
export function parseIpv6(s: string): number[] | null {
  if (!s.includes(':') || !/^[0-9a-f:.]+$/i.test(s)) return null
  let text = s
  const tail = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text)
  if (tail) {
    const o = parseDottedQuad(tail[1]!)
    if (!o) return null
    text = `${text.slice(0, -tail[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const part = (h: string) => (h === '' ? [] : h.split(':'))
  const left = part(halves[0]!)
  const right = halves.length === 2 ? part(halves[1]!) : []
  if ([...left, ...right].some(g => !/^[0-9a-f]{1,4}$/i.test(g))) return null
  const missing = 8 - left.length - right.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  return [...left, ...Array<string>(missing).fill('0'), ...right].map(g => Number.parseInt(g, 16))
}

/** Read a client IP in any notation above; null when it is not an address. */
export function parseIp(raw: string | null | undefined): ParsedIp | null {
  if (!raw) return null
  let s = raw.trim()
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  const zone = s.indexOf('%')
  if (zone >= 0 && s.includes(':')) s = s.slice(0, zone)
  const v4 = parseDottedQuad(s)
  if (v4) return { version: 4, octets: v4 }
  const g = parseIpv6(s)
  if (!g) return null
  // IPv4-mapped (::ffff:a.b.c.d) is the IPv4 client itself, as a dual-stack socket reports it.
  if (g.slice(0, 5).every(x => x === 0) && g[5] === 0xFFFF) {
    return { version: 4, octets: [g[6]! >> 8, g[6]! & 0xFF, g[7]! >> 8, g[7]! & 0xFF] }
  }
  return { version: 6, groups: g }
}

/** RFC 5952 text of eight groups: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(groups: number[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map(g => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** The log's spelling of a client IP: canonical when it is an address, else the trimmed text as sent. */
export function canonicalIp(raw: string | null | undefined): string {
  const p = parseIp(raw)
  if (!p) return (raw ?? '').trim().slice(0, 64)
  return p.version === 4 ? p.octets.join('.') : formatIpv6(p.groups)
}

/**
 * The key a limit counts a client under: the IPv4 address, the IPv6 /64 (`2001:db8:1:2::/64`), or
 * UNKNOWN_IP_KEY for a missing or unreadable IP (one shared bucket).
 */
export function ipLimitKey(raw: string | null | undefined): string {
  const p = parseIp(raw)
  if (!p) return UNKNOWN_IP_KEY
  if (p.version === 4) return p.octets.join('.')
  return `${formatIpv6([...p.groups.slice(0, 4), 0, 0, 0, 0])}/64`
}
