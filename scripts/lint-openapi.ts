/**
 * `npm run lint:openapi`: generate the OpenAPI document (shared/api/openapi.ts) and lint it with
 * Redocly CLI (redocly.yaml). No telemetry, no update check: the linter never needs the network.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { buildOpenApiDocument } from '../shared/api/openapi'

const ROOT = resolve(import.meta.dirname, '..')
const file = join(mkdtempSync(join(tmpdir(), 'lm-openapi-')), 'openapi.json')
writeFileSync(file, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`)
const r = spawnSync('npx', ['redocly', 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'stylish'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
})
process.exit(r.status ?? 1)
