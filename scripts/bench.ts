/**
 * `npm run bench` (issues 6 and 11, docs/performance.md): build if needed, seed fresh local D1s (a large
 * and a 1 k-license dataset) straight into their SQLite files, serve the built worker as `npm start`
 * does (the self-hosted server, scripts/lib/server.ts), drive it with autocannon; then the same build
 * layer by layer (bare workerd, `wrangler dev`); print one table + write bench/results/latest.json.
 *   npm run bench -- [--duration 10] [--connections 32] [--licenses 1000000] [--events N] [--quick] [--json-out FILE]
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { D1_HEADERS } from '../server/lib/d1-count'
import { generateKey } from '../server/lib/keys'
import { Caller } from '../tests/support/client'
import { freePort, startWorker, startWranglerDev, type RunningWorker } from '../bench/lib/worker'
import { median, round, runScenario, type Scenario, type ScenarioResult } from '../bench/lib/load'
import { treeCpuMs } from '../bench/lib/proc'
import { renderTable, evaluateTargets } from '../bench/lib/report'
import { d1File, seed, type Seeded } from '../bench/lib/seed'
import { logPageSql } from '../bench/lib/sql'
import { workerSize } from '../bench/lib/size'
import { ensureBuild } from './lib/build'
import { ensureSecretsFile, readSecretsFile, type Secrets } from './lib/dev-vars'
import { applyMigrations } from './lib/wrangler'

const ROOT = resolve(import.meta.dirname, '..')

// ---------- options ----------
const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const num = (name: string, fallback: number) => {
  const v = opt(name)
  if (v === undefined) return fallback
  const n = Number(v.replace(/_/g, ''))
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
  return n
}
const quick = flag('quick')
const OPTS = {
  quick,
  durationS: num('duration', quick ? 2 : 10),
  connections: num('connections', quick ? 16 : 32),
  licenses: num('licenses', quick ? 10_000 : 1_000_000),
  events: num('events', num('licenses', quick ? 10_000 : 1_000_000)),
  smallLicenses: 1000,
  latencyN: quick ? 200 : 2000,
  logRuns: quick ? 3 : 9,
  logins: quick ? 3 : 10,
  jsonOut: resolve(opt('json-out') ?? join(ROOT, 'bench/results/latest.json')),
}
const ADMIN = { email: 'bench-admin@example.com', password: `bench-${Math.random().toString(36).slice(2)}-pw` }

function step(msg: string) {
  process.stderr.write(`\x1b[36m›\x1b[0m ${msg}\n`)
}

// ---------- request bodies ----------
const VERIFY = '/api/v1/licenses/verify'
let ipCounter = 0
/** A client IP per request from a pool (documentation ranges): per-IP limits see many apps, as in production. */
const nextIp = (perIp: number) => {
  const n = Math.floor(ipCounter++ / perIp)
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}
/**
 * The client IP of the app installation that holds key number `i`: one per key, as in production
 * (an app verifies its own key from its own machine), 5 000 of them, so the per-IP limits and the
 * anomaly counts (distinct IPs per key, docs/policies.md) see what they would see in production.
 * Rotating IPs per call instead made every key look shared by hundreds of machines.
 */
const ipOfKey = (i: number) => {
  const n = i % 5000
  return `10.128.${(n >> 8) & 255}.${n & 255}`
}

