import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/** What a receiver path answers: a status (with headers and body), or 'hang' (never answers). */
export type Answer = { status: number, headers?: Record<string, string>, body?: string } | 'hang'

export interface Received {
  path: string
  id: string
  timestamp: string
  signature: string
  body: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- payloads are checked field by field
  json: any
  headers: IncomingHttpHeaders
  at: number
}

/**
 * A real HTTP webhook receiver on 127.0.0.1 (random port), as a developer would run one: records
 * every request, answers per path as told (200 by default, 500, 410, 429 + Retry-After, hang),
 * and can be closed (connection refused) and reopened on the same port.
 */
export class WebhookReceiver {
  received: Received[] = []
  answers = new Map<string, Answer>()
  private server: Server | null = null
  private hanging = new Set<() => void>()
  port = 0

  get listening() {
    return this.server !== null
  }

  get url() {
    return `http://127.0.0.1:${this.port}`
  }

  async start(port = 0) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c as Buffer))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const path = (req.url ?? '/').split('?')[0]!
        let json: unknown
        try {
          json = JSON.parse(body)
        }
        catch {
          json = undefined
        }
        this.received.push({
          path,
          id: String(req.headers['webhook-id'] ?? ''),
          timestamp: String(req.headers['webhook-timestamp'] ?? ''),
          signature: String(req.headers['webhook-signature'] ?? ''),
          body,
          json,
          headers: req.headers,
          at: Date.now(),
        })
        const answer = this.answers.get(path) ?? { status: 200, body: 'ok' }
        if (answer === 'hang') {
          const end = () => res.destroy()
          this.hanging.add(end)
          res.on('close', () => this.hanging.delete(end))
          return
        }
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers })
        res.end(answer.body ?? '')
      })
    })
    await new Promise<void>(resolve => this.server!.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /** Stop listening: deliveries now get "connection refused". */
  async close() {
    for (const end of this.hanging) end()
    const s = this.server
    this.server = null
    if (s) {
      s.closeAllConnections()
      await new Promise<void>(resolve => s.close(() => resolve()))
    }
  }

  /** Listen again on the same port. */
  async reopen() {
    await this.start(this.port)
  }

  at(path: string) {
    return this.received.filter(r => r.path === path)
  }

  /** Wait until `predicate` holds for the received requests (polling), or fail after `ms`. */
  async waitFor(predicate: (r: Received[]) => boolean, ms = 15_000, what = 'webhook deliveries') {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (predicate(this.received)) return this.received
      await new Promise(r => setTimeout(r, 50))
    }
    throw new Error(`timed out waiting for ${what}; received: ${this.received.map(r => `${r.path} ${r.json?.type}`).join(', ') || 'nothing'}`)
  }
}

/** Verify one received request as a receiver would, with the standardwebhooks package. Throws if invalid. */
export function verifyWith(secret: string, r: Received): unknown {
  return new Webhook(secret).verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature })
}
