/**
 * A child process serving the built worker exactly as `npm start` does (scripts/lib/server.ts), for
 * the benchmark: its own process tree, so /proc CPU accounting covers the server and workerd.
 *   tsx bench/lib/serve.ts <stateDir> <secretsFile> [NAME=value …]   → prints "ready <url> <directUrl>"
 */
import { readDotenv } from '../../scripts/lib/dev-vars'
import { startServer } from '../../scripts/lib/server'

const [persistTo, secretsFile, ...pairs] = process.argv.slice(2)
const vars = Object.fromEntries(pairs.map(p => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]))
const server = await startServer({
  root: process.cwd(),
  port: 0,
  persistTo,
  bindings: { ...Object.fromEntries(readDotenv(secretsFile!)), ...vars },
  // The bench sends a client IP per request (many apps), as tests that simulate many clients do.
  trustProxyHeader: 'CF-Connecting-IP',
  onLog: () => {},
  innerSockets: true,
})
process.stdout.write(`ready ${server.url} ${server.directUrl}\n`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  for (const l of process.listeners(signal)) if (/^onSignal(Int|Term)$/.test(l.name)) process.removeListener(signal, l)
  process.on(signal, () => void server.close().then(() => process.exit(0)))
}
