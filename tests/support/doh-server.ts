import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A DNS-over-HTTPS resolver (JSON API, as https://cloudflare-dns.com/dns-query answers) on 127.0.0.1,
 * answering from a table the test sets: the worker's webhook host-name checks run against it, so no
 * test ever asks — or connects to — a resolver on the internet. Unknown names are NXDOMAIN;
 * `down` makes it answer 503.
 */
export class DohServer {
  records = new Map<string, string[]>()
  down = false
  queries: string[] = []
  private server: Server | null = null
  port = 0

  get url() {
    return `http://127.0.0.1:${this.port}/dns-query`
  }

  async start() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const name = (url.searchParams.get('name') ?? '').toLowerCase()
      const type = url.searchParams.get('type')
      this.queries.push(`${name} ${type}`)
      if (this.down) {
        res.writeHead(503).end()
        return
      }
      const all = this.records.get(name)
      const want = type === 'AAAA' ? (a: string) => a.includes(':') : (a: string) => !a.includes(':')
      const answers = (all ?? []).filter(want).map(data => ({ name, type: type === 'AAAA' ? 28 : 1, TTL: 0, data }))
      res.writeHead(200, { 'content-type': 'application/dns-json' })
      res.end(JSON.stringify({ Status: all ? 0 : 3, Answer: answers }))
    })
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async close() {
    const s = this.server
    this.server = null
    if (s) await new Promise<void>(resolve => s.close(() => resolve()))
  }
}
