import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Inputs of `nuxt build`: if any is newer than the built worker, the build is stale. */
const SOURCES = ['app.vue', 'app.config.ts', 'nuxt.config.ts', 'package-lock.json', 'pages', 'components', 'composables', 'layouts', 'middleware', 'plugins', 'assets', 'public', 'server', 'shared', 'db/schema', 'db/client.ts']
const OUTPUT = '.output/server/index.mjs'

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

export function buildIsStale(root: string): boolean {
  const out = join(root, OUTPUT)
  if (!existsSync(out)) return true
  const built = statSync(out).mtimeMs
  return SOURCES.some(s => newestMtime(join(root, s)) > built)
}

/** Build the worker with Nuxt (Nitro preset cloudflare-module) when it is missing or stale. */
export function ensureBuild(root: string, log: (s: string) => void = console.log): boolean {
  if (!buildIsStale(root)) return false
  // One build at a time (parallel test runs share .output): a directory is an atomic lock.
  const lock = join(root, '.output.lock')
  const waitUntil = Date.now() + 10 * 60_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    }
    catch {
      if (Date.now() > waitUntil) throw new Error(`${lock} held for 10 minutes: remove it if no build is running`)
      spawnSync('sleep', ['1'])
    }
  }
  try {
    if (!buildIsStale(root)) return false
    return build(root, log)
  }
  finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

function build(root: string, log: (s: string) => void): boolean {
  log('Building the worker (nuxt build)…')
  const started = Date.now()
  const result = spawnSync('npx', ['nuxt', 'build'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NUXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
  })
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr)
    throw new Error('nuxt build failed')
  }
  log(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.`)
  return true
}
