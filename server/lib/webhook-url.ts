/**
 * SSRF guard for webhook URLs (docs/webhooks.md). In production a URL must be https and must not
 * name a loopback, private, link-local, unique-local, CGNAT, multicast or metadata address, nor an
 * internal name (localhost, *.local, *.internal, single-label names). A local install
 * (WEBHOOKS_ALLOW_PRIVATE="true", set by `npm start`) allows all of these and plain http.
 * The WHATWG URL parser already turns 0x7f.1, 2130706433 and ::ffff:127.0.0.1 into canonical
 * forms, so the checks below see one spelling of each address.
 */
export const MAX_WEBHOOK_URL_LENGTH = 2048

const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.localdomain', '.home.arpa', '.lan', '.intranet', '.corp']

function ipv4Private(o: number[]): boolean {
  const [a, b] = o as [number, number, number, number]
  return a === 0 // "this" network
    || a === 10
    || a === 127
    || (a === 100 && b >= 64 && b <= 127) // CGNAT, also Alibaba's metadata 100.100.100.200
    || (a === 169 && b === 254) // link-local, cloud metadata 169.254.169.254
    || (a === 172 && b >= 16 && b <= 31)
    || (a === 192 && b === 168)
    || (a === 192 && b === 0 && o[2] === 0) // IETF protocol assignments
    || (a === 198 && (b === 18 || b === 19)) // benchmarking
    || a >= 224 // multicast, reserved, broadcast
}

function parseIpv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (!m) return null
  const o = m.slice(1).map(Number)
  return o.every(n => n <= 255) ? o : null
}

/** Eight 16-bit groups of an IPv6 address (as the URL parser prints it), or null. */
function parseIpv6(host: string): number[] | null {
  if (!host.includes(':')) return null
  let h = host.toLowerCase()
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(h)
  if (v4) {
    const o = parseIpv4(v4[1]!)
    if (!o) return null
    h = h.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`
  }
  const [head, tail] = h.split('::') as [string, string | undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const fill = h.includes('::') ? 8 - left.length - right.length : 0
  const groups = [...left, ...Array(fill).fill('0'), ...right].map(g => Number.parseInt(g, 16))
  return groups.length === 8 && groups.every(g => Number.isInteger(g) && g >= 0 && g <= 0xFFFF) ? groups : null
}

function ipv6Private(g: number[]): boolean {
  const zeroPrefix = (n: number) => g.slice(0, n).every(x => x === 0)
  if (zeroPrefix(7) && (g[7] === 0 || g[7] === 1)) return true // :: and ::1
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): check the IPv4 inside.
  const embedded = [g[6]! >> 8, g[6]! & 0xFF, g[7]! >> 8, g[7]! & 0xFF]
  if (zeroPrefix(5) && (g[5] === 0xFFFF || g[5] === 0)) return ipv4Private(embedded)
  if (g[0] === 0x64 && g[1] === 0xFF9B && g.slice(2, 6).every(x => x === 0)) return ipv4Private(embedded)
  return (g[0]! & 0xFE00) === 0xFC00 // unique local fc00::/7 (AWS metadata fd00:ec2::254)
    || (g[0]! & 0xFFC0) === 0xFE80 // link-local fe80::/10
    || (g[0]! & 0xFF00) === 0xFF00 // multicast
}

/** True when the URL's host is an internal name or a non-public address literal. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
  const v4 = parseIpv4(host)
  if (v4) return ipv4Private(v4)
  const v6 = parseIpv6(host)
  if (v6) return ipv6Private(v6)
  if (host.includes(':')) return true // an IPv6 literal we could not read: refuse
  if (host === 'localhost' || !host.includes('.')) return true
  return INTERNAL_SUFFIXES.some(s => host.endsWith(s))
}

/** Why this URL may not receive webhooks, or null when it may. */
export function webhookUrlProblem(raw: string, opts: { allowPrivate: boolean }): string | null {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return `At most ${MAX_WEBHOOK_URL_LENGTH} characters`
  let url: URL
  try {
    url = new URL(raw)
  }
  catch {
    return 'Enter a full URL, like https://example.com/webhooks'
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'Use an https:// URL'
  if (url.protocol === 'http:' && !opts.allowPrivate) return 'Use an https:// URL'
  if (url.username || url.password) return 'Leave credentials out of the URL; check the signature instead'
  if (!url.hostname) return 'Enter a full URL, like https://example.com/webhooks'
  if (!opts.allowPrivate && isPrivateHost(url.hostname)) {
    return 'This address is private, loopback or internal: webhooks go to public hosts only'
  }
  return null
}

/** WEBHOOKS_ALLOW_PRIVATE="true" marks a local install (npm start, tests). */
export const allowsPrivateWebhooks = (env: { WEBHOOKS_ALLOW_PRIVATE?: string }) => env.WEBHOOKS_ALLOW_PRIVATE === 'true'