function scenarios(seeded: Seeded, durationS: number, connections: number): Scenario[] {
  const valid = seeded.validKeys.map(key => JSON.stringify({ key }))
  const unknown = Array.from({ length: 5000 }, () => JSON.stringify({ key: generateKey().key }))
  const withFp = seeded.fingerprintKeys.map(([key, fingerprint]) => JSON.stringify({ key, fingerprint }))
  const pick = (list: string[]) => {
    let i = 0
    return () => list[i++ % list.length]!
  }
  // A key's calls come from its app's IP (ipOfKey).
  const pickWithIp = (list: string[]) => {
    let i = 0
    return () => {
      const k = i++ % list.length
      return { body: list[k]!, headers: { 'cf-connecting-ip': ipOfKey(k), 'user-agent': 'lm-bench' } }
    }
  }
  const nextValid = pickWithIp(valid)
  const nextUnknown = pick(unknown)
  const nextFp = pickWithIp(withFp)
  // Signed answers (docs/offline.md): the same keys, with a fresh nonce per request as the SDK sends.
  let nonceNo = 0
  const nextSigned = () => {
    const k = nonceNo % seeded.validKeys.length
    return { body: JSON.stringify({ key: seeded.validKeys[k], signed: true, nonce: `bench-${nonceNo++}` }), headers: { 'cf-connecting-ip': ipOfKey(k), 'user-agent': 'lm-bench' } }
  }
  let connectionNo = 0
  const pair = (ctx: Record<string, unknown>) => {
    ctx.key ??= seeded.activationKeys[connectionNo++ % seeded.activationKeys.length]
    ctx.fp ??= `bench-act-${connectionNo}`
    return JSON.stringify({ key: ctx.key, fingerprint: ctx.fp })
  }
  const ipHeaders = (perIp: number) => ({ 'cf-connecting-ip': nextIp(perIp), 'user-agent': 'lm-bench' })
  return [
    // The runtime's floor: the cheapest answer of this Worker, from the same entry as verify.
    { name: 'trivial route (GET /api/v1/health)', requests: [{ method: 'GET', path: '/api/v1/health' }], connections, durationS, expect: ['OK'] },
    // The runtime's cost of one D1 statement: the trivial route plus `select 1` on the same D1.
    { name: 'D1 round trip (GET /api/v1/health?deep=1)', requests: [{ method: 'GET', path: '/api/v1/health?deep=1' }], connections, durationS, expect: ['OK'] },
    // For context: the same kind of answer through Nitro/h3 (what the app's routes pay, and what verify no longer does).
    { name: 'Nitro/h3 route (GET /api/health)', requests: [{ method: 'GET', path: '/api/health' }], connections, durationS, expect: ['OK'] },
    { name: 'verify (valid key)', requests: [{ method: 'POST', path: VERIFY, setup: nextValid }], connections, durationS, expect: ['VALID'] },
    { name: 'verify (valid key), signed', requests: [{ method: 'POST', path: VERIFY, setup: nextSigned }], connections, durationS, expect: ['VALID'] },
    // A different IP every 10 calls: the brute-force limit (20 NOT_FOUND per IP per 10 min) is never reached.
    { name: 'verify (unknown key)', requests: [{ method: 'POST', path: VERIFY, setup: () => ({ body: nextUnknown(), headers: ipHeaders(10) }) }], connections, durationS, expect: ['NOT_FOUND'] },
    { name: 'verify (key + fingerprint)', requests: [{ method: 'POST', path: VERIFY, setup: nextFp }], connections, durationS, expect: ['VALID'] },
    {
      name: 'activate + deactivate pair',
      requests: [
        { method: 'POST', path: '/api/v1/licenses/activate', setup: ctx => ({ body: pair(ctx), headers: ipHeaders(100) }) },
        { method: 'POST', path: '/api/v1/licenses/deactivate', setup: ctx => ({ body: pair(ctx), headers: ipHeaders(100) }) },
      ],
      connections: Math.min(connections, seeded.activationKeys.length),
      durationS,
      expect: ['ACTIVATED', 'DEACTIVATED'],
    },
  ]
}

async function postJson(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.200.0.1', ...headers }, body })
  const text = await res.text()
  return { res, code: /"code":"([A-Z_]+)"/.exec(text)?.[1], tokenBytes: /"token":"([^"]+)"/.exec(text)?.[1]?.length }
}

/**
 * Verify latency on one connection per worker, the two datasets' workers served side by side and
 * called alternately (A B B A …), so machine noise hits both alike; after a warm-up.
 */
