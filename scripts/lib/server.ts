/**
 * The self-hosted server (issue 11, docs/self-hosting.md): the built worker in workerd through
 * Miniflare's API — the library `wrangler dev` runs on, with the same local D1 files and Durable
 * Object storage under <state>/v3 and the bindings of wrangler.toml — without wrangler's dev proxy
 * chain. workerd owns the public port: its socket reaches an entrypoint of the self-host module
 * (selfhost-entry.mjs) that sets the client IP from the connection, as Cloudflare's edge does, and
 * calls the built worker — no Miniflare entry worker, no assets router, no operator endpoint, no
 * second process on the request path. `npm start`, the tests (tests/support/worker.ts) and
 * `npm run bench` all serve this way.
 */
import { randomBytes } from 'node:crypto'
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { createServer as createNetServer } from 'node:net'
import { join, resolve } from 'node:path'
import { CoreHeaders, Miniflare, convertV4MiniflareOptions } from 'miniflare'
import type { D1Database } from '@cloudflare/workers-types'
import { Pool } from 'undici'
import { cronMatches } from './cron'
import { LOCK_FILE, servingPid } from './local-d1'
import { withLeanD1 } from './lean-d1'
import { applyD1Migrations } from './migrations'

export interface ServerOptions {
  root: string
  /** Public port (0: any free one). */
  port: number
  /** Address the public port listens on (default 127.0.0.1: put a reverse proxy in front, docs/self-hosting.md). */
  host?: string
  /** State folder (as wrangler --persist-to); default <root>/.wrangler/state. */
  persistTo?: string
  /** Worker secrets and extra vars, added to wrangler.toml's [vars] (later wins). */
  bindings?: Record<string, string>
  /** A header the operator's own reverse proxy sets (TRUST_PROXY_HEADER); unset: the connection's address. */
  trustProxyHeader?: string
  /** Print one line per request (LOG_REQUESTS=1). */
  logRequests?: boolean
  /** Fire wrangler.toml's [triggers] crons on their schedule (npm start: yes; tests: they call scheduled()). */
  cron?: boolean
  /** Refuse a second server on the same state folder (npm start: yes). */
  lock?: boolean
  /** The worker's console output (default: printed to stderr). */
  onLog?: (level: string, message: string) => void
  /**
   * Also open the loopback sockets that reach the built worker with nothing in front (`directUrl`,
   * `dispatch`): tests and the bench. Never for `npm start` — a process on the machine could send any
   * client IP through them.
   */
  innerSockets?: boolean
  /** workerd's DevTools inspector on this loopback port (profiling: bench/profile-verify.ts); default off. */
  inspectorPort?: number
}

export interface RunningServer {
  /** The public URL. */
  url: string
  /** The built worker's own socket on loopback, nothing in front (with `innerSockets`): the bench's bare-workerd row. */
  directUrl?: string
  /** Send a request to the built worker as if to `url` (any origin, https too), past the edge rules (with `innerSockets`): for tests. */
  dispatch: (url: string, init?: { method?: string, headers?: Record<string, string>, body?: string }) => Promise<Response>
  miniflare: Miniflare
  crons: string[]
  /** Whether workerd answers on the control socket (npm start's watchdog). */
  alive: () => Promise<boolean>
  /** Run one cron's scheduled work now and wait for it (what the server does on the schedule). */
  scheduled: (cron: string) => Promise<void>
  /** Swap secrets/vars (a reload of the worker, same state and ports). */
  reconfigure: (bindings: Record<string, string>) => Promise<void>
  /** Stop accepting, let in-flight requests and their waitUntil work finish, stop workerd. */
  /** Stop taking requests (503 with Retry-After from now on, as `close` does first); `close` is still needed. */
  drain: () => Promise<void>
  close: () => Promise<void>
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const srv = createNetServer().listen(0, host, () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolvePort(port))
    }).on('error', reject)
  })
}

