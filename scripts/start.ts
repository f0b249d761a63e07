/**
 * `npm start`: build if needed, create secrets and a first admin on first run, migrate the local D1,
 * then serve the worker with the self-hosted server (scripts/lib/server.ts: workerd through
 * Miniflare, no wrangler dev proxy) and run its cron schedule. docs/self-hosting.md.
 *   PORT (8787), HOST (127.0.0.1), TRUST_PROXY_HEADER, LOG_REQUESTS=1, LM_PERSIST_TO, LM_SECRETS_FILE (.dev.vars),
 *   LM_ADMIN_EMAIL, LM_ADMIN_PASSWORD
 */
import { join, resolve } from 'node:path'
import { createDB } from '../db/client'
import type { AppEnv } from '../server/env'
import { CLI_PRINCIPAL } from '../server/services/authz'
import { offRequestContext } from '../server/services/context'
import { countUsers, createUser } from '../server/services/users'
import { ensureBuild } from './lib/build'
import { checkDotenv, ensureSecretsFile, readDotenv } from './lib/dev-vars'
import { startServer } from './lib/server'

const ROOT = resolve(import.meta.dirname, '..')
const ADMIN_EMAIL = process.env.LM_ADMIN_EMAIL || 'admin@example.com'
/** Where the local D1 lives (wrangler --persist-to); default .wrangler/state, like `wrangler dev`. */
const PERSIST_TO = process.env.LM_PERSIST_TO ? resolve(process.env.LM_PERSIST_TO) : undefined

function step(msg: string) {
  console.log(`\x1b[36m›\x1b[0m ${msg}`)
}

function portFrom(value: string | undefined): number {
  const port = Number(value ?? 8787)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number (0-65535), not ${JSON.stringify(value)}`)
  return port
}

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 22) throw new Error(`Node 22 or newer is required (this is ${process.version})`)
  const port = portFrom(process.env.PORT)

  ensureBuild(ROOT, step)

  const devVarsPath = process.env.LM_SECRETS_FILE ? resolve(process.env.LM_SECRETS_FILE) : join(ROOT, '.dev.vars')
  checkDotenv(devVarsPath)
  const vars = ensureSecretsFile(devVarsPath)
  if (vars.created) step(`Created ${devVarsPath} with fresh random secrets.`)
  else if (vars.added.length) step(`Added ${vars.added.join(', ')} to ${devVarsPath}.`)
  const devVars = Object.fromEntries(readDotenv(devVarsPath))
  const setting = (name: string) => process.env[name] ?? devVars[name]

  step('Starting workerd and applying migrations to the local D1…')
  const server = await startServer({
    root: ROOT,
    port,
    host: process.env.HOST || '127.0.0.1',
    persistTo: PERSIST_TO,
    // A local install: webhooks may go to localhost receivers (docs/webhooks.md).
    bindings: { ...devVars, WEBHOOKS_ALLOW_LOCALHOST: 'true' },
    trustProxyHeader: setting('TRUST_PROXY_HEADER'),
    logRequests: setting('LOG_REQUESTS') === '1',
    cron: true,
    lock: true,
  })

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      console.error(`npm start: ${signal} again, exiting now`)
      process.exit(1)
    }
    stopping = true
    step(`${signal}: finishing in-flight requests and background work…`)
    server.close().then(() => process.exit(0), (error: unknown) => {
      console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`)
      process.exit(1)
    })
  }
  // Miniflare's own exit hook ends workerd at once on these signals: take them over, so in-flight
  // requests and their waitUntil work finish first (its 'exit' hook stays, for a crash).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) if (/^onSignal(Int|Term)$/.test(listener.name)) process.removeListener(signal, listener)
    process.on(signal, () => stop(signal))
  }

  // If workerd itself stops (a crash), exit non-zero so the service manager restarts the whole server.
  let missed = 0
  setInterval(() => {
    void server.alive().then((alive) => {
      if (alive || stopping) return void (missed = 0)
      if (++missed < 2) return
      console.error('npm start: workerd stopped answering (its control socket refuses connections); exiting')
      process.exit(1)
    })
  }, 5_000).unref()

  const env = await server.miniflare.getBindings<AppEnv>()
  const { ctx, settle } = offRequestContext({ db: createDB(env.DB), env, principal: CLI_PRINCIPAL, audit: { ip: '', userAgent: 'lm-cli', country: null } })
  if ((await countUsers(ctx)) === 0) {
    const { user, generatedPassword } = await createUser(ctx, { email: ADMIN_EMAIL, name: 'Admin', role: 'admin', password: process.env.LM_ADMIN_PASSWORD || undefined })
    await settle()
    console.log('\n  \x1b[1mFirst run: created a local admin\x1b[0m')
    console.log(`    email:    ${user.email}`)
    console.log(`    password: ${generatedPassword ?? '(from LM_ADMIN_PASSWORD)'}`)
    console.log('  Shown once. Change it under Account after signing in.\n')
  }
  const shown = server.url.replace('//127.0.0.1:', '//localhost:')
  step(`Serving on ${shown}${setting('TRUST_PROXY_HEADER') ? ` (client IP from ${setting('TRUST_PROXY_HEADER')})` : ''}. Ctrl+C stops.`)
}

main().catch((error: unknown) => {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