async function interleavedLatency(a: { w: RunningWorker, seeded: Seeded }, b: { w: RunningWorker, seeded: Seeded }, n: number) {
  const sender = ({ w, seeded }: { w: RunningWorker, seeded: Seeded }) => {
    const bodies = seeded.validKeys.map(key => JSON.stringify({ key }))
    let i = 0
    return async () => {
      const k = i++ % bodies.length
      const { res, code } = await postJson(`${w.url}${VERIFY}`, bodies[k]!, { 'cf-connecting-ip': ipOfKey(k) })
      return { ok: res.ok && code === 'VALID', code }
    }
  }
  const sendA = sender(a)
  const sendB = sender(b)
  const run = async (count: number) => {
    const ta: number[] = []
    const tb: number[] = []
    const rec = { failures: 0, codes: {} as Record<string, number> }
    const timed = async (send: () => Promise<{ ok: boolean, code?: string }>, into: number[]) => {
      const t = performance.now()
      const r = await send()
      into.push(performance.now() - t)
      if (!r.ok) rec.failures++
      if (r.code) rec.codes[r.code] = (rec.codes[r.code] ?? 0) + 1
    }
    for (let i = 0; i < count; i++) {
      if (i % 2) {
        await timed(sendA, ta)
        await timed(sendB, tb)
      }
      else {
        await timed(sendB, tb)
        await timed(sendA, ta)
      }
    }
    return { a: stats(ta), b: stats(tb), ...rec }
  }
  await run(Math.min(200, n))
  return await run(n)
}

/**
 * What signing adds to one verify, free of load noise: one connection, the same worker and keys,
 * unsigned and signed calls alternated (A B B A …) after a warm-up; medians and their difference.
 */
async function signedVsUnsigned(w: RunningWorker, seeded: Seeded, n: number) {
  let i = 0
  const send = async (signed: boolean, into: number[]) => {
    const k = i++ % seeded.validKeys.length
    const key = seeded.validKeys[k]
    const body = JSON.stringify(signed ? { key, signed: true, nonce: `lat-${i}` } : { key })
    const t = performance.now()
    const { res, code, tokenBytes } = await postJson(`${w.url}${VERIFY}`, body, { 'cf-connecting-ip': ipOfKey(k) })
    into.push(performance.now() - t)
    if (!res.ok || code !== 'VALID' || (signed && !tokenBytes)) throw new Error(`signed-latency: unexpected answer ${res.status} ${code}`)
  }
  const run = async (count: number) => {
    const unsigned: number[] = []
    const signed: number[] = []
    for (let k = 0; k < count; k++) {
      if (k % 2) { await send(false, unsigned); await send(true, signed) }
      else { await send(true, signed); await send(false, unsigned) }
    }
    return { unsigned: stats(unsigned), signed: stats(signed) }
  }
  await run(Math.min(200, n))
  const r = await run(n)
  return { ...r, medianDifferenceMs: round(r.signed.medianMs - r.unsigned.medianMs, 3) }
}

function stats(times: number[]) {
  const s = [...times].sort((x, y) => x - y)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return { n: s.length, medianMs: round(q(0.5), 3), p99Ms: round(q(0.99), 3), meanMs: round(s.reduce((x, y) => x + y, 0) / s.length, 3) }
}

// ---------- phases ----------
/** The verify scenario again on the large D1, with the rate limiter switched off (RATE_LIMITS=off): what the limiter costs. */
async function limiterOffPhase(envFile: string, big: { persistTo: string, seeded: Seeded }): Promise<ScenarioResult> {
  step('Load: verify (valid key) with the rate limiter off (RATE_LIMITS=off)…')
  const w = await startWorker(ROOT, { persistTo: big.persistTo, envFile, vars: { RATE_LIMITS: 'off' } })
  try {
    const s = scenarios(big.seeded, OPTS.durationS, OPTS.connections).find(x => x.name.startsWith('verify (valid key)'))!
    await runScenario(w.url, w.pid, { ...s, durationS: 1 })
    return await runScenario(w.url, w.pid, { ...s, name: 'verify (valid key), rate limiter off' })
  }
  finally {
    await w.stop()
  }
}

