/** The targets as pass/fail, and the one table `npm run bench` prints. */
import type { ScenarioResult } from './load'

interface Counted { reads: number, writes: number, calls: number, pendingReads: number, pendingWrites: number, afterReads: number, afterWrites: number }
interface Latency { licenses: number, medianMs: number, p99Ms: number }
export interface Figures {
  scenarios: ScenarioResult[]
  verifyOwnCpuMs: number
  d1RoundTripCpuMs: number
  verifyBeyondD1CpuMs: number
  bareCpuMsPerRequest: number
  signedVerify: { extraCpuMs: number, tokenBytes: number, latency: { unsigned: { medianMs: number }, signed: { medianMs: number }, medianDifferenceMs: number } }
  ratios: { verifyToTrivialThroughput: number, verifyToBareThroughput: number, limiterOnToOffThroughput: number, signedToUnsignedThroughput: number, latency1MTo1k: number }
  latency: { large: Latency, small: Latency, failures: number }
  d1StatementsPerRequest: Record<string, Counted>
  systemLogMs: { http: Record<string, number>, sql: Record<string, number>, events: number }
  /** Management API license list pages over HTTP, median ms (scripts/bench.ts managementListTimings). */
  managementListMs: Record<string, number> & { licenses: number }
  loginMs: { median: number }
  workerSize: { rawBytes: number, gzipBytes: number }
  layers: { bareWorkerdTrivial: number, serverTrivial: number, wranglerDevTrivial: number, serverVerify: number, wranglerDevVerify: number, bareFloorVerify: number, serverTrivialToBareWorkerd: number, serverVerifyToWranglerDevVerify: number, edgeCpuMsPerRequest: number, wranglerDevCpuMsPerRequest: number }
}

export interface Target { target: string, limit: string, measured: string, pass: boolean }

export function evaluateTargets(f: Figures): Record<string, Target> {
  const v = f.d1StatementsPerRequest.verifyValid!
  const t = (target: string, limit: string, measured: string, pass: boolean): Target => ({ target, limit, measured, pass })
  const l = f.layers
  return {
    serverTrivial: t('trivial route: self-hosted server / bare workerd', '≥ 0.5', `${l.serverTrivialToBareWorkerd} (${fmt(l.serverTrivial)} vs ${fmt(l.bareWorkerdTrivial)} req/s)`, l.serverTrivialToBareWorkerd >= 0.5),
    serverVerify: t('verify: self-hosted server / wrangler dev', '≥ 3', `${l.serverVerifyToWranglerDevVerify} (${fmt(l.serverVerify)} vs ${fmt(l.wranglerDevVerify)} req/s)`, l.serverVerifyToWranglerDevVerify >= 3),
    verifyToFloor: t('verify / bare floor (node:http + node:sqlite)', '≥ 0.15', `${f.ratios.verifyToBareThroughput} (${fmt(l.serverVerify)} vs ${fmt(l.bareFloorVerify)} req/s)`, f.ratios.verifyToBareThroughput >= 0.15),
    verifyOwnCpu: t('verify own CPU (verify − trivial, ms/request)', '≤ 0.5 ms', `${f.verifyOwnCpuMs} ms`, f.verifyOwnCpuMs <= 0.5),
    verifyThroughput: t('verify throughput / trivial route', '≥ 0.8', String(f.ratios.verifyToTrivialThroughput), f.ratios.verifyToTrivialThroughput >= 0.8),
    d1ResponsePath: t('D1 on verify\'s response path', '1 read, 0 writes', `${v.reads} read(s), ${v.writes} write(s) waited for; ${v.pendingReads + v.afterReads} read(s), ${v.pendingWrites + v.afterWrites} write(s) off the path`, v.reads === 1 && v.writes === 0),
    latencyFlat: t('verify latency 1M / 1k licenses', '≤ 1.1', String(f.ratios.latency1MTo1k), f.ratios.latency1MTo1k <= 1.1),
    logFirstPage: t(`system-log first page at ${f.systemLogMs.events.toLocaleString('en')} events (HTTP)`, '≤ 50 ms', `${f.systemLogMs.http.firstPage} ms (SQL alone ${f.systemLogMs.sql.firstPage} ms)`, f.systemLogMs.http.firstPage! <= 50),
    workerGzip: t('built worker, gzip', '≤ 1 MiB', `${(f.workerSize.gzipBytes / 2 ** 20).toFixed(2)} MiB`, f.workerSize.gzipBytes <= 2 ** 20),
    login: t('login (scrypt) in workerd, median', '≤ 250 ms', `${f.loginMs.median} ms`, f.loginMs.median <= 250),
  }
}

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n))
const fmt = (n: number, d = 0) => n.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d })

