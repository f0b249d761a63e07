/**
 * Start and stop the built worker for the benchmark: `startWorker` serves it as `npm start` does (the
 * self-hosted server, bench/lib/serve.ts); `startWranglerDev` with `wrangler dev`, for the side-by-side rows.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { wranglerDevArgs, wranglerEnv, type DevOptions } from '../../scripts/lib/wrangler'

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    }).on('error', reject)
  })
}

export interface RunningWorker {
  url: string
  /** The self-hosted server only: the worker's own loopback socket, nothing in front (the bare-workerd row). */
  directUrl?: string
  /** Root of the runtime's process tree (npx → wrangler's Node proxy → workerd). */
  pid: number
  output: () => string
  stop: () => Promise<void>
}

export async function startWranglerDev(root: string, opts: Omit<DevOptions, 'port'>, timeoutMs = 120_000): Promise<RunningWorker> {
  const port = await freePort()
  const child: ChildProcess = spawn('npx', wranglerDevArgs({ ...opts, port }), {
    cwd: root,
    env: wranglerEnv(),
    detached: true, // own process group: stop() ends npx, wrangler and workerd together
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => { output = (output + d).slice(-200_000) })
  child.stderr!.on('data', (d) => { output = (output + d).slice(-200_000) })
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(r => child.once('exit', r))
    try {
      process.kill(-child.pid!, 'SIGTERM')
    }
    catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      }
      catch { /* gone */ }
    }, 5000)
    await exited
    clearTimeout(timer)
  }
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`)
    if (Date.now() - started > timeoutMs) {
      await stop()
      throw new Error(`wrangler dev not ready after ${timeoutMs / 1000} s:\n${output}`)
    }
    if (/Ready on http/.test(output)) {
      try {
        const res = await fetch(`${url}/api/health`)
        if (res.ok) break
      }
      catch { /* not yet */ }
    }
    await new Promise(r => setTimeout(r, 200))
  }
  return { url, pid: child.pid!, output: () => output, stop }
}

/** The self-hosted server (scripts/lib/server.ts) in a child process, on `persistTo` with `envFile`'s secrets. */
export async function startWorker(root: string, opts: Omit<DevOptions, 'port'>, timeoutMs = 120_000): Promise<RunningWorker> {
  if (!opts.persistTo || !opts.envFile) throw new Error('startWorker needs persistTo and envFile')
  const child: ChildProcess = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', 'bench/lib/serve.ts', opts.persistTo, opts.envFile, ...Object.entries(opts.vars ?? {}).map(([k, v]) => `${k}=${v}`)], {
    cwd: root,
    env: wranglerEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => { output = (output + d).slice(-200_000) })
  child.stderr!.on('data', (d) => { output = (output + d).slice(-200_000) })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(r => child.once('exit', r))
    try {
      process.kill(-child.pid!, 'SIGTERM')
    }
    catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      }
      catch { /* gone */ }
    }, 10_000)
    await exited
    clearTimeout(timer)
  }
  const started = Date.now()
  for (;;) {
    const m = /^ready (\S+) (\S+)$/m.exec(output)
    if (m) return { url: m[1]!, directUrl: m[2]!, pid: child.pid!, output: () => output, stop }
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`)
    if (Date.now() - started > timeoutMs) {
      await stop()
      throw new Error(`the server was not ready after ${timeoutMs / 1000} s:\n${output}`)
    }
    await new Promise(r => setTimeout(r, 100))
  }
}