/**
 * Each layer's cost side by side (issue 11), same build, same large D1: the trivial route on the
 * worker's own workerd socket (nothing in front: bare workerd), and trivial + verify through `wrangler dev`.
 * The self-hosted server's own rows come from workerPhase.
 */
async function layersPhase(envFile: string, big: { persistTo: string, seeded: Seeded }) {
  const list = scenarios(big.seeded, OPTS.durationS, OPTS.connections)
  const trivial = list[0]!
  const verify = list.find(x => x.name === 'verify (valid key)')!
  step('Layers: bare workerd, the trivial route on the worker\'s own socket (nothing in front)…')
  const w = await startWorker(ROOT, { persistTo: big.persistTo, envFile })
  let bareWorkerdTrivial: ScenarioResult
  try {
    await runScenario(w.directUrl!, w.pid, { ...trivial, durationS: 1 })
    bareWorkerdTrivial = await runScenario(w.directUrl!, w.pid, { ...trivial, name: 'bare workerd: trivial route (nothing in front)' })
  }
  finally {
    await w.stop()
  }
  step('Layers: the same build through wrangler dev (trivial route, verify)…')
  const wd = await startWranglerDev(ROOT, { persistTo: big.persistTo, envFile })
  try {
    await runScenario(wd.url, wd.pid, { ...trivial, durationS: 1 })
    await runScenario(wd.url, wd.pid, { ...verify, durationS: 1 })
    const wranglerTrivial = await runScenario(wd.url, wd.pid, { ...trivial, name: 'wrangler dev: trivial route' })
    const wranglerVerify = await runScenario(wd.url, wd.pid, { ...verify, name: 'wrangler dev: verify (valid key)' })
    return { bareWorkerdTrivial, wranglerTrivial, wranglerVerify }
  }
  finally {
    await wd.stop()
  }
}

async function workerPhase(envFile: string, big: { persistTo: string, seeded: Seeded }, small: { persistTo: string, seeded: Seeded }) {
  step(`Serving the worker on the ${OPTS.licenses.toLocaleString('en')}-license D1 and on the ${OPTS.smallLicenses.toLocaleString('en')}-license one…`)
  const w = await startWorker(ROOT, { persistTo: big.persistTo, envFile })
  let ws: RunningWorker | undefined
  try {
    ws = await startWorker(ROOT, { persistTo: small.persistTo, envFile })
    const seeded = big.seeded
    const idleStart = treeCpuMs(w.pid)
    await new Promise(r => setTimeout(r, 2000))
    const idleCpuMsPerS = round((treeCpuMs(w.pid) - idleStart) / 2, 2)
    const list = scenarios(seeded, OPTS.durationS, OPTS.connections)
    step('Warm-up…')
    await runScenario(w.url, w.pid, { ...list[0]!, durationS: 1 })
    await runScenario(w.url, w.pid, { ...list[1]!, durationS: 1 })
    const results: ScenarioResult[] = []
    for (const s of list) {
      step(`Load: ${s.name}, ${s.connections} connections, ${s.durationS} s…`)
      results.push(await runScenario(w.url, w.pid, s))
    }
    const smallList = scenarios(small.seeded, OPTS.durationS, OPTS.connections)
    // The same verify scenario as on the large dataset (found by name: the list's order changes).
    const smallVerify = smallList.find(x => x.name === 'verify (valid key)')!
    await runScenario(ws.url, ws.pid, { ...smallVerify, durationS: 1 })
    step(`Load: verify (valid key) at ${OPTS.smallLicenses} licenses…`)
    const smallLoad = await runScenario(ws.url, ws.pid, { ...smallVerify, name: `verify (valid key), ${OPTS.smallLicenses.toLocaleString('en')} licenses` })
    step(`Verify latency, one connection each, ${OPTS.latencyN} calls, the two datasets alternately…`)
    const latency = await interleavedLatency({ w, seeded }, { w: ws, seeded: small.seeded }, OPTS.latencyN)
    step(`Signed vs unsigned verify, one connection, ${OPTS.latencyN} calls each, alternately…`)
    const signedLatency = await signedVsUnsigned(w, seeded, OPTS.latencyN)

    step('Logins and system-log pages over HTTP…')
    const loginTimes: number[] = []
    let admin: Caller | undefined
    for (let i = 0; i < OPTS.logins; i++) {
      const c = new Caller(w.url, '10.250.0.1', 'lm-bench')
      const t = performance.now()
      await c.login(ADMIN.email, ADMIN.password)
      loginTimes.push(performance.now() - t)
      admin = c
    }
    const logFilters = logCases(seeded)
    const logHttp: Record<string, number> = {}
    for (const [name, filter] of Object.entries(logFilters)) {
      const times: number[] = []
      let items = 0
      await admin!.trpc.log.list.query(filter)
      for (let i = 0; i < OPTS.logRuns; i++) {
        const t = performance.now()
        items = (await admin!.trpc.log.list.query(filter)).items.length
        times.push(performance.now() - t)
      }
      if (items === 0) throw new Error(`system log page "${name}" came back empty: the seed does not match the filter`)
      logHttp[name] = round(median(times), 2)
    }

    step('Management API list pages over HTTP…')
    const managementMs = await managementListTimings(w.url, admin!, seeded)
    return { results, smallLoad, latency, signedLatency, idleCpuMsPerS, loginMs: { median: round(median(loginTimes), 1), runs: loginTimes.map(t => round(t, 1)) }, logHttp, managementMs }
  }
  finally {
    await Promise.all([w.stop(), ws?.stop()])
  }
}

