import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../support/worker'

describe('deploy', () => {
  it('wrangler deploy --dry-run bundles the worker within the size limits', () => {
    const out = mkdtempSync(join(tmpdir(), 'lm-dry-run-'))
    try {
      const r = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], {
        cwd: ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, timeout: 120_000,
      })
      expect(r.status, r.stdout + r.stderr).toBe(0)
      expect(r.stdout + r.stderr).toMatch(/--dry-run: exiting now/)
      expect(r.stdout).toMatch(/env\.DB \(license-manager\)\s+D1 Database/)
      const files = readdirSync(out).filter(f => /\.(m?js|wasm)$/.test(f))
      const raw = files.reduce((n, f) => n + statSync(join(out, f)).size, 0)
      const gzip = files.reduce((n, f) => n + gzipSync(readFileSync(join(out, f))).length, 0)
      console.log(`worker bundle: ${(raw / 1024).toFixed(0)} KiB raw, ${(gzip / 1024).toFixed(0)} KiB gzip`)
      expect(gzip).toBeLessThan(3 * 1024 * 1024) // Workers free plan limit
    }
    finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
