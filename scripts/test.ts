/**
 * `npm test`: everything the project checks — the SDK build, lint, the OpenAPI document's lint, typecheck, then unit, integration
 * (the built worker in workerd with a real local D1), SDK (its built package against that worker) and
 * end-to-end tests (headless Chromium). E2E is required:
 * a missing browser fails the run instead of skipping it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CHROMIUM } from '../tests/support/browser'
import { ensureBuild } from './lib/build'

const ROOT = resolve(import.meta.dirname, '..')
const env = { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, NUXT_TELEMETRY_DISABLED: '1', WRANGLER_SEND_METRICS: 'false' }
const timings: string[] = []

function run(label: string, cmd: string, args: string[]) {
  const started = Date.now()
  console.log(`\n\x1b[1m▶ ${label}\x1b[0m`)
  const r = spawnSync(cmd, args, { cwd: ROOT, env, stdio: 'inherit' })
  timings.push(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (r.status !== 0) {
    console.error(`\n✖ ${label} failed`)
    process.exit(r.status ?? 1)
  }
}

if (!existsSync(CHROMIUM)) {
  console.error(`✖ Chromium not found at ${CHROMIUM}. End-to-end tests are required: apt-get install -y chromium`)
  process.exit(1)
}

const started = Date.now()
ensureBuild(ROOT, msg => console.log(msg))
timings.push(`build check: ${((Date.now() - started) / 1000).toFixed(1)} s`)
// The client SDK's package (sdk/dist, ESM + .d.ts): its tests run the built files, and typecheck reads them.
run('sdk build', process.execPath, ['sdk/scripts/build.mjs'])
run('lint', 'npx', ['eslint', '.'])
// The generated OpenAPI document against a third-party linter (redocly.yaml; docs/openapi.md).
run('openapi lint', 'npx', ['tsx', 'scripts/lint-openapi.ts'])
run('typecheck', 'npx', ['nuxt', 'typecheck'])

const report = join(mkdtempSync(join(tmpdir(), 'lm-test-')), 'vitest.json')
const vitestStarted = Date.now()
const r = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { cwd: ROOT, env, stdio: 'inherit' })
timings.push(`vitest: ${((Date.now() - vitestStarted) / 1000).toFixed(1)} s`)

let passed = 0
let failed = 0
let skipped = 0
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number, numFailedTests: number, numPendingTests: number, numTodoTests: number }
  passed = json.numPassedTests
  failed = json.numFailedTests
  skipped = json.numPendingTests + json.numTodoTests
}
console.log(`\n${timings.join(' · ')}`)
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(r.status !== 0 || failed > 0 || passed === 0 || skipped > 0 ? 1 : 0)