/**
 * The management API's license list (docs/management-api.md), one connection, median of runs: the
 * first page (25, newest first) for an admin's token (every owner's licenses) and for one owner's,
 * and an owner's list filtered by status. Sequential and few: the owner limit (120/min) is never hit.
 */
async function managementListTimings(url: string, admin: Caller, seeded: Seeded) {
  const adminToken = (await admin.trpc.tokens.create.mutate({ name: 'bench admin' })).token
  const ownerToken = (await admin.trpc.tokens.create.mutate({ name: 'bench owner', ownerId: seeded.ownerIds[7]! })).token
  const cases: Record<string, [string, string]> = {
    adminFirstPage: [adminToken, '/api/v1/licenses'],
    ownerFirstPage: [ownerToken, '/api/v1/licenses'],
    ownerActive: [ownerToken, '/api/v1/licenses?status=active'],
  }
  const out: Record<string, number> = {}
  for (const [name, [token, path]] of Object.entries(cases)) {
    const get = async () => {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      const body = await res.json() as { data?: unknown[] }
      if (res.status !== 200 || !body.data?.length) throw new Error(`management list "${name}" answered ${res.status} with ${body.data?.length ?? 0} rows`)
    }
    await get()
    const times: number[] = []
    for (let i = 0; i < OPTS.logRuns; i++) {
      const t = performance.now()
      await get()
      times.push(performance.now() - t)
    }
    out[name] = round(median(times), 2)
  }
  return out
}

function logCases(seeded: Seeded) {
  return {
    firstPage: {},
    byIp: { ip: seeded.eventIps[3]! },
    byGroup: { group: 'licenses' as const },
  }
}

/** The same SQL logPageQuery builds, run in Node's SQLite on a copy of the seeded file (engine time, no worker). */
function logSqlTimings(file: string, seeded: Seeded) {
  const db = new DatabaseSync(file, { readOnly: true })
  const out: Record<string, number> = {}
  for (const [name, filter] of Object.entries(logCases(seeded))) {
    const { sql, params } = logPageSql(filter)
    const stmt = db.prepare(sql)
    const times: number[] = []
    stmt.all(...(params as (string | number)[]))
    for (let i = 0; i < OPTS.logRuns; i++) {
      const t = performance.now()
      stmt.all(...(params as (string | number)[]))
      times.push(performance.now() - t)
    }
    out[name] = round(median(times), 3)
  }
  db.close()
  return out
}

