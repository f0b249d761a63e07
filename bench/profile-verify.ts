/**
 * Where verify's CPU goes in workerd: the self-hosted server (scripts/lib/server.ts) on a fresh local
 * D1 with 2 000 licenses, workerd's DevTools inspector on, a V8 CPU profile taken while autocannon
 * loads verify (valid keys, rotating). Prints the functions with the most self time, by file.
 *   npx tsx bench/profile-verify.ts [seconds] [connections]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createDB } from '../db/client'
import { freePort, startServer } from '../scripts/lib/server'
import type { AppEnv } from '../server/env'
import { CLI_PRINCIPAL } from '../server/services/authz'
import { offRequestContext } from '../server/services/context'
import { createLicense } from '../server/services/licenses'
import { createUser } from '../server/services/users'
import { TEST_SECRETS } from '../tests/support/worker'

const seconds = Number(process.argv[2] ?? 8)
const connections = Number(process.argv[3] ?? 16)
const state = mkdtempSync(join(tmpdir(), 'lm-profile-'))
const inspectorPort = await freePort()
const server = await startServer({ root: process.cwd(), port: 0, persistTo: state, bindings: { ...TEST_SECRETS, WEBHOOK_DNS_RESOLVER: 'off', RATE_LIMIT_PER_MINUTE: '100000000' }, trustProxyHeader: 'CF-Connecting-IP', innerSockets: true, inspectorPort, onLog: () => {} })
try {
  const env = await server.miniflare.getBindings<AppEnv>()
  const { ctx, settle } = offRequestContext({ db: createDB(env.DB), env, principal: CLI_PRINCIPAL, audit: { ip: '', userAgent: 'profile', country: null } })
  const { user } = await createUser(ctx, { email: 'p@example.com', name: 'P', role: 'user', password: 'profile-password-1' })
  const keys: string[] = []
  for (let i = 0; i < 2000; i++) keys.push((await createLicense(ctx, user.id, { label: `L${i}` } as never)).key)
  await settle()
  let n = 0
  const load = (d: number) => autocannon({
    url: server.url, connections, duration: d,
    requests: [{ method: 'POST', path: '/api/v1/licenses/verify', setupRequest: (r: Record<string, unknown>) => {
      const i = n++ % keys.length
      return { ...r, headers: { 'content-type': 'application/json', 'cf-connecting-ip': `10.0.${i % 250}.${(i >> 8) % 250}` }, body: JSON.stringify({ key: keys[i] }) }
    } }] as never,
  })
  await load(3)
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json() as { webSocketDebuggerUrl: string, title: string, id: string }[]
  const target = targets.find(t => /license-manager/.test(t.title)) ?? targets[0]!
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise(r => ws.addEventListener('open', r, { once: true }))
  let id = 0
  const pending = new Map<number, (v: unknown) => void>()
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number, result?: unknown }
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)!(msg.result)
  })
  const send = (method: string, params: object = {}) => new Promise<unknown>((r) => {
    pending.set(++id, r)
    ws.send(JSON.stringify({ id, method, params }))
  })
  await send('Profiler.enable')
  await send('Profiler.setSamplingInterval', { interval: 100 })
  await send('Profiler.start')
  const result = await load(seconds)
  const { profile } = await send('Profiler.stop') as { profile: { nodes: { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }[], samples: number[], timeDeltas: number[] } }
  writeFileSync('/tmp/verify.cpuprofile', JSON.stringify(profile))
  ws.close()
  const self = new Map<number, number>()
  profile.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const byFn = new Map<string, number>()
  const byFile = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0
    total += t
    const f = node.callFrame
    const file = f.url.split('/').slice(-2).join('/') || '(native)'
    const key = `${f.functionName || '(anon)'} ${file}:${f.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + t)
    byFile.set(file, (byFile.get(file) ?? 0) + t)
  }
  const reqs = result.requests.total
  console.log(`verify: ${result.requests.average} req/s, ${reqs} requests, non-2xx ${result.non2xx}; profiled ${(total / 1000).toFixed(0)} ms => ${(total / 1000 / reqs).toFixed(3)} ms JS-thread samples per request`)
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, t]) => `${(t / 1000 / reqs * 1000).toFixed(1).padStart(7)} µs/req  ${(100 * t / total).toFixed(1).padStart(5)} %  ${name}`).join('\n')
  console.log('\nby file\n' + top(byFile, 15))
  console.log('\nby function\n' + top(byFn, 45))
}
finally {
  await server.close()
  rmSync(state, { recursive: true, force: true })
}
