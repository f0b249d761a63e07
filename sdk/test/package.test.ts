import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedLicense, seedOwner } from '../../tests/support/licenses'
import { run } from '../../tests/support/run'
import { startWorker, type TestWorker } from '../../tests/support/worker'

/** The package as published (npm pack), and the README's example run as a user would run it. */
const SDK = resolve(import.meta.dirname, '..')
let w: TestWorker
const dir = mkdtempSync(join(tmpdir(), 'lm-sdk-pkg-'))

beforeAll(async () => { w = await startWorker() })
afterAll(async () => {
  await w?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('npm pack', () => {
  it('ships dist (ESM + .d.ts for both entry points), the README and package.json — nothing else; depends on jose only', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: SDK, encoding: 'utf8' })
    const [pack] = JSON.parse(out) as [{ name: string, files: { path: string }[] }]
    expect(pack.name).toBe('@license-manager/client')
    const files = pack.files.map(f => f.path).sort()
    expect(files).toEqual(['README.md', 'dist/client.d.ts', 'dist/client.js', 'dist/file.d.ts', 'dist/file.js', 'dist/http.d.ts', 'dist/http.js', 'dist/index.d.ts', 'dist/index.js', 'dist/storage.d.ts', 'dist/storage.js', 'dist/token.d.ts', 'dist/token.js', 'package.json'])
    const pkg = JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, type: string, exports: Record<string, { types: string, default: string }> }
    expect(Object.keys(pkg.dependencies)).toEqual(['jose'])
    expect(pkg.type).toBe('module')
    for (const entry of Object.values(pkg.exports).filter(e => typeof e === 'object')) {
      expect(files).toContain(entry.types.replace(/^\.\//, ''))
      expect(files).toContain(entry.default.replace(/^\.\//, ''))
    }
  })
})

describe('the README example (examples/cli.mjs)', () => {
  it('verifies online (activating the device first), then offline once the server is gone — on Node 22 and on the machine\'s Node 20', async () => {
    const owner = await seedOwner(w)
    const { key } = await seedLicense(w, owner.id, { maxDevices: 1, expiresIn: '30d' })
    // This machine's older Node (Node 20 at /usr/bin/node on the project's machines), when there is one.
    // LM_EXTRA_NODE: one more node binary to try (e.g. a Node 18 installed with `npm i --prefix /tmp/n18 node@18`).
    const nodes = [process.execPath, ...(existsSync('/usr/bin/node') && resolve('/usr/bin/node') !== resolve(process.execPath) ? ['/usr/bin/node'] : []), ...(process.env.LM_EXTRA_NODE ? [process.env.LM_EXTRA_NODE] : [])]
    const example = (node: string) => run(node, ['examples/cli.mjs', key], { cwd: SDK, env: { ...process.env, LM_URL: w.url, LM_CACHE: join(dir, `${node.replace(/\W/g, '_')}.json`) }, timeout: 60_000 })
    for (const node of nodes) {
      const r = await example(node)
      expect(r.stdout.trim(), `${node}: ${r.stderr}`).toBe('Licensed')
      expect(r.status).toBe(0)
    }
    await w.close()
    for (const node of nodes) {
      const r = await example(node)
      expect(r.stdout.trim(), `${node}: ${r.stderr}`).toMatch(/^Licensed \(offline, until \d{4}-\d\d-\d\dT/)
      expect(r.status).toBe(0)
    }
    const versions = nodes.map(n => execFileSync(n, ['--version'], { encoding: 'utf8' }).trim())
    console.log(`example ran on ${versions.join(', ')}`)
  })
})
