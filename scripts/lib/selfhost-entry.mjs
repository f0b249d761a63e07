// The self-hosted server's main module (scripts/lib/server.ts loads it into workerd beside the built
// worker, .output/server/index.mjs, as `lm-selfhost.mjs`). workerd owns the public port and hands
// each request to `served`, which does what Cloudflare's edge does before a Worker runs and nothing
// more (docs/self-hosting.md, "How it serves"):
//   - the client IP: `CF-Connecting-IP` is the connection's address (workerd gives it as
//     request.cf.clientIp on a socket without a cf-blob header), or the right-most value of the one
//     header TRUST_PROXY_HEADER names; whatever a client sent as CF-Connecting-IP, X-Forwarded-For,
//     other `cf-*` headers or Miniflare's `mf-*` control headers is dropped;
//   - compression of text answers of 1 KiB or more for clients that accept it (brotli, else gzip):
//     the build's hashed assets (/_nuxt/) are compressed once and kept, everything else by workerd
//     as it is sent; verify's small JSON is sent as it is;
//   - request bodies read whole (up to 10 MiB, then 413) before the app runs;
//   - for a graceful shutdown: requests wait until the migrations are applied, new ones are refused
//     with 503 once the server drains, and in-flight requests and `waitUntil` work are counted.
// `control` is an entrypoint on a loopback-only socket guarded by a per-process token, through which
// the server marks itself ready, fires the cron schedule, drains and waits for idle. It is not
// reachable on the served port. `inner` (tests and the bench only) is the built worker with nothing
// in front of it.
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'
import app from './index.mjs'
import { compressible, edgeHeaders, encodingFor, MIN_COMPRESS_BYTES, plainAddress } from './lm-selfhost-edge.mjs'

export * from './index.mjs'

/** Replaced by scripts/lib/server.ts: { controlToken, trustProxyHeader (lower case) | null, logRequests }. */
// eslint-disable-next-line no-undef -- a placeholder, replaced before workerd loads the module
const CONFIG = __LM_SELFHOST_CONFIG__
const TRUSTED = CONFIG.trustProxyHeader

/** The largest request body accepted (the app's own limits are far lower: 413 from it). */
const MAX_BODY_BYTES = 10 * 1024 * 1024
/** Compressed hashed assets, by path: at most this many bytes in all. */
const ASSET_CACHE_BYTES = 64 * 1024 * 1024

let ready = false
let draining = false
let inFlight = 0
let pending = 0
const settle = () => void pending--

/** The request's ExecutionContext with `waitUntil` counted (and, when `into` is given, collected). */
function tracked(ctx, into) {
  return {
    waitUntil(promise) {
      pending++
      const p = Promise.resolve(promise).finally(settle)
      if (into) into.push(p)
      ctx.waitUntil(p)
    },
    passThroughOnException() {
      ctx.passThroughOnException()
    },
    get props() {
      return ctx.props
    },
    get exports() {
      return ctx.exports
    },
  }
}

const fetchTracked = (request, env, ctx) => app.fetch(request, env, tracked(ctx))

const problem = (status, code, message, headers = {}) => new Response(JSON.stringify({ error: { code, message } }), {
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
})

function withVary(headers) {
  const vary = headers.get('vary') ?? ''
  if (!/\baccept-encoding\b/i.test(vary)) headers.set('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding')
}

/** path → { status, headers, raw, br?, gzip? }: the build's hashed assets never change while it runs. */
const assets = new Map()
let assetBytes = 0

async function cachedAsset(path, res) {
  const raw = new Uint8Array(await res.arrayBuffer())
  const entry = { status: res.status, headers: [...res.headers], raw, br: null, gzip: null }
  if (assetBytes + raw.byteLength * 2 <= ASSET_CACHE_BYTES) {
    assets.set(path, entry)
    assetBytes += raw.byteLength * 2
  }
  return entry
}

function fromAsset(entry, encoding, request) {
  const headers = new Headers(entry.headers)
  const etag = headers.get('etag')
  if (etag && request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers })
  withVary(headers)
  if (!encoding) return new Response(request.method === 'HEAD' ? null : entry.raw, { status: entry.status, headers })
  // Brotli quality 5 and gzip level 6: the ratio of the best settings within a few per cent, once per asset.
  entry[encoding] ??= encoding === 'br'
    ? brotliCompressSync(entry.raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: entry.raw.byteLength } })
    : gzipSync(entry.raw, { level: 6 })
  headers.set('content-encoding', encoding)
  headers.set('content-length', String(entry[encoding].byteLength))
  return new Response(request.method === 'HEAD' ? null : entry[encoding], { status: entry.status, headers, encodeBody: 'manual' })
}

