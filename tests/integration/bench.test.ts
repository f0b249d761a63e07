import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../support/worker'

const dir = mkdtempSync(join(tmpdir(), 'lm-bench-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Every leaf of an object, as [path, value]. */
function leaves(value: unknown, path = ''): [string, unknown][] {
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k))
  return [[path, value]]
}

describe('npm run bench -- --quick', () => {
  it('runs end to end and writes a complete JSON: every figure numeric, no errors, the expected answers', () => {
    const out = join(dir, 'bench.json')
    const r = spawnSync('npm', ['run', 'bench', '--', '--quick', '--json-out', out], {
      cwd: ROOT, encoding: 'utf8', timeout: 280_000, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    })
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/verify \(valid key\)/)
    const json = JSON.parse(readFileSync(out, 'utf8'))

    // Every scenario ran, completed requests, and got only the answers it expects.
    const names = json.scenarios.map((s: { name: string }) => s.name)
    for (const n of ['trivial route', 'verify (valid key)', 'verify (valid key), signed', 'verify (unknown key)', 'verify (key + fingerprint)', 'activate + deactivate', 'bare floor', 'verify (valid key), 1,000 licenses']) {
      expect(names.some((x: string) => x.startsWith(n)), `scenario ${n} in ${names}`).toBe(true)
    }
    for (const s of json.scenarios) {
      expect(s.requests, s.name).toBeGreaterThan(0)
      expect({ name: s.name, errors: s.errors, timeouts: s.timeouts, non2xx: s.non2xx, unexpected: s.unexpectedCodes }).toEqual({ name: s.name, errors: 0, timeouts: 0, non2xx: 0, unexpected: 0 })
      for (const k of ['reqPerSec', 'cpuMsPerRequest']) expect(s[k], `${s.name} ${k}`).toBeGreaterThan(0)
      for (const [k, v] of Object.entries(s.latencyMs)) expect(Number.isFinite(v), `${s.name} latency ${k}`).toBe(true)
    }

    // Every figure present and numeric.
    for (const [path, v] of leaves({
      verifyOwnCpuMs: json.verifyOwnCpuMs, d1RoundTripCpuMs: json.d1RoundTripCpuMs, verifyBeyondD1CpuMs: json.verifyBeyondD1CpuMs, bareCpuMsPerRequest: json.bareCpuMsPerRequest, signedVerify: json.signedVerify, ratios: json.ratios,
      large: json.latency.large, small: json.latency.small, d1: json.d1StatementsPerRequest,
      systemLogMs: json.systemLogMs, managementListMs: json.managementListMs, loginMs: json.loginMs.median, workerSize: json.workerSize,
    }).filter(([path]) => !path.endsWith('.code'))) {
      expect(typeof v === 'number' && Number.isFinite(v), `${path} = ${String(v)}`).toBe(true)
    }
    for (const k of ['verifyToTrivialThroughput', 'verifyToBareThroughput', 'limiterOnToOffThroughput', 'signedToUnsignedThroughput', 'latency1MTo1k']) expect(json.ratios[k]).toBeGreaterThan(0)
    // Issue 11: the same build layer by layer (bare workerd, the self-hosted server, wrangler dev), same run.
    for (const n of ['bare workerd: trivial route', 'wrangler dev: trivial route', 'wrangler dev: verify (valid key)']) expect(names, n).toContain(names.find((x: string) => x.startsWith(n)))
    for (const k of ['bareWorkerdTrivial', 'serverTrivial', 'wranglerDevTrivial', 'serverVerify', 'wranglerDevVerify', 'bareFloorVerify', 'serverTrivialToBareWorkerd', 'serverVerifyToWranglerDevVerify']) expect(json.layers[k], k).toBeGreaterThan(0)
    expect(json.signedVerify.tokenBytes).toBeGreaterThan(300)
    expect(Object.keys(json.systemLogMs.http).sort()).toEqual(['byGroup', 'byIp', 'firstPage'])
    expect(Object.keys(json.managementListMs).sort()).toEqual(['adminFirstPage', 'licenses', 'ownerActive', 'ownerFirstPage'])
    expect(json.latency.failures).toBe(0)
    expect(json.workerSize.gzipBytes).toBeGreaterThan(100_000)

    // D1 counted, not assumed: verify reads its license once; the trivial route touches no D1.
    expect(json.d1StatementsPerRequest.trivial).toMatchObject({ reads: 0, writes: 0, pendingReads: 0, pendingWrites: 0, afterReads: 0, afterWrites: 0 })
    for (const k of ['verifyValid', 'verifyUnknown', 'verifyFingerprint', 'verifySigned']) expect(json.d1StatementsPerRequest[k].reads, k).toBe(1)
    expect(json.d1StatementsPerRequest.verifySigned).toMatchObject({ code: 'VALID', writes: 0 })
    expect(json.d1StatementsPerRequest.activate.code).toBe('ACTIVATED')
    expect(json.d1StatementsPerRequest.deactivate.code).toBe('DEACTIVATED')

    // Machine info and every target evaluated with its number.
    for (const k of ['cpuModel', 'cores', 'node', 'wrangler', 'workerd']) expect(json.machine[k], k).toBeTruthy()
    expect(Object.keys(json.targets).sort()).toEqual(['d1ResponsePath', 'latencyFlat', 'logFirstPage', 'login', 'serverTrivial', 'serverVerify', 'verifyOwnCpu', 'verifyThroughput', 'verifyToFloor', 'workerGzip'])
    for (const t of Object.values(json.targets) as { pass: unknown, measured: string }[]) {
      expect(typeof t.pass).toBe('boolean')
      expect(t.measured).toMatch(/\d/)
    }
  }, 300_000)
})
