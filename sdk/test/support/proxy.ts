import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A tiny local HTTP proxy in front of the real worker, on loopback only. Each test sets `transform`
 * to play an attacker or a broken network between the client and the server; `stop()` leaves nothing
 * on the port (connection refused), `start()` brings it back on the same port.
 */
export interface Exchange { method: string, path: string, requestBody: string, status: number, responseBody: string }
/** A change to the answer, 'hang' (never answer), or undefined (pass it through). */
type Change = Partial<Pick<Exchange, 'status' | 'responseBody'>> | 'hang' | undefined
export type Transform = (x: Exchange) => Promise<Change> | Change

export class TestProxy {
  transform: Transform | null = null
  /** What went through, in order (after any transform). */
  readonly log: Exchange[] = []
  /** Requests rewritten before forwarding (e.g. another key with the same nonce). */
  rewriteRequest: ((path: string, body: string) => string) | null = null
  private server: Server | null = null
  private sockets = new Set<Socket>()
  port = 0

  constructor(private readonly target: string) {}

  get url() {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    if (this.server) return
    const server = createServer((req, res) => void this.handle(req, res))
    server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', resolve)
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  /** Nothing listens on the port any more: clients get ECONNREFUSED. */
  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (!server) return
    for (const s of this.sockets) s.destroy()
    await new Promise(resolve => server.close(resolve))
  }

  reset() {
    this.transform = null
    this.rewriteRequest = null
    this.log.length = 0
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    let requestBody = Buffer.concat(chunks).toString('utf8')
    const path = req.url ?? '/'
    if (this.rewriteRequest && req.method === 'POST') requestBody = this.rewriteRequest(path, requestBody)
    const upstream = await fetch(`${this.target}${path}`, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json', 'cf-connecting-ip': '198.18.7.7' },
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : requestBody,
    })
    const x: Exchange = { method: req.method ?? 'GET', path, requestBody, status: upstream.status, responseBody: await upstream.text() }
    const change = this.transform ? await this.transform(x) : undefined
    if (change === 'hang') return // never answers: the client's timeout must fire
    Object.assign(x, change ?? {})
    this.log.push(x)
    res.writeHead(x.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
    res.end(x.responseBody)
  }
}
