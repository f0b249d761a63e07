/**
 * Verify A/B against another checkout (docs/performance.md): the other tree's built worker and this
 * one's, each on a copy of the same seeded D1 (100 k licenses), called alternately on one connection
 * (A B B A …) so machine noise hits both alike; prints p50/p90 and CPU ms per verify of each.
 *   npx tsx bench/ab.ts /path/to/other/checkout [calls]   (the other checkout built, with node_modules)
 * With `load` after the calls: each side under autocannon (32 connections, 8 s, valid keys from many
 * client IPs) in turns A B B A, twice; prints each side's req/s and workerd CPU ms per verify.
 */
import autocannon from 'autocannon'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startWorker } from './lib/worker'
import { treeCpuMs } from './lib/proc'
import { d1File, seed } from './lib/seed'
import { ensureSecretsFile, readSecretsFile } from '../scripts/lib/dev-vars'
import { applyMigrations } from '../scripts/lib/wrangler'

const ROOT = resolve(import.meta.dirname, '..')
const tmp = mkdtempSync(join(tmpdir(), 'lm-ab-'))
const OTHER = resolve(process.argv[2] ?? '')
if (!process.argv[2]) throw new Error('usage: npx tsx bench/ab.ts /path/to/other/checkout [calls]')
const N = Number(process.argv[3] ?? 1500)
const LOAD = process.argv[4] === 'load'
try {
  const envFile = join(tmp, 'env')
  ensureSecretsFile(envFile)
  const secrets = readSecretsFile(envFile)
  const a = join(tmp, 'a')
  applyMigrations(ROOT, a)
  const seeded = await seed(d1File(a), secrets, { admin: { email: 'ab@example.com', password: 'ab-password-123' }, owners: 100, fingerprintKeys: 10, activationKeys: 10, licenses: 100_000, events: 1000, sampleKeys: 2000 })
  const b = join(tmp, 'b')
  cpSync(a, b, { recursive: true })
  const before = await startWorker(OTHER, { persistTo: a, envFile })
  const after = await startWorker(ROOT, { persistTo: b, envFile })
  try {
    const bodies = seeded.validKeys.map(key => JSON.stringify({ key }))
    let i = 0
    const call = async (url: string) => {
      const t = performance.now()
      const res = await fetch(`${url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': `10.9.${(i >> 8) & 255}.${i & 255}` }, body: bodies[i++ % bodies.length] })
      const text = await res.text()
      if (!text.includes('"VALID"')) throw new Error(text)
      return performance.now() - t
    }
    if (LOAD) {
      const loadOnce = async (url: string, pid: number) => {
        let n = 0
        const cpu0 = treeCpuMs(pid)
        const r = await autocannon({
          url, connections: 32, duration: 8,
          requests: [{ method: 'POST', path: '/api/v1/licenses/verify', setupRequest: (req: Record<string, unknown>) => {
            const k = n++
            return { ...req, headers: { 'content-type': 'application/json', 'cf-connecting-ip': `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}` }, body: bodies[k % bodies.length] }
          } }] as never,
        })
        if (r.non2xx) throw new Error(`${r.non2xx} answers were not 2xx`)
        return { rps: r.requests.average, cpuMsPerVerify: (treeCpuMs(pid) - cpu0) / r.requests.total }
      }
      await loadOnce(before.url, before.pid)
      await loadOnce(after.url, after.pid)
      const runs: Record<'before' | 'after', { rps: number, cpuMsPerVerify: number }[]> = { before: [], after: [] }
      for (const side of ['before', 'after', 'after', 'before', 'before', 'after', 'after', 'before'] as const) {
        const w = side === 'before' ? before : after
        runs[side].push(await loadOnce(w.url, w.pid))
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
      const sum = (side: 'before' | 'after') => ({ rps: Math.round(mean(runs[side].map(r => r.rps))), cpuMsPerVerify: +mean(runs[side].map(r => r.cpuMsPerVerify)).toFixed(3), runs: runs[side].map(r => Math.round(r.rps)) })
      const b = sum('before')
      const a = sum('after')
      console.log(JSON.stringify({ before: b, after: a, rpsRatio: +(a.rps / b.rps).toFixed(3), cpuRatio: +(a.cpuMsPerVerify / b.cpuMsPerVerify).toFixed(3) }))
    }
    else {
    for (let k = 0; k < 200; k++) {
      await call(before.url)
      await call(after.url)
    }
    const times = { before: [] as number[], after: [] as number[] }
    const cpu0 = { before: treeCpuMs(before.pid), after: treeCpuMs(after.pid) }
    for (let k = 0; k < N; k++) {
      if (k % 2) {
        times.before.push(await call(before.url))
        times.after.push(await call(after.url))
      }
      else {
        times.after.push(await call(after.url))
        times.before.push(await call(before.url))
      }
    }
    const cpu = { before: (treeCpuMs(before.pid) - cpu0.before) / N, after: (treeCpuMs(after.pid) - cpu0.after) / N }
    const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))]!
    const out = {
      n: N,
      before: { p50: +q(times.before, 0.5).toFixed(3), p90: +q(times.before, 0.9).toFixed(3), cpuMsPerVerify: +cpu.before.toFixed(3) },
      after: { p50: +q(times.after, 0.5).toFixed(3), p90: +q(times.after, 0.9).toFixed(3), cpuMsPerVerify: +cpu.after.toFixed(3) },
    }
    console.log(JSON.stringify({ ...out, p50Ratio: +(out.after.p50 / out.before.p50).toFixed(3), cpuRatio: +(out.after.cpuMsPerVerify / out.before.cpuMsPerVerify).toFixed(3) }))
    }
  }
  finally {
    await Promise.all([before.stop(), after.stop()])
  }
}
finally {
  rmSync(tmp, { recursive: true, force: true })
}
