/**
 * The public port of the self-hosted server (scripts/lib/server.ts): node:http in, undici to the
 * worker's loopback socket out. It does what Cloudflare's edge does for the client IP (docs/self-hosting.md, "How it
 * serves"): `CF-Connecting-IP` is the connection's address, and whatever a client sent as
 * CF-Connecting-IP, X-Forwarded-For, other `cf-*` headers or Miniflare's control headers (`mf-*`,
 * e.g. MF-CF-Blob, which would set request.cf) is dropped — unless TRUST_PROXY_HEADER names the
 * header the operator's own reverse proxy sets (X-Forwarded-For: its right-most address).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { Transform } from 'node:stream'
import { constants as zlibConstants, createBrotliCompress, createGzip } from 'node:zlib'
import { Pool } from 'undici'

export interface FrontOptions {
  host: string
  port: number
  upstream: string
  trustProxyHeader?: string
  logRequests: boolean
  /** Requests wait for this (the worker starting, migrations) before they are forwarded. */
  ready: Promise<void>
}

/** The largest request body the front accepts (the worker's own limits are far lower: 413 from it). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024

export interface Front {
  url: string
  close: (graceMs: number) => Promise<void>
}

/** Request headers never forwarded: hop-by-hop ones (undici sets its own). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'host'])
/** Client-sent headers that only the edge (or a trusted proxy) may set. */
const EDGE_SET = new Set(['x-forwarded-for', 'x-real-ip', 'true-client-ip', 'forwarded'])
/** Always set by the front (as the edge sets it): a client's value never passes. */
const FRONT_SET = new Set(['cf-connecting-ip', 'x-forwarded-proto'])
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer'])

/** Text worth compressing: the app's pages, scripts, styles, JSON and SVG. */
const COMPRESSIBLE = /^(text\/|application\/(javascript|json|manifest\+json|xml)|image\/svg\+xml)/i
/** Answers below this size (verify's JSON, most API answers) are sent as they are: not worth the CPU. */
const MIN_COMPRESS_BYTES = 1024

/**
 * What Cloudflare's edge (and wrangler's dev proxy) do and workerd alone does not: compress text
 * answers for clients that accept it — brotli, else gzip. Nothing already encoded, no ranges, no
 * small bodies. Returns the encoder to write the body through, or null to pass it on as it is.
 */
export function compressorFor(acceptEncoding: string | undefined, method: string | undefined, statusCode: number, headers: Record<string, string | string[] | undefined>): { encoding: 'br' | 'gzip', stream: Transform } | null {
  if (method === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 206 || statusCode === 304) return null
  if (headers['content-encoding'] || headers['content-range']) return null
  const type = String(headers['content-type'] ?? '')
  if (!COMPRESSIBLE.test(type)) return null
  const length = headers['content-length'] === undefined ? Number.POSITIVE_INFINITY : Number(headers['content-length'])
  if (length < MIN_COMPRESS_BYTES) return null
  if (/\bno-transform\b/i.test(String(headers['cache-control'] ?? ''))) return null
  const accepted = new Set((acceptEncoding ?? '').split(',').map(part => part.trim().toLowerCase().split(';')).filter(([, q]) => !/^\s*q\s*=\s*0(\.0*)?\s*$/.test(q ?? '')).map(([name]) => name))
  const accepts = (name: string) => accepted.has(name)
  if (accepts('br')) return { encoding: 'br', stream: createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } }) }
  if (accepts('gzip')) return { encoding: 'gzip', stream: createGzip({ level: 6 }) }
  return null
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything that is not an address → ''. */
export function plainAddress(value: string | undefined): string {
  if (!value) return ''
  const v = value.trim().replace(/^\[(.*)\]$/, '$1')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(v)
  const ip = mapped ? mapped[1]! : v
  return isIP(ip) ? ip : ''
}

/** A header name as RFC 9110 allows (the value of TRUST_PROXY_HEADER). */
export function checkTrustProxyHeader(name: string | undefined): string | undefined {
  if (name === undefined || name.trim() === '') return undefined
  const n = name.trim()
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n)) throw new Error(`TRUST_PROXY_HEADER is not a header name: ${JSON.stringify(name)}`)
  return n.toLowerCase()
}

/**
 * The client IP of a request: the trusted header's value when it has one (X-Forwarded-For: the
 * right-most entry over all its lines, the one the operator's proxy appended), else the socket's.
 * A trusted value is passed on as sent: the worker canonicalises it (server/lib/ip.ts), and one
 * it cannot read is one shared bucket there, never "no limit".
 */
export function clientIpFor(rawHeaders: string[], socketAddress: string | undefined, trusted: string | undefined): string {
  if (trusted) {
    const values: string[] = []
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === trusted) values.push(rawHeaders[i + 1]!)
    if (values.length) {
      const last = (trusted === 'x-forwarded-for' ? values.join(',').split(',').pop() : values[values.length - 1])!.trim()
      if (last) return last
    }
  }
  return plainAddress(socketAddress)
}

