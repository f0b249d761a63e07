import { parseIpv6 } from './ip'

/**
 * The webhook target rules that need no network (docs/webhooks.md, "Which URLs are allowed"):
 * - https only, no credentials in the URL, at most MAX_WEBHOOK_URL_LENGTH characters;
 * - no IP literal outside the public unicast space — every special-purpose block of the IANA IPv4
 *   and IPv6 registries is refused (private, loopback, link-local, CGNAT, multicast, documentation,
 *   benchmarking, reserved, 6to4, Teredo, NAT64, IPv4-mapped/compatible, site-local, ULA…), in
 *   every notation (the WHATWG URL parser turns decimal, octal and hex IPv4 into dotted quads, and
 *   the checks below read the loose forms too);
 * - no internal or special-use names (localhost, *.local, *.internal, single labels…).
 * A local install (WEBHOOKS_ALLOW_LOCALHOST=true) adds exactly `localhost`, `127.0.0.1` and `[::1]`,
 * over http or https. Names are resolved and their addresses checked in webhook-target.ts.
 */
export const MAX_WEBHOOK_URL_LENGTH = 2048

/** What a local install allows beyond production's rules (URL `hostname` spelling). */
export const LOCAL_RECEIVER_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]'])

/** IANA IPv4 special-purpose blocks (RFC 6890 and successors), plus multicast and the reserved 240/4. */
const V4_BLOCKS: [number[], number][] = [
  [[0, 0, 0, 0], 8], // "this network"
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local (cloud metadata 169.254.169.254)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2, 0], 24], // documentation (TEST-NET-1)
  [[192, 31, 196, 0], 24], // AS112-v4
  [[192, 52, 193, 0], 24], // AMT
  [[192, 88, 99, 0], 24], // 6to4 relay anycast (deprecated)
  [[192, 168, 0, 0], 16], // private
  [[192, 175, 48, 0], 24], // AS112 direct delegation
  [[198, 18, 0, 0], 15], // benchmarking
  [[198, 51, 100, 0], 24], // documentation (TEST-NET-2)
  [[203, 0, 113, 0], 24], // documentation (TEST-NET-3)
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, and the broadcast address
]

/** Inside the global unicast space 2000::/3, the special-purpose blocks; everything outside 2000::/3 is refused. */
const V6_BLOCKS: [number[], number][] = [
  [[0x2001, 0], 23], // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID…
  [[0x2001, 0xDB8], 32], // documentation
  [[0x2002], 16], // 6to4
  [[0x2620, 0x4F, 0x8000], 48], // AS112-v6 direct delegation
  [[0x3FFF], 20], // documentation (RFC 9637)
]