/** Every module of the built worker (.output/server), the self-host entry first. */
function workerModules(root: string, config: { controlToken: string, trustProxyHeader: string | null, logRequests: boolean }) {
  const dir = join(root, '.output/server')
  if (!existsSync(join(dir, 'index.mjs'))) throw new Error('no built worker (.output/server/index.mjs): run `npm run build`')
  const entry = readFileSync(join(import.meta.dirname, 'selfhost-entry.mjs'), 'utf8').replace('__LM_SELFHOST_CONFIG__', JSON.stringify(config))
  const edge = readFileSync(join(import.meta.dirname, 'selfhost-edge.mjs'), 'utf8')
  const types: [RegExp, string][] = [[/\.m?js$/, 'ESModule'], [/\.wasm$/, 'CompiledWasm'], [/\.(txt|html|sql)$/, 'Text'], [/\.bin$/, 'Data']]
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter(f => !f.endsWith('.map')).sort()
  const own = new Set(['lm-selfhost.mjs', 'lm-selfhost-edge.mjs'])
  const modules: { type: string, path: string, contents?: string }[] = [
    { type: 'ESModule', path: join(dir, 'lm-selfhost.mjs'), contents: entry },
    { type: 'ESModule', path: join(dir, 'lm-selfhost-edge.mjs'), contents: edge },
  ]
  for (const f of files) {
    const type = types.find(([re]) => re.test(f))?.[1]
    if (type && !own.has(f)) modules.push({ type, path: join(dir, f) })
  }
  return { dir, modules }
}

/**
 * workerd as a child that (1) is not in the server's process group, so a terminal's Ctrl+C or a
 * service manager's SIGTERM to the group reaches only the server, which then shuts down in order
 * (in-flight requests, waitUntil work, then workerd); and (2) dies with the server (PR_SET_PDEATHSIG)
 * when that is killed outright, so no orphan keeps serving the state. Through util-linux's setsid
 * and setpriv where they exist (Linux); elsewhere workerd is started as Miniflare does by itself.
 */
function useWorkerdLauncher() {
  if (process.env.MINIFLARE_WORKERD_PATH || process.platform !== 'linux') return
  const has = (cmd: string) => ['/usr/bin', '/bin', '/usr/local/bin'].some(d => existsSync(join(d, cmd)))
  if (!has('setsid') || !has('setpriv')) return
  const workerd = (createRequire(import.meta.url)('workerd') as { default: string }).default
  const dir = mkdtempSync(join(tmpdir(), 'lm-workerd-'))
  const launcher = join(dir, 'workerd')
  writeFileSync(launcher, `#!/bin/sh\nexec setsid setpriv --pdeathsig KILL -- ${JSON.stringify(workerd)} "$@"\n`, { mode: 0o755 })
  process.env.MINIFLARE_WORKERD_PATH = launcher
}

const WORKER_NAME = 'license-manager'

/**
 * Miniflare gives its direct sockets a cf-blob header (`MF-CF-Blob`): a client that sends it sets
 * request.cf, and workerd then gives no client address. Without one, workerd puts the connection's
 * address in request.cf.clientIp, which is what the `served` entrypoint needs. Miniflare reads the
 * header's name from this object when it writes workerd's config, so clearing it here (this process
 * runs no other Miniflare) makes every socket it writes plain; tests/integration/self-hosted.test.ts
 * fails if a Miniflare upgrade changes that.
 */
function noCfBlobHeader() {
  (CoreHeaders as { CF_BLOB?: string }).CF_BLOB = undefined
}

function claimLock(persistTo: string): () => void {
  const file = join(persistTo, LOCK_FILE)
  const pid = servingPid(persistTo)
  if (pid !== null) throw new Error(`another server (pid ${pid}) is already serving ${persistTo}: stop it first`)
  writeFileSync(file, `${process.pid}\n`)
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file)
    }
    catch { /* gone */ }
  }
}

/** A header name as RFC 9110 allows (the value of TRUST_PROXY_HEADER), lower case; unset or empty → undefined. */
export function checkTrustProxyHeader(name: string | undefined): string | undefined {
  if (name === undefined || name.trim() === '') return undefined
  const n = name.trim()
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n)) throw new Error(`TRUST_PROXY_HEADER is not a header name: ${JSON.stringify(name)}`)
  return n.toLowerCase()
}

