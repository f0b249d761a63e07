/**
 * What one local D1 statement costs, and what a leaner local binding could save (docs/performance.md,
 * "The local D1"). A minimal Worker in workerd through Miniflare's API — not the app — with three routes:
 *   /trivial   answers at once (the runtime's floor);
 *   /d1        one primary-key SELECT through Miniflare's D1 binding (what the app's `env.DB` is
 *              locally: the d1-api wrapper → the `d1:db:entry` Worker → the D1 Durable Object,
 *              JSON over HTTP between the last two, zod-checked, in a storage transaction);
 *   /do        the same SELECT on the same kind of SQLite, by a Durable Object of this Worker's own
 *              over Workers RPC (`ctx.storage.sql`): the leanest local binding workerd allows;
 *   /lean      the same SELECT through the lean local D1 binding the self-hosted server uses
 *              (scripts/lib/lean-d1/: workerd's D1 API, one RPC hop to a Durable Object), on a
 *              database of its own; with D1_JSRPC=1 the Worker has the d1_binding_jsrpc flag (the
 *              binding's RPC protocol) instead of its HTTP protocol answered in the isolate.
 * Each is loaded with autocannon (32 connections) and called on one connection; the CPU is the
 * workerd process's.
 *   npx tsx bench/d1-hops.ts [seconds]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { Miniflare, convertV4MiniflareOptions } from 'miniflare'
import { LEAN_D1_PLUGIN } from '../scripts/lib/lean-d1'
import { processTree, treeCpuMs } from './lib/proc'

const seconds = Number(process.argv[2] ?? 8)
const ROWS = 100_000

const script = `
import { DurableObject } from 'cloudflare:workers'
export class Lean extends DurableObject {
  get(id) { return this.ctx.storage.sql.exec('select id, label, owner_id from licenses where id = ?', id).toArray()[0] ?? null }
  seed(n) {
    const sql = this.ctx.storage.sql
    sql.exec('create table if not exists licenses (id text primary key, label text, owner_id text)')
    for (let i = 0; i < n; i++) sql.exec('insert or ignore into licenses values (?, ?, ?)', 'lic_' + i, 'License ' + i, 'usr_' + (i % 1000))
    return n
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    const id = 'lic_' + Math.floor(Math.random() * ${ROWS})
    if (url.pathname === '/trivial') return new Response('{"ok":true}')
    if (url.pathname === '/d1') return Response.json(await env.DB.prepare('select id, label, owner_id from licenses where id = ?').bind(id).first())
    if (url.pathname === '/lean') return Response.json(await env.LEAN.prepare('select id, label, owner_id from licenses where id = ?').bind(id).first())
    if (url.pathname === '/do') return Response.json(await env.OWN.get(env.OWN.idFromName('db')).get(id))
    if (url.pathname === '/seed') {
      await env.DB.exec('create table if not exists licenses (id text primary key, label text, owner_id text)')
      for (let i = 0; i < ${ROWS}; i += 500) {
        await env.DB.batch(Array.from({ length: 500 }, (_, k) => env.DB.prepare('insert or ignore into licenses values (?, ?, ?)').bind('lic_' + (i + k), 'License ' + (i + k), 'usr_' + ((i + k) % 1000))))
      }
      await env.LEAN.exec('create table if not exists licenses (id text primary key, label text, owner_id text)')
      for (let i = 0; i < ${ROWS}; i += 500) {
        await env.LEAN.batch(Array.from({ length: 500 }, (_, k) => env.LEAN.prepare('insert or ignore into licenses values (?, ?, ?)').bind('lic_' + (i + k), 'License ' + (i + k), 'usr_' + ((i + k) % 1000))))
      }
      await env.OWN.get(env.OWN.idFromName('db')).seed(${ROWS})
      return new Response('seeded')
    }
    return new Response('not found', { status: 404 })
  },
}`

const state = mkdtempSync(join(tmpdir(), 'lm-d1-hops-'))
const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1',
  port: 0,
  resourcePersistencePath: join(state, 'v3'),
  workers: [{
    name: 'hops',
    modulesRoot: state,
    modules: [{ type: 'ESModule', path: join(state, 'index.mjs'), contents: script }],
    compatibilityDate: '2026-11-01',
    compatibilityFlags: process.env.D1_JSRPC === '1' ? ['d1_binding_jsrpc'] : [],
    d1Databases: { DB: 'hops' },
    unsafeBindings: [{ name: 'LEAN', ...LEAN_D1_PLUGIN, options: { id: 'hops-lean' } }],
    durableObjects: { OWN: { className: 'Lean', useSQLite: true } },
  }],
} as Parameters<typeof convertV4MiniflareOptions>[0]))
try {
  const url = (await mf.ready).href.replace(/\/$/, '')
  const seeded = await fetch(`${url}/seed`)
  if (!seeded.ok) throw new Error(await seeded.text())
  // This process's workerd child (Miniflare starts it).
  const workerd = processTree(process.pid).find(p => p.comm.includes('workerd'))!.pid
  const rows: string[] = []
  for (const path of ['/trivial', '/d1', '/lean', '/do']) {
    const one = async () => {
      const t = performance.now()
      const r = await fetch(url + path)
      if (!r.ok) throw new Error(`${path}: ${r.status}`)
      await r.text()
      return performance.now() - t
    }
    for (let i = 0; i < 200; i++) await one()
    const lat: number[] = []
    for (let i = 0; i < 1000; i++) lat.push(await one())
    lat.sort((a, b) => a - b)
    const cpu0 = treeCpuMs(Number(workerd))
    const r = await autocannon({ url: url + path, connections: 32, duration: seconds })
    const cpu = (treeCpuMs(Number(workerd)) - cpu0) / r.requests.total
    rows.push(`${path.padEnd(9)} ${String(Math.round(r.requests.average)).padStart(6)} req/s  CPU ${cpu.toFixed(3)} ms/req  one connection median ${lat[500]!.toFixed(2)} ms  (non-2xx ${r.non2xx}, errors ${r.errors})`)
  }
  console.log(rows.join('\n'))
}
finally {
  await mf.dispose()
  rmSync(state, { recursive: true, force: true })
}