/** The headers forwarded to the worker, as a flat [name, value, …] list, with the client IP and the scheme set. */
export function forwardedHeaders(rawHeaders: string[], ip: string, trusted: string | undefined, host: string, proto: 'http' | 'https'): string[] {
  const out: string[] = ['host', host]
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    if (HOP_BY_HOP.has(name) || name.startsWith('mf-') || FRONT_SET.has(name)) continue
    if (name !== trusted && (EDGE_SET.has(name) || name.startsWith('cf-'))) continue
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!)
  }
  if (ip) out.push('cf-connecting-ip', ip)
  out.push('x-forwarded-proto', proto)
  return out
}

/** The request body, or null when it is larger than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return null
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk as Buffer)
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}

function problem(res: ServerResponse, status: number, code: string, message: string) {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ error: { code, message } })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

export async function startFront(opts: FrontOptions): Promise<Front> {
  const trusted = checkTrustProxyHeader(opts.trustProxyHeader)
  const upstream = new Pool(opts.upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 })
  let inFlight = 0
  let drained: (() => void) | undefined
  let started = false
  void opts.ready.then(() => (started = true))

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    inFlight++
    const t0 = opts.logRequests ? performance.now() : 0
    res.once('close', () => {
      if (opts.logRequests) {
        // The path only: a query string may carry something the log must not keep.
        const path = (req.url ?? '/').split('?')[0]
        process.stdout.write(`${new Date().toISOString()} ${req.method} ${path} ${res.statusCode} ${(performance.now() - t0).toFixed(1)}ms\n`)
      }
      if (--inFlight === 0 && drained) drained()
    })
    // The whole body first: workerd may answer early (a 413, a blocked IP) and close the connection
    // while a streamed body is still being written, which would turn that answer into an error.
    let body: Buffer | null = null
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      body = await readBody(req)
      if (body === null) return problem(res, 413, 'PAYLOAD_TOO_LARGE', `Body must be at most ${MAX_BODY_BYTES} bytes`)
    }
    if (!started) await opts.ready
    const ip = clientIpFor(req.rawHeaders, req.socket.remoteAddress, trusted)
    const host = req.headers.host ?? `localhost:${opts.port}`
    // Absolute-form target to workerd's proxy-style socket: the worker sees this URL as request.url.
    // https only when a trusted reverse proxy says so (it terminated TLS).
    const proto = trusted && /^https$/i.test(String(req.headers['x-forwarded-proto'] ?? '').split(',').pop()!.trim()) ? 'https' : 'http'
    let encoder: Transform | null = null
    await new Promise<void>((done) => {
      upstream.dispatch({
        path: `${proto}://${host}${req.url?.startsWith('/') ? req.url : '/'}`,
        method: req.method as 'GET',
        headers: forwardedHeaders(req.rawHeaders, ip, trusted, host, proto),
        body,
      }, {
        // undici's handler interface: no stream objects between the two sockets.
        onRequestStart(controller) {
          // The client went away: stop reading the answer (a paused one would hold the connection).
          res.once('close', () => {
            if (!res.writableFinished) controller.abort(new Error('client closed the connection'))
          })
        },
        onResponseStart(_controller, statusCode, headers) {
          for (const name of RESPONSE_HOP_BY_HOP) Reflect.deleteProperty(headers, name)
          const h = headers as Record<string, string | string[]>
          const c = compressorFor(req.headers['accept-encoding'], req.method, statusCode, h)
          if (c) {
            Reflect.deleteProperty(h, 'content-length')
            h['content-encoding'] = c.encoding
            const vary = String(h.vary ?? '')
            if (!/\baccept-encoding\b/i.test(vary)) h.vary = vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding'
            encoder = c.stream
            encoder.pipe(res)
          }
          res.writeHead(statusCode, h)
        },
        onResponseData(controller, chunk) {
          const sink = encoder ?? res
          if (!sink.write(chunk)) {
            controller.pause()
            sink.once('drain', () => controller.resume())
          }
        },
        onResponseEnd() {
          if (encoder) encoder.end()
          else res.end()
          done()
        },
        onResponseError(_controller, error) {
          if (process.env.LM_FRONT_DEBUG) console.error('front:', error)
          if (!res.destroyed && !res.writableEnded) problem(res, 502, 'UNAVAILABLE', 'The server is not reachable')
          done()
        },
      })
    })
  }

  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 30_000, requestTimeout: 120_000 }, (req, res) => void handle(req, res).catch(() => res.destroy()))
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    else socket.destroy()
  })
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${opts.port} on ${opts.host} is already in use` : error.code === 'EACCES' ? `no permission to listen on ${opts.host}:${opts.port}` : error.message))
    })
    server.listen(opts.port, opts.host, () => resolveListen())
  })
  const address = server.address() as { port: number }
  const shownHost = opts.host === '127.0.0.1' || opts.host === '::1' || opts.host === '0.0.0.0' || opts.host === '::' ? (opts.host.includes(':') && opts.host !== '::' ? `[${opts.host}]` : opts.host === '127.0.0.1' ? '127.0.0.1' : 'localhost') : opts.host
  return {
    url: `http://${shownHost}:${address.port}`,
    close: async (graceMs) => {
      const closed = new Promise<void>(r => server.close(() => r()))
      server.closeIdleConnections()
      if (inFlight > 0 && graceMs > 0) {
        await Promise.race([new Promise<void>(r => (drained = r)), new Promise(r => setTimeout(r, graceMs).unref())])
      }
      server.closeAllConnections()
      await closed
      await upstream.close().catch(() => {})
    },
  }
}