/** Fail early, with one line, when the public port cannot be had (workerd's own error is a page of log). */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolveCheck, reject) => {
    const srv = createNetServer()
    srv.once('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : error.code === 'EACCES' ? `no permission to listen on ${host}:${port}` : error.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine` : error.message)))
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolveCheck()))
  })
}

/** The URL to print for a listening address (an unspecified address is reached as localhost). */
function shownUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${shown}:${port}`
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const root = resolve(opts.root)
  const persistTo = resolve(opts.persistTo ?? join(root, '.wrangler/state'))
  try {
    mkdirSync(persistTo, { recursive: true })
    accessSync(persistTo, constants.W_OK)
  }
  catch {
    throw new Error(`the state folder ${persistTo} is not writable`)
  }
  const host = opts.host ?? '127.0.0.1'
  const controlToken = randomBytes(24).toString('base64url')
  const trustProxyHeader = checkTrustProxyHeader(opts.trustProxyHeader) ?? null
  const { dir, modules } = workerModules(root, { controlToken, trustProxyHeader, logRequests: !!opts.logRequests })
  const releaseLock = opts.lock ? claimLock(persistTo) : () => {}

  let mf: Miniflare | undefined
  try {
    await checkPortFree(host, opts.port)
    // wrangler would announce the project's .dev.vars, which this server does not read (the caller's secrets are used).
    process.env.WRANGLER_LOG ??= 'warn'
    const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import('wrangler')
    const configPath = join(root, 'wrangler.toml')
    const fromToml = unstable_getMiniflareWorkerOptions(configPath)
    const { modulesRules: _rules, ...base } = fromToml.workerOptions as typeof fromToml.workerOptions & { modulesRules?: unknown }
    // wrangler.toml's [vars] only: wrangler also reads the project's .dev.vars, but secrets come from
    // the caller (npm start: its secrets file; tests: their own), never from a file they did not name.
    const tomlVars = (unstable_readConfig({ config: configPath }).vars ?? {}) as Record<string, unknown>
    base.bindings = Object.fromEntries(Object.keys(tomlVars).map(k => [k, (base.bindings as Record<string, unknown>)[k]]))
    const crons = (base.cronTriggers ?? []) as string[]
    const onLog = opts.onLog ?? ((_level: string, message: string) => process.stderr.write(`${message}\n`))
    const log = (level: string, message: string) => {
      // The entry's request lines (LOG_REQUESTS=1) go to stdout, as a server's access log does.
      if (message.startsWith('lm:request ')) process.stdout.write(`${message.slice(11)}\n`)
      else onLog(level, message)
    }
    const options = (bindings: Record<string, string>) => convertV4MiniflareOptions({
      host: '127.0.0.1',
      port: 0,
      resourcePersistencePath: join(persistTo, 'v3'),
      enableDevRegistry: false,
      logRequests: false,
      ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
      handleStructuredLogs: ({ level, message }: { level: string, message: string }) => log(level, message),
      workers: [{
        // env.DB: the lean local D1 on the same file as Miniflare's D1 (./lean-d1.ts), one RPC hop per call.
        ...withLeanD1(base),
        name: WORKER_NAME,
        modulesRoot: dir,
        modules,
        // One isolate serves everything here, so the rate limiter needs one instance per kind, not
        // Cloudflare's 16: each instance is a SQLite file whose commits cost an fsync (docs/rate-limits.md).
        bindings: { ...(base.bindings as Record<string, unknown>), RATE_LIMIT_SHARDS: '1', ...bindings },
        unsafeDirectSockets: [
          // The public port: workerd itself, the edge's rules in the `served` entrypoint.
          { host, port: opts.port, entrypoint: 'served' },
          { host: '127.0.0.1', port: 0, entrypoint: 'control' },
          ...(opts.innerSockets
            ? [
                // Proxy style (absolute-form targets): `dispatch` sends any URL, the worker sees it.
                { host: '127.0.0.1', port: 0, entrypoint: 'inner', proxy: true },
                // The bench's bare-workerd row: the same bundle, nothing in front.
                { host: '127.0.0.1', port: 0, entrypoint: 'bare' },
              ]
            : []),
        ],
      }],
    } as Parameters<typeof convertV4MiniflareOptions>[0])
    useWorkerdLauncher()
    noCfBlobHeader()
    mf = new Miniflare(options(opts.bindings ?? {}))
    try {
      await mf.ready
    }
    catch (error) {
      throw new Error(`workerd did not start (${error instanceof Error ? error.message : String(error)}); is ${host}:${opts.port} free?`, { cause: error })
    }
    const socketUrl = async (entrypoint: string) => (await mf!.unsafeGetDirectURL(WORKER_NAME, entrypoint)).href.replace(/\/$/, '')
    const controlUrl = await socketUrl('control')
    const control = async (path: string) => {
      const res = await fetch(`${controlUrl}${path}`, { headers: { 'x-lm-control': controlToken } })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`control ${path}: ${res.status}`)
    }
    await applyD1Migrations((await mf.getBindings<{ DB: D1Database }>()).DB, join(root, 'db/migrations'))
    // Requests that arrived meanwhile were held by the entry; they run now.
    await control('/ready')
    const scheduled = (cron: string) => control(`/scheduled?cron=${encodeURIComponent(cron)}`)

    // wrangler's local runtime fires no Cron Triggers: fire them here at each matching minute.
    let timer: NodeJS.Timeout | undefined
    if (opts.cron) {
      let lastMinute = Math.floor(Date.now() / 60_000)
      timer = setInterval(() => {
        const now = new Date()
        const minute = Math.floor(now.getTime() / 60_000)
        if (minute === lastMinute) return
        lastMinute = minute
        for (const cron of crons.filter(c => cronMatches(c, now))) {
          scheduled(cron).catch(error => onLog('error', `cron ${cron} failed: ${error instanceof Error ? error.message : String(error)}`))
        }
      }, 1000)
      timer.unref()
    }

    const runningMf = mf
    const publicPort = Number(new URL(await socketUrl('served')).port)
    const innerUrl = opts.innerSockets ? await socketUrl('inner') : undefined
    const directUrl = opts.innerSockets ? await socketUrl('bare') : undefined
    let dispatcher: Pool | undefined
    let closing: Promise<void> | undefined
    return {
      url: shownUrl(host, publicPort),
      directUrl,
      miniflare: runningMf,
      dispatch: async (target, init = {}) => {
        if (!innerUrl) throw new Error('dispatch needs the server started with innerSockets')
        const res = await (dispatcher ??= new Pool(innerUrl)).request({ path: new URL(target).href, method: (init.method ?? 'GET') as 'GET', headers: { 'host': new URL(target).host, 'cf-connecting-ip': '127.0.0.1', 'x-forwarded-proto': new URL(target).protocol.slice(0, -1), ...init.headers }, body: init.body })
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) for (const one of [v ?? []].flat()) headers.append(k, one)
        const buf = await res.body.arrayBuffer()
        return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : buf, { status: res.statusCode, headers })
      },
      alive: () => control('/ping').then(() => true, () => false),
      crons,
      scheduled,
      reconfigure: async (bindings) => {
        await runningMf.setOptions(options(bindings))
        // A fresh isolate holds requests until told the database is ready (it is: same state).
        await control('/ready')
      },
      drain: () => control('/drain'),
      close: () => (closing ??= (async () => {
        if (timer) clearInterval(timer)
        // New requests get a 503 from here on; in-flight ones and their waitUntil work (batched
        // event writes, webhook first attempts) finish, then the rate limiter saves its counts.
        await control('/drain').catch(() => {})
        await Promise.race([control('/idle?save'), new Promise(r => setTimeout(r, 30_000).unref())]).catch(() => {})
        await dispatcher?.close().catch(() => {})
        await runningMf.dispose()
        releaseLock()
      })()),
    }
  }
  catch (error) {
    await mf?.dispose().catch(() => {})
    releaseLock()
    throw error
  }
}
