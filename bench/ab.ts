/**
 * Verify A/B against another checkout (docs/performance.md): the other tree's built worker and this
 * one's, each on a copy of the same seeded D1 (100 k licenses), called alternately on one connection
 * (A B B A …) so machine noise hits both alike; prints p50/p90 and CPU ms per verify of each.
 *   npx tsx bench/ab.ts /path/to/other/checkout [calls]   (the other checkout built, with node_modules)
 */
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
  finally {
    await Promise.all([before.stop(), after.stop()])
  }
}
finally {
  rmSync(tmp, { recursive: true, force: true })
}
