/** The built worker's size as Cloudflare would receive it: `wrangler deploy --dry-run --outdir` (as tests/integration/deploy.test.ts). */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { wranglerEnv } from '../../scripts/lib/wrangler'

export function workerSize(root: string): { rawBytes: number, gzipBytes: number, files: number } {
  const out = mkdtempSync(join(tmpdir(), 'lm-bench-dry-run-'))
  try {
    const r = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], { cwd: root, encoding: 'utf8', env: wranglerEnv(), timeout: 180_000 })
    if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${r.stdout}${r.stderr}`)
    const files = readdirSync(out).filter(f => /\.(m?js|wasm)$/.test(f))
    return {
      rawBytes: files.reduce((n, f) => n + statSync(join(out, f)).size, 0),
      gzipBytes: files.reduce((n, f) => n + gzipSync(readFileSync(join(out, f))).length, 0),
      files: files.length,
    }
  }
  finally {
    rmSync(out, { recursive: true, force: true })
  }
}