function inBlock(value: number[], unitBits: number, [prefix, bits]: [number[], number]): boolean {
  for (let i = 0; bits > 0; i++, bits -= unitBits) {
    const take = Math.min(unitBits, bits)
    const mask = ((1 << take) - 1) << (unitBits - take)
    if (((value[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false
  }
  return true
}

/** A dotted quad, or the loose inet_aton forms (1–4 parts, decimal / 0x hex / 0-prefixed octal). */
export function parseIpv4Loose(host: string): number[] | null {
  const parts = host.split('.')
  if (parts.length > 4 || parts.some(p => p === '')) return null
  const nums: number[] = []
  for (const p of parts) {
    const n = /^0x[0-9a-f]*$/i.test(p) ? Number.parseInt(p.slice(2) || '0', 16) : /^0[0-7]+$/.test(p) ? Number.parseInt(p, 8) : /^\d+$/.test(p) ? Number(p) : Number.NaN
    if (!Number.isFinite(n)) return null
    nums.push(n)
  }
  const last = nums.pop()!
  if (nums.some(n => n > 255) || last >= 256 ** (4 - nums.length)) return null
  const bytes = [...nums]
  for (let i = 3 - nums.length; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256)
  return bytes
}

export function isSpecialIpv4(o: number[]): boolean {
  return V4_BLOCKS.some(b => inBlock(o, 8, b))
}

export function isSpecialIpv6(g: number[]): boolean {
  if ((g[0]! & 0xE000) !== 0x2000) return true // outside 2000::/3: ::, ::1, ::ffff:0:0/96, 64:ff9b::/96, 100::/64, fc00::/7, fe80::/10, fec0::/10, ff00::/8…
  return V6_BLOCKS.some(b => inBlock(g, 16, b))
}

/** An address as text (IPv4, IPv6 with or without brackets): is it outside the public unicast space? */
export function isSpecialAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '')
  const v4 = parseIpv4Loose(a)
  if (v4) return isSpecialIpv4(v4)
  const v6 = parseIpv6(a.replace(/%.*$/, ''))
  return v6 ? isSpecialIpv6(v6) : true
}

/** Special-use and internal names that never are a public receiver. */
const INTERNAL_NAMES = /(^|\.)(localhost|local|internal|intranet|corp|lan|home|localdomain|home\.arpa|invalid|test|example|onion|alt)$/

/** The host's kind: an IP literal (special or not) or a name (internal or not). */
export function classifyHost(hostname: string): { kind: 'ip', special: boolean } | { kind: 'name', internal: boolean } {
  const host = hostname.replace(/\.$/, '').toLowerCase()
  if (host.startsWith('[') || host.includes(':')) return { kind: 'ip', special: isSpecialAddress(host) }
  // A last label that is numeric makes it an IPv4 literal for URL parsers: read it as one (or refuse it).
  const labels = host.split('.')
  if (/^(0x[0-9a-f]*|\d+)$/i.test(labels.at(-1) ?? '')) {
    const v4 = parseIpv4Loose(host)
    return { kind: 'ip', special: v4 ? isSpecialIpv4(v4) : true }
  }
  return { kind: 'name', internal: labels.length < 2 || INTERNAL_NAMES.test(host) }
}

/** Why this URL may not receive webhooks (without looking names up), or null when it may. */
export function webhookUrlProblem(raw: string, opts: { allowLocalhost: boolean }): string | null {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return `At most ${MAX_WEBHOOK_URL_LENGTH} characters`
  let url: URL
  try {
    url = new URL(raw)
  }
  catch {
    return 'Enter a full URL, like https://example.com/webhooks'
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'Use an https:// URL'
  if (url.username || url.password) return 'Leave credentials out of the URL; check the signature instead'
  if (!url.hostname) return 'Enter a full URL, like https://example.com/webhooks'
  if (opts.allowLocalhost && LOCAL_RECEIVER_HOSTS.has(url.hostname)) return null
  if (url.protocol === 'http:') return 'Use an https:// URL'
  const host = classifyHost(url.hostname)
  if (host.kind === 'ip' ? host.special : host.internal) {
    return 'This address is private, loopback, reserved or internal: webhooks go to public hosts only'
  }
  return null
}

/** True for the local install's own receivers (no name lookup needed). */
export function isLocalReceiver(raw: string, opts: { allowLocalhost: boolean }): boolean {
  try {
    return opts.allowLocalhost && LOCAL_RECEIVER_HOSTS.has(new URL(raw).hostname)
  }
  catch {
    return false
  }
}

/** A URL as the log and payloads may show it: no query string or fragment (often a token). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw)
    return `${url.origin}${url.pathname}${url.search || url.hash ? '?…' : ''}`
  }
  catch {
    return raw.split(/[?#]/)[0]!.slice(0, 256)
  }
}

/**
 * WEBHOOKS_ALLOW_LOCALHOST="true" marks a local install (npm start, the local CLI, tests). The name
 * it had before, WEBHOOKS_ALLOW_PRIVATE, is read the same way (it now allows only these three hosts too).
 */
export const allowsLocalhostWebhooks = (env: { WEBHOOKS_ALLOW_LOCALHOST?: string, WEBHOOKS_ALLOW_PRIVATE?: string }) =>
  env.WEBHOOKS_ALLOW_LOCALHOST === 'true' || env.WEBHOOKS_ALLOW_PRIVATE === 'true'
