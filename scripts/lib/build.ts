import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
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