async function barePhase(file: string, secrets: Secrets, seeded: Seeded): Promise<ScenarioResult> {
  step('Bare floor: node:http + node:sqlite, same lookup…')
  const port = await freePort()
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', 'bench/lib/bare-server.ts', file, String(port)], {
    cwd: ROOT,
    env: { ...process.env, KEY_HMAC_SECRET: secrets.KEY_HMAC_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve() })
      child.once('exit', code => reject(new Error(`bare server exited (${code})`)))
    })
    const bodies = seeded.validKeys.map(key => JSON.stringify({ key }))
    let i = 0
    const s: Scenario = { name: 'bare floor: node:http + node:sqlite verify', requests: [{ method: 'POST', path: '/verify', setup: () => ({ body: bodies[i++ % bodies.length]! }) }], connections: OPTS.connections, durationS: OPTS.durationS, expect: ['VALID'] }
    await runScenario(`http://127.0.0.1:${port}`, child.pid!, { ...s, durationS: 1 })
    return await runScenario(`http://127.0.0.1:${port}`, child.pid!, s)
  }
  finally {
    child.kill('SIGTERM')
  }
}

interface D1Count { reads: number, writes: number, calls: number, pendingReads: number, pendingWrites: number, afterReads: number, afterWrites: number, code?: string, tokenBytes?: number }

/** Counting phase: LM_COUNT_D1=1, one request at a time; after-response statements from the isolate totals. */
async function countingPhase(persistTo: string, envFile: string, seeded: Seeded) {
  step('Counting D1 statements per request (LM_COUNT_D1=1)…')
  const w = await startWorker(ROOT, { persistTo, envFile, vars: { LM_COUNT_D1: '1' } })
  try {
    const num = (res: Response, h: string) => {
      const v = res.headers.get(h)
      if (v === null) throw new Error(`no ${h} header on ${res.url}: D1 counting is not wired on this route (server/lib/d1-count.ts)`)
      return Number(v)
    }
    const isolateNow = async () => {
      const res = await fetch(`${w.url}/api/health`)
      await res.text()
      // The probe's own statements (none expected) are not part of what it measures.
      const own = { reads: num(res, D1_HEADERS.reads) + num(res, D1_HEADERS.pendingReads), writes: num(res, D1_HEADERS.writes) + num(res, D1_HEADERS.pendingWrites) }
      return { reads: num(res, D1_HEADERS.isolateReads) - own.reads, writes: num(res, D1_HEADERS.isolateWrites) - own.writes }
    }
    const once = async (send: () => Promise<{ res: Response, code?: string, tokenBytes?: number }>): Promise<D1Count> => {
      const before = await isolateNow()
      const { res, code, tokenBytes } = await send()
      const c = {
        reads: num(res, D1_HEADERS.reads),
        writes: num(res, D1_HEADERS.writes),
        calls: num(res, D1_HEADERS.calls),
        pendingReads: num(res, D1_HEADERS.pendingReads),
        pendingWrites: num(res, D1_HEADERS.pendingWrites),
      }
      await new Promise(r => setTimeout(r, 300)) // let waitUntil work finish
      const after = await isolateNow()
      // Sent after the response left (the isolate totals count statements when sent).
      const sentBefore = { reads: c.reads + c.pendingReads, writes: c.writes + c.pendingWrites }
      return { ...c, afterReads: after.reads - before.reads - sentBefore.reads, afterWrites: after.writes - before.writes - sentBefore.writes, code, tokenBytes }
    }
    const [key, fp] = seeded.fingerprintKeys[0]!
    const actKey = seeded.activationKeys.at(-1)!
    const post = (path: string, body: object) => () => postJson(`${w.url}/api/v1/licenses/${path}`, JSON.stringify(body))
    const trivial = await once(async () => {
      const res = await fetch(`${w.url}/api/v1/health`)
      await res.text()
      return { res }
    })
    const out = {
      trivial,
      verifyValid: await once(post('verify', { key: seeded.validKeys[0] })),
      verifyUnknown: await once(post('verify', { key: generateKey().key })),
      verifyFingerprint: await once(post('verify', { key, fingerprint: fp })),
      verifySigned: await once(post('verify', { key: seeded.validKeys[0], signed: true, nonce: 'bench-count' })),
      activate: await once(post('activate', { key: actKey, fingerprint: 'bench-count' })),
      deactivate: await once(post('deactivate', { key: actKey, fingerprint: 'bench-count' })),
    }
    return out
  }
  finally {
    await w.stop()
  }
}

