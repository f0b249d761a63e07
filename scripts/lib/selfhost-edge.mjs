// What the self-hosted server's entry (scripts/lib/selfhost-entry.mjs) does to a request before the
// app sees it and to an answer before it is sent, as Cloudflare's edge does: pure functions, loaded
// into workerd beside the entry as `lm-selfhost-edge.mjs` and unit-tested in Node
// (tests/integration/self-hosted.test.ts).

/** Text worth compressing: the app's pages, scripts, styles, JSON and SVG. */
const COMPRESSIBLE = /^(text\/|application\/(javascript|json|manifest\+json|xml)|image\/svg\+xml)/i
/** Answers below this size (verify's JSON, most API answers) are sent as they are: not worth the CPU. */
export const MIN_COMPRESS_BYTES = 1024
/** Client-sent headers that only the edge (or a trusted proxy) may set. */
const EDGE_SET = new Set(['x-forwarded-for', 'x-real-ip', 'true-client-ip', 'forwarded'])
/** Always set here (as the edge sets them): a client's value never passes. */
const ALWAYS_SET = new Set(['cf-connecting-ip', 'x-forwarded-proto'])
/** `127.0.0.1:41368`, `[::1]:42704`, `[::ffff:192.0.2.1]:80` → the plain address; anything else → ''. */
export function plainAddress(clientIp) {
  if (typeof clientIp !== 'string') return ''
  const m = /^\[([0-9a-f:.]+)\]:\d+$/i.exec(clientIp) ?? /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(clientIp) ?? /^([0-9a-f:.]+)$/i.exec(clientIp)
  if (!m) return ''
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(m[1])
  return mapped ? mapped[1] : m[1]
}

/** The right-most entry of a (possibly repeated, so comma-joined) header value; '' when empty. */
const rightMost = value => (value ?? '').split(',').pop().trim()

/**
 * The request the app sees: the client IP and the scheme set as the edge sets them, edge-only and
 * Miniflare headers dropped. The trusted header is passed on as sent (the app canonicalises the
 * address, server/lib/ip.ts; one it cannot read is one shared bucket there, never "no limit").
 */
export function edgeHeaders(incoming, socketIp, trusted) {
  const headers = new Headers()
  for (const [name, value] of incoming) {
    if (name.startsWith('mf-') || ALWAYS_SET.has(name)) continue
    if (name !== trusted && (EDGE_SET.has(name) || name.startsWith('cf-'))) continue
    headers.append(name, value)
  }
  const ip = (trusted && rightMost(incoming.get(trusted))) || socketIp
  if (ip) headers.set('cf-connecting-ip', ip)
  // https only when a trusted reverse proxy says so (it terminated TLS).
  const proto = trusted && /^https$/i.test(rightMost(incoming.get('x-forwarded-proto'))) ? 'https' : 'http'
  headers.set('x-forwarded-proto', proto)
  return { headers, proto }
}

/** The encoding to send a body in for this Accept-Encoding (brotli, else gzip), or null. */
export function encodingFor(acceptEncoding) {
  if (!acceptEncoding) return null
  const accepted = new Set(acceptEncoding.split(',').map(part => part.trim().toLowerCase().split(';')).filter(([, q]) => !/^\s*q\s*=\s*0(\.0*)?\s*$/.test(q ?? '')).map(([name]) => name))
  return accepted.has('br') ? 'br' : accepted.has('gzip') ? 'gzip' : null
}

/** Whether an answer is worth compressing: text of 1 KiB or more, not already encoded, not partial. */
export function compressible(method, res) {
  const s = res.status
  if (method === 'HEAD' || s < 200 || s === 204 || s === 206 || s === 304) return false
  const h = res.headers
  if (h.has('content-encoding') || h.has('content-range')) return false
  if (!COMPRESSIBLE.test(h.get('content-type') ?? '')) return false
  const length = h.has('content-length') ? Number(h.get('content-length')) : Number.POSITIVE_INFINITY
  if (length < MIN_COMPRESS_BYTES) return false
  return !/\bno-transform\b/i.test(h.get('cache-control') ?? '')
}

