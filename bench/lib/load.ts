/**
 * One load scenario: autocannon at fixed connections for a fixed time against one URL, with the
 * runtime's CPU (its process tree, from /proc) measured around it and the business codes of the
 * answers tallied, so a scenario that silently answers NOT_FOUND or 429 cannot pass for a fast verify.
 */
import autocannon from 'autocannon'
import { treeCpuMs } from './proc'

export interface ScenarioRequest {
  method: 'GET' | 'POST'
  path: string
  /** Per request: body and headers (connection-local state in `ctx`). */
  setup?: (ctx: Record<string, unknown>) => { body?: string, headers?: Record<string, string> }
}

export interface Scenario {
  name: string
  /** One request, or a sequence each connection repeats (e.g. activate then deactivate). */
  requests: ScenarioRequest[]
  connections: number
  durationS: number
  /** Business codes that count as the expected answer (others are reported as unexpected). */
  expect?: string[]
}

export interface ScenarioResult {
  name: string
  connections: number
  durationS: number
  requests: number
  reqPerSec: number
  latencyMs: { mean: number, p50: number, p90: number, p99: number, max: number }
  errors: number
  timeouts: number
  non2xx: number
  statusCodes: Record<string, number>
  codes: Record<string, number>
  unexpectedCodes: number
  cpuMsPerRequest: number
  cpuMsTotal: number
}

const CODE = /"code":"([A-Z_]+)"/

export async function runScenario(url: string, cpuRoot: number, s: Scenario): Promise<ScenarioResult> {
  const codes: Record<string, number> = {}
  const requests = s.requests.map(r => ({
    method: r.method,
    path: r.path,
    headers: r.method === 'POST' ? { 'content-type': 'application/json' } : {},
    setupRequest: (req: Record<string, unknown>, ctx: Record<string, unknown>) => {
      const extra = r.setup?.(ctx) ?? {}
      return { ...req, ...(extra.body !== undefined ? { body: extra.body } : {}), headers: { ...(req.headers as Record<string, string>), ...extra.headers } }
    },
    onResponse: (status: number, body: string) => {
      const code = CODE.exec(body)?.[1] ?? (status === 200 ? 'OK' : `HTTP_${status}`)
      codes[code] = (codes[code] ?? 0) + 1
    },
  }))
  const cpuBefore = treeCpuMs(cpuRoot)
  const t0 = performance.now()
  const result = await autocannon({
    url,
    connections: s.connections,
    duration: s.durationS,
    requests: requests as unknown as autocannon.Request[],
    timeout: 10,
  })
  const wall = (performance.now() - t0) / 1000
  // Let after-response work (waitUntil event writes) finish before reading the CPU counters.
  await new Promise(r => setTimeout(r, 500))
  const cpuMsTotal = treeCpuMs(cpuRoot) - cpuBefore
  const done = result.requests.total
  const statusCodes: Record<string, number> = {}
  for (const [k, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[k] = (v as { count: number }).count
  const expected = new Set(s.expect ?? [])
  const unexpectedCodes = s.expect ? Object.entries(codes).filter(([c]) => !expected.has(c)).reduce((n, [, v]) => n + v, 0) : 0
  return {
    name: s.name,
    connections: s.connections,
    durationS: s.durationS,
    requests: done,
    reqPerSec: round(done / Math.min(wall, result.duration || wall), 1),
    latencyMs: { mean: round(result.latency.average, 2), p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    codes,
    unexpectedCodes,
    cpuMsPerRequest: done ? round(cpuMsTotal / done, 3) : NaN,
    cpuMsTotal: round(cpuMsTotal, 0),
  }
}

export const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
