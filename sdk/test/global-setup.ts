import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** The SDK's tests run the built package (sdk/dist): build it when its sources are newer. */
const SDK = resolve(import.meta.dirname, '..')

function newest(dir: string): number {
  return Math.max(...readdirSync(dir).map((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? newest(p) : statSync(p).mtimeMs
  }))
}

export default function setup() {
  const built = join(SDK, 'dist/index.js')
  const sources = Math.max(newest(join(SDK, 'src')), ...['package.json', 'tsconfig.json', 'tsconfig.file.json'].map(f => statSync(join(SDK, f)).mtimeMs))
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return
  console.log('[sdk global-setup] building the SDK…')
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: SDK, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('SDK build failed')
}