function machineInfo() {
  const pkg = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  const db = new DatabaseSync(':memory:')
  const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v
  db.close()
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    wrangler: pkg('wrangler'),
    workerd: pkg('workerd'),
    autocannon: pkg('autocannon'),
    nodeSqlite: sqlite,
    loadAverageAtStart: loadavg().map(n => round(n, 2)),
  }
}

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 22) throw new Error(`Node 22 or newer is required (this is ${process.version})`)
  const started = performance.now()
  const machine = machineInfo()
  ensureBuild(ROOT, step)
  step('Worker size (wrangler deploy --dry-run)…')
  const size = workerSize(ROOT)

  const tmp = mkdtempSync(join(tmpdir(), 'lm-bench-'))
  try {
    const envFile = join(tmp, 'bench.vars')
    ensureSecretsFile(envFile)
    const secrets = readSecretsFile(envFile)
    const small = join(tmp, 'd1-small')
    const big = join(tmp, 'd1-big')
    step('Applying migrations to a fresh local D1…')
    applyMigrations(ROOT, small)
    cpSync(small, big, { recursive: true })
    const base = { admin: ADMIN, owners: 1000, fingerprintKeys: 1000, activationKeys: 256 }
    step(`Seeding ${OPTS.licenses.toLocaleString('en')} licenses and ${OPTS.events.toLocaleString('en')} events…`)
    const bigSeed = await seed(d1File(big), secrets, { ...base, licenses: OPTS.licenses, events: OPTS.events, sampleKeys: 10_000 })
    step(`Seeded in ${bigSeed.seconds.total.toFixed(1)} s (licenses ${bigSeed.seconds.licenses.toFixed(1)} s, events ${bigSeed.seconds.events.toFixed(1)} s).`)
    const smallSeed = await seed(d1File(small), secrets, { ...base, owners: 100, fingerprintKeys: 100, activationKeys: 64, licenses: OPTS.smallLicenses, events: OPTS.smallLicenses, sampleKeys: 1000 })
    // The bare floor and the SQL timings read a copy taken before any load writes to it.
    const bareFile = join(tmp, 'bare.sqlite')
    cpSync(d1File(big), bareFile)

    const bigRun = await workerPhase(envFile, { persistTo: big, seeded: bigSeed }, { persistTo: small, seeded: smallSeed })
    const limiterOff = await limiterOffPhase(envFile, { persistTo: big, seeded: bigSeed })
    const layers = await layersPhase(envFile, { persistTo: big, seeded: bigSeed })
    const bare = await barePhase(bareFile, secrets, bigSeed)
    step('System-log SQL in Node\'s SQLite…')
    const logSql = logSqlTimings(bareFile, bigSeed)
    const d1 = await countingPhase(small, envFile, smallSeed)

    const byName = (prefix: string) => bigRun.results.find(r => r.name.startsWith(prefix))!
    const trivial = byName('trivial')
    const verify = byName('verify (valid key)')
    const signed = byName('verify (valid key), signed')
    const figures = {
      scenarios: [...bigRun.results, limiterOff, bare, bigRun.smallLoad, layers.bareWorkerdTrivial, layers.wranglerTrivial, layers.wranglerVerify],
      /** Issue 11: the same build layer by layer, req/s (trivial route; verify), same run. */
      layers: {
        bareWorkerdTrivial: layers.bareWorkerdTrivial.reqPerSec,
        serverTrivial: trivial.reqPerSec,
        wranglerDevTrivial: layers.wranglerTrivial.reqPerSec,
        serverVerify: verify.reqPerSec,
        wranglerDevVerify: layers.wranglerVerify.reqPerSec,
        bareFloorVerify: bare.reqPerSec,
        serverTrivialToBareWorkerd: round(trivial.reqPerSec / layers.bareWorkerdTrivial.reqPerSec, 3),
        serverVerifyToWranglerDevVerify: round(verify.reqPerSec / layers.wranglerVerify.reqPerSec, 3),
        edgeCpuMsPerRequest: round(trivial.cpuMsPerRequest - layers.bareWorkerdTrivial.cpuMsPerRequest, 3),
        wranglerDevCpuMsPerRequest: round(layers.wranglerTrivial.cpuMsPerRequest - layers.bareWorkerdTrivial.cpuMsPerRequest, 3),
      },
      verifyOwnCpuMs: round(verify.cpuMsPerRequest - trivial.cpuMsPerRequest, 3),
      /** Of that, what one D1 statement costs the local runtime (D1 round trip − trivial), and the rest (verify − D1 round trip). */
      d1RoundTripCpuMs: round(byName('D1 round trip').cpuMsPerRequest - trivial.cpuMsPerRequest, 3),
      verifyBeyondD1CpuMs: round(verify.cpuMsPerRequest - byName('D1 round trip').cpuMsPerRequest, 3),
      bareCpuMsPerRequest: bare.cpuMsPerRequest,
      /** Signed answers: what the EdDSA token adds to a verify (same run, same dataset), and its size. */
      signedVerify: { extraCpuMs: round(signed.cpuMsPerRequest - verify.cpuMsPerRequest, 3), tokenBytes: d1.verifySigned.tokenBytes ?? 0, latency: bigRun.signedLatency },
      ratios: {
        verifyToTrivialThroughput: round(verify.reqPerSec / trivial.reqPerSec, 3),
        verifyToBareThroughput: round(verify.reqPerSec / bare.reqPerSec, 3),
        /** Rate limiter on (production) vs off, same dataset, same run. */
        limiterOnToOffThroughput: round(verify.reqPerSec / limiterOff.reqPerSec, 3),
        signedToUnsignedThroughput: round(signed.reqPerSec / verify.reqPerSec, 3),
        latency1MTo1k: round(bigRun.latency.a.medianMs / bigRun.latency.b.medianMs, 3),
      },
      latency: {
        large: { licenses: OPTS.licenses, ...bigRun.latency.a },
        small: { licenses: OPTS.smallLicenses, ...bigRun.latency.b },
        failures: bigRun.latency.failures,
        codes: bigRun.latency.codes,
      },
      d1StatementsPerRequest: d1,
      systemLogMs: { http: bigRun.logHttp, sql: logSql, events: OPTS.events },
      managementListMs: { ...bigRun.managementMs, licenses: OPTS.licenses },
      loginMs: bigRun.loginMs,
      workerSize: size,
      idleRuntimeCpuMsPerS: bigRun.idleCpuMsPerS,
      seedSeconds: bigSeed.seconds,
    }
    const result = {
      date: new Date().toISOString(),
      options: { ...OPTS, jsonOut: undefined },
      machine: { ...machine, loadAverageAtEnd: loadavg().map(n => round(n, 2)) },
      ...figures,
      targets: evaluateTargets(figures),
      totalSeconds: round((performance.now() - started) / 1000, 1),
    }
    mkdirSync(dirname(OPTS.jsonOut), { recursive: true })
    writeFileSync(OPTS.jsonOut, `${JSON.stringify(result, null, 2)}\n`)
    process.stdout.write(renderTable(result))
    step(`Wrote ${OPTS.jsonOut} (${result.totalSeconds} s in all).`)
  }
  finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(`npm run bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
