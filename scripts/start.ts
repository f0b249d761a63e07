/**
 * `npm start`: build if needed, migrate the local D1, create secrets and a first admin on first run,
 * then serve the worker with wrangler (workerd) and fire its Cron Triggers locally.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { openPlatform } from '../cli/platform'
import { countUsers, createUser } from '../server/services/users'
import { ensureBuild } from './lib/build'
import { cronMatches, cronsFromWranglerToml } from './lib/cron'
import { ensureDevVars } from './lib/dev-vars'
import { applyMigrations, wranglerDevArgs, wranglerEnv } from './lib/wrangler'

const ROOT = resolve(import.meta.dirname, '..')
const PORT = Number(process.env.PORT || 8787)
const ADMIN_EMAIL = process.env.LM_ADMIN_EMAIL || 'admin@example.com'
/** Where the local D1 lives (wrangler --persist-to); default .wrangler/state, like `wrangler dev`. */
const PERSIST_TO = process.env.LM_PERSIST_TO ? resolve(process.env.LM_PERSIST_TO) : undefined

function step(msg: string) {
  console.log(`\x1b[36m›\x1b[0m ${msg}`)
}

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 22) throw new Error(`Node 22 or newer is required (this is ${process.version})`)

  ensureBuild(ROOT, step)

  const vars = ensureDevVars(ROOT)
  if (vars.created) step('Created .dev.vars with fresh random secrets.')
  else if (vars.added.length) step(`Added ${vars.added.join(', ')} to .dev.vars.`)

  step('Applying migrations to the local D1…')
  applyMigrations(ROOT, PERSIST_TO)

  const platform = await openPlatform({ persistTo: PERSIST_TO })
  try {
    const { ctx, settle } = platform.context()
    if ((await countUsers(ctx)) === 0) {
      const { user, generatedPassword } = await createUser(ctx, { email: ADMIN_EMAIL, name: 'Admin', role: 'admin', password: process.env.LM_ADMIN_PASSWORD || undefined })
      await settle()
      console.log('\n  \x1b[1mFirst run: created a local admin\x1b[0m')
      console.log(`    email:    ${user.email}`)
      console.log(`    password: ${generatedPassword ?? '(from LM_ADMIN_PASSWORD)'}`)
      console.log('  Shown once. Change it under Account after signing in.\n')
    }
  }
  finally {
    await platform.dispose()
  }

  step(`Serving on http://localhost:${PORT}`)
  // A local install: webhooks may go to localhost and private addresses over plain http (docs/webhooks.md).
  const server = spawn('npx', wranglerDevArgs({ port: PORT, persistTo: PERSIST_TO, vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true' } }), {
    cwd: ROOT,
    env: wranglerEnv(),
    stdio: 'inherit',
  })

  // wrangler's local server does not fire Cron Triggers: fire them here at each matching minute
  // (every minute: expiry notices and webhook retries / CLI changes; every 5: housekeeping).
  const crons = cronsFromWranglerToml(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))
  let lastMinute = -1
  const timer = setInterval(() => {
    const now = new Date()
    const minute = Math.floor(now.getTime() / 60_000)
    if (minute === lastMinute) return
    lastMinute = minute
    for (const cron of crons.filter(c => cronMatches(c, now))) {
      fetch(`http://localhost:${PORT}/__scheduled?cron=${encodeURIComponent(cron)}`).catch(() => {})
    }
  }, 5_000)

  const stop = () => {
    clearInterval(timer)
    server.kill('SIGINT')
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  server.on('exit', (code) => {
    clearInterval(timer)
    process.exit(code ?? 0)
  })
}

main().catch((error: unknown) => {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
