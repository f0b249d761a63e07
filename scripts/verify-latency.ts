/**
 * Verify latency against a running `npm start`: N sequential calls (one connection, like an app
 * checking its license), median and p99. Creates its license through the service layer on the same
 * local D1 and .dev.vars secrets that `npm start` serves.
 *   npx tsx scripts/verify-latency.ts [--url http://localhost:8787] [--n 1000]
 */
import { openPlatform } from '../cli/platform'
import { createLicenseSchema } from '../shared/schemas/licenses'
import { createLicense } from '../server/services/licenses'
import { createUser, findUserByEmail } from '../server/services/users'

const args = process.argv.slice(2)
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback
}
const url = opt('url', `http://localhost:${process.env.PORT || 8787}`)
const n = Number(opt('n', '1000'))

const platform = await openPlatform()
const { ctx, settle } = platform.context()
const owner = await findUserByEmail(ctx, 'latency@example.com')
  ?? (await createUser(ctx, { email: 'latency@example.com', name: 'Latency probe', role: 'user' })).user
const { key } = await createLicense(ctx, owner.id, createLicenseSchema.parse({ label: 'latency probe', expiresIn: '1d', metadata: { tier: 'probe' } }))
await settle()
await platform.dispose()

async function run(label: string, body: unknown) {
  const times: number[] = []
  let code = ''
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    const res = await fetch(`${url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    code = ((await res.json()) as { code: string }).code
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2)
  process.stdout.write(`${label.padEnd(22)} code=${code.padEnd(10)} n=${n}  median ${q(0.5)} ms  p99 ${q(0.99)} ms  max ${times.at(-1)!.toFixed(2)} ms\n`)
}

await run('verify (valid key)', { key })
await run('verify (unknown key)', { key: 'LM-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA' })
