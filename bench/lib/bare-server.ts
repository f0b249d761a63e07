/**
 * The machine's physical floor for "HTTP + one indexed read": node:http over node:sqlite on a copy of
 * the seeded D1 file, answering POST /verify with verify's own lookup (the SQL lookupQuery builds, as a
 * prepared statement; the key check symbol and HMAC digest as the worker does them). No framework,
 * no event recording, no rate limiter. Run as a child process so its CPU is accounted on its own.
 *   node --import tsx bench/lib/bare-server.ts <db file> <port>   (KEY_HMAC_SECRET in the environment)
 */
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { DatabaseSync } from 'node:sqlite'
import { normalizeKey } from '../../server/lib/keys'
import { lookupSql } from './sql'

const [file, portArg] = process.argv.slice(2)
const secret = Buffer.from(process.env.KEY_HMAC_SECRET ?? '', 'utf8')
if (!file || !portArg || secret.length < 32) throw new Error('usage: bare-server.ts <db file> <port> with KEY_HMAC_SECRET set')

const db = new DatabaseSync(file, { readOnly: true })
const { sql, params } = lookupSql(false)
// Parameters in Drizzle's order; the digest is the only one of the no-fingerprint lookup besides the limit.
const stmt = db.prepare(sql)
const bind = (digest: string) => params.map(p => (p === 'DIGEST' ? digest : p)) as (string | number)[]

const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/verify') {
    res.writeHead(req.url === '/health' ? 200 : 404, headers).end('{"ok":true}')
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    let key: string
    try {
      key = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: unknown }).key ?? '')
    }
    catch {
      res.writeHead(400, headers).end('{"error":{"code":"BAD_REQUEST"}}')
      return
    }
    const body = normalizeKey(key)
    const found = body ? stmt.get(...bind(createHmac('sha256', secret).update(body).digest('base64').replace(/=+$/, ''))) : undefined
    if (!found) {
      res.writeHead(200, headers).end('{"valid":false,"status":"inactive","code":"NOT_FOUND"}')
      return
    }
    // lookupQuery's column aliases.
    const { status, expiresAt: expires, maxDevices: max, metadata, used } = found as { status: string, expiresAt: number | null, maxDevices: number | null, metadata: string, used: number }
    const code = status === 'suspended' ? 'SUSPENDED' : expires !== null && expires <= Date.now() ? 'EXPIRED' : 'VALID'
    res.writeHead(200, headers).end(JSON.stringify({
      valid: code === 'VALID',
      status: code === 'VALID' ? 'active' : 'inactive',
      code,
      license: { expiresAt: expires === null ? null : new Date(expires).toISOString(), metadata: JSON.parse(metadata), devices: { used, max } },
    }))
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`ready ${portArg}\n`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