export function renderTable(r: Figures & { targets: Record<string, Target>, machine: { cpuModel: string, cores: number, node: string, wrangler: string, workerd: string } }): string {
  const lines: string[] = []
  const cols = ['scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'errors', 'non-2xx', 'unexpected']
  const rows = r.scenarios.map(s => [s.name, String(s.connections), fmt(s.reqPerSec), String(s.latencyMs.p50), String(s.latencyMs.p99), s.cpuMsPerRequest.toFixed(3), String(s.errors + s.timeouts), String(s.non2xx), String(s.unexpectedCodes)])
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map(row => row[i]!.length)))
  const line = (row: string[]) => row.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ')
  lines.push('', `${r.machine.cpuModel} · ${r.machine.cores} cores · Node ${r.machine.node} · wrangler ${r.machine.wrangler} · workerd ${r.machine.workerd}`, '')
  lines.push(line(cols), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line), '')
  const { large, small } = r.latency
  const kv: [string, string][] = [
    ['verify own CPU (verify − trivial)', `${r.verifyOwnCpuMs} ms/request (bare floor ${r.bareCpuMsPerRequest} ms/request)`],
    ['  of which: one D1 statement', `${r.d1RoundTripCpuMs} ms/request (D1 round trip − trivial: the local runtime's cost of a D1 call)`],
    ['  of which: the rest of verify', `${r.verifyBeyondD1CpuMs} ms/request (verify − D1 round trip: our code, the limiter, the batched events)`],
    ['layers, trivial route req/s', `bare workerd ${fmt(r.layers.bareWorkerdTrivial)} · self-hosted server ${fmt(r.layers.serverTrivial)} · wrangler dev ${fmt(r.layers.wranglerDevTrivial)}`],
    ['layers, verify req/s', `self-hosted server ${fmt(r.layers.serverVerify)} · wrangler dev ${fmt(r.layers.wranglerDevVerify)} · bare floor ${fmt(r.layers.bareFloorVerify)}`],
    ['layers, CPU per request over bare workerd', `self-hosted edge entry ${r.layers.edgeCpuMsPerRequest} ms · wrangler dev's proxy chain ${r.layers.wranglerDevCpuMsPerRequest} ms (trivial route)`],
    ['verify / trivial throughput', String(r.ratios.verifyToTrivialThroughput)],
    ['verify / bare floor throughput', String(r.ratios.verifyToBareThroughput)],
    ['verify limiter on / off throughput', String(r.ratios.limiterOnToOffThroughput)],
    ['signed verify − verify, CPU', `${r.signedVerify.extraCpuMs} ms/request (EdDSA token, kh, JSON; token ${fmt(r.signedVerify.tokenBytes)} bytes)`],
    ['signed / unsigned verify throughput', String(r.ratios.signedToUnsignedThroughput)],
    ['signed vs unsigned, 1 connection, median', `unsigned ${r.signedVerify.latency.unsigned.medianMs} ms · signed ${r.signedVerify.latency.signed.medianMs} ms · difference ${r.signedVerify.latency.medianDifferenceMs} ms`],
    [`verify latency, 1 connection, median`, `${fmt(large.licenses)} licenses ${large.medianMs} ms · ${fmt(small.licenses)} licenses ${small.medianMs} ms · ratio ${r.ratios.latency1MTo1k}`],
    ...Object.entries(r.d1StatementsPerRequest).map(([k, c]): [string, string] => [`D1 statements: ${k}`, `waited for ${c.reads}R ${c.writes}W (${c.calls} calls) · in flight at response ${c.pendingReads}R ${c.pendingWrites}W · after ${c.afterReads}R ${c.afterWrites}W`]),
    ...Object.keys(r.systemLogMs.http).map((k): [string, string] => [`system log ${k} (${fmt(r.systemLogMs.events)} events)`, `HTTP ${r.systemLogMs.http[k]} ms · SQL ${r.systemLogMs.sql[k]} ms`]),
    ...Object.entries(r.managementListMs).filter(([k]) => k !== 'licenses').map(([k, v]): [string, string] => [`management list ${k} (${fmt(r.managementListMs.licenses)} licenses)`, `HTTP ${v} ms (median)`]),
    ['login (tRPC auth.login), median', `${r.loginMs.median} ms`],
    ['worker size', `${fmt(r.workerSize.rawBytes / 1024)} KiB raw · ${fmt(r.workerSize.gzipBytes / 1024)} KiB gzip`],
  ]
  const kw = Math.max(...kv.map(([k]) => k.length))
  lines.push(...kv.map(([k, v]) => `${pad(k, kw)}  ${v}`), '', 'targets')
  const tw = Math.max(...Object.values(r.targets).map(t => t.target.length))
  for (const t of Object.values(r.targets)) lines.push(`  ${t.pass ? 'PASS' : 'FAIL'}  ${pad(t.target, tw)}  ${pad(t.limit, 16)}  ${t.measured}`)
  return `${lines.join('\n')}\n`
}