async function serve(request, env, ctx) {
  // Until the migrations are applied (a start, or a reload of the worker): wait, at most 30 s.
  for (let waited = 0; !ready; waited += 10) {
    if (waited >= 30_000) return problem(503, 'UNAVAILABLE', 'The server is starting: try again in a moment', { 'retry-after': '5' })
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  if (draining) return problem(503, 'UNAVAILABLE', 'The server is restarting: try again in a moment', { 'retry-after': '1' })

  const method = request.method
  // workerd's request.url is absolute and normalised: the path starts at the first '/' after the host.
  let href = request.url
  const pathAt = href.indexOf('/', href.indexOf('//') + 2)
  const path = pathAt < 0 ? '/' : href.slice(pathAt).split('?')[0]
  const encoding = encodingFor(request.headers.get('accept-encoding'))
  const isAsset = (method === 'GET' || method === 'HEAD') && path.startsWith('/_nuxt/')
  if (isAsset) {
    const hit = assets.get(path)
    if (hit) return fromAsset(hit, encoding, request)
  }

  const { headers, proto } = edgeHeaders(request.headers, plainAddress(request.cf?.clientIp), TRUSTED)
  if (proto === 'https' && href.startsWith('http:')) href = `https:${href.slice(5)}`
  const init = { method, headers }
  if (method !== 'GET' && method !== 'HEAD') {
    if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) return problem(413, 'PAYLOAD_TOO_LARGE', `Body must be at most ${MAX_BODY_BYTES} bytes`)
    // The whole body first: the app may answer early (a 413, a blocked IP) without reading it.
    const body = await request.arrayBuffer()
    if (body.byteLength > MAX_BODY_BYTES) return problem(413, 'PAYLOAD_TOO_LARGE', `Body must be at most ${MAX_BODY_BYTES} bytes`)
    init.body = body
  }
  const res = await fetchTracked(new Request(href, init), env, ctx)

  if (isAsset && res.status === 200 && !res.headers.has('content-encoding')) return fromAsset(await cachedAsset(path, res), encoding, request)
  if (!encoding || !compressible(method, res)) return res
  const out = new Headers(res.headers)
  let body = res.body
  if (!res.headers.has('content-length')) {
    // A length the app did not state (most of its JSON): small answers are sent as they are.
    body = await res.arrayBuffer()
    if (body.byteLength < MIN_COMPRESS_BYTES) return new Response(body, { status: res.status, statusText: res.statusText, headers: out })
  }
  // workerd compresses the body as it sends it (encodeBody "automatic") when the answer names an encoding.
  out.delete('content-length')
  out.set('content-encoding', encoding)
  withVary(out)
  return new Response(body, { status: res.status, statusText: res.statusText, headers: out })
}

export default {
  fetch: fetchTracked,
  scheduled: (controller, env, ctx) => app.scheduled(controller, env, tracked(ctx)),
}

/** The public port's entrypoint. */
export const served = {
  async fetch(request, env, ctx) {
    inFlight++
    const t0 = CONFIG.logRequests ? performance.now() : 0
    let status = 500
    try {
      const res = await serve(request, env, ctx)
      status = res.status
      return res
    }
    finally {
      inFlight--
      if (CONFIG.logRequests) {
        // The path only: a query string may carry something the log must not keep.
        const path = new URL(request.url).pathname
        console.info(`lm:request ${new Date().toISOString()} ${request.method} ${path} ${status} ${(performance.now() - t0).toFixed(1)}ms`)
      }
    }
  },
}

/** The built worker with nothing in front (loopback sockets of tests and the bench only). */
export const inner = { fetch: fetchTracked }
export const bare = { fetch: fetchTracked }

/** Operator entrypoint: loopback socket only, and the token of this process. */
export const control = {
  async fetch(request, env, ctx) {
    if (request.headers.get('x-lm-control') !== CONFIG.controlToken) return new Response(null, { status: 404 })
    const url = new URL(request.url)
    if (url.pathname === '/ready') {
      ready = true
      return new Response('ready')
    }
    if (url.pathname === '/ping') return new Response('pong')
    if (url.pathname === '/scheduled') {
      const cron = url.searchParams.get('cron') ?? ''
      const work = []
      await app.scheduled({ cron, scheduledTime: Date.now(), noRetry() {} }, env, tracked(ctx, work))
      // Like a Cron Trigger's event: done when its waitUntil work is (including work that work adds).
      for (let seen = 0; seen < work.length;) {
        const batch = work.slice(seen)
        seen = work.length
        await Promise.allSettled(batch)
      }
      return new Response('ok')
    }
    if (url.pathname === '/drain') {
      draining = true
      return new Response('draining')
    }
    if (url.pathname === '/idle') {
      // Polled: a promise settled by another request's work would look hung to workerd.
      while (pending > 0 || (draining && inFlight > 0)) await new Promise(resolve => setTimeout(resolve, 10))
      // The rate limiter saves its counts behind (server/durable/rate-limiter.ts): write them now, so a
      // graceful restart keeps every window. Kinds and instance names as server/lib/rate-limit.ts.
      const ns = env.RATE_LIMITER
      if (ns && url.searchParams.has('save')) {
        const n = Number(env.RATE_LIMIT_SHARDS)
        const shards = Number.isInteger(n) && n > 0 ? Math.min(n, 256) : 16
        const names = ['users', 'ips', 'licenses'].flatMap(kind => Array.from({ length: shards }, (_, n) => `${kind}:${n}`))
        await Promise.all(names.map(name => ns.get(ns.idFromName(name)).saveNow()))
      }
      return new Response('idle')
    }
    return new Response(null, { status: 404 })
  },
}
