import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { createTestHarness } from 'wrangler'
import { createDB } from '../../db/client'
import { generateSigningKey } from '../../scripts/lib/dev-vars'
import type { AppEnv } from '../../server/env'
import { CLI_PRINCIPAL } from '../../server/services/authz'
import { offRequestContext, type Actor } from '../../server/services/context'
import { createUser } from '../../server/services/users'

export const ROOT = resolve(import.meta.dirname, '../..')

/** Fresh secrets per test run, as `npm start` makes for .dev.vars. */
export const TEST_SECRETS = {
  SESSION_SECRET: randomBytes(32).toString('base64url'),
  KEY_HMAC_SECRET: randomBytes(32).toString('base64url'),
  KEY_ENC_SECRET: randomBytes(32).toString('base64url'),
  TOKEN_SIGNING_KEY: generateSigningKey(),
  API_TOKEN_SECRET: randomBytes(32).toString('base64url'),
}

export interface TestWorker {
  url: string
  env: AppEnv
  /** A service context on the worker's own D1, for seeding and inspecting from the test: as the CLI, or as `actor`. */
  context: (actor?: Actor) => ReturnType<typeof offRequestContext>
  admin: { email: string, password: string, id: string }
  scheduled: (cron: string) => Promise<unknown>
  /** Dispatch to the worker with any absolute URL (e.g. https://lm.example.com/…): the worker sees that URL. */
  dispatch: (url: string, init?: { method?: string, headers?: Record<string, string>, body?: string }) => Promise<Response>
  /** Reload the worker with other secrets/vars (added to the start options), keeping its D1: e.g. a signing-key rotation. */
  reconfigure: (changes: { secrets?: Record<string, string>, vars?: Record<string, string> }) => Promise<void>
  /** The worker's console output so far (the harness captures it). */
  logs: () => string[]
  close: () => Promise<void>
}

/**
 * The real built worker (.output, as `npm start` serves it) in workerd through wrangler's test
 * harness, with a fresh local D1, the real migrations applied, and a first admin seeded by the
 * same service code the CLI uses. No mocks.
 */
export async function startWorker(opts: { vars?: Record<string, string>, secrets?: Record<string, string> } = {}): Promise<TestWorker> {
  process.env.WRANGLER_SEND_METRICS = 'false'
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
  const server = createTestHarness({
    root: ROOT,
    workers: [{
      configPath: './wrangler.toml',
      secrets: { ...TEST_SECRETS, ...opts.secrets },
      // No DNS-over-HTTPS lookups to the internet from tests: those that check them start a resolver on loopback.
      vars: { WEBHOOK_DNS_RESOLVER: 'off', ...opts.vars },
    }],
  })
  const { url } = await server.listen()
  const worker = server.getWorker<AppEnv>()
  await worker.applyD1Migrations('DB')
  // Reassigned by reconfigure(): the harness's stubs to the old runtime are unusable after an update.
  let env = await worker.getEnv()
  const context = (actor?: Actor) => offRequestContext({
    db: createDB(env.DB),
    env,
    ...(actor ? { actor } : { principal: CLI_PRINCIPAL }),
    audit: { ip: '', userAgent: 'test', country: null },
  })
  const admin = { email: 'admin@example.com', password: `admin-${randomBytes(9).toString('base64url')}`, id: '' }
  const { ctx } = context()
  admin.id = (await createUser(ctx, { email: admin.email, name: 'Admin', role: 'admin', password: admin.password })).user.id
  const handle: TestWorker = {
    url: url.toString().replace(/\/$/, ''),
    env,
    context,
    admin,
    scheduled: cron => server.getWorker().scheduled({ cron, scheduledTime: new Date() }),
    dispatch: async (target, init) => (await server.fetch(target, init)) as unknown as Response,
    reconfigure: async (changes) => {
      await server.update(current => ({
        ...current,
        workers: current.workers.map((wk, i) => (i === 0 ? { ...wk, secrets: { ...TEST_SECRETS, ...opts.secrets, ...changes.secrets }, vars: { ...opts.vars, ...changes.vars } } : wk)),
      }))
      handle.env = env = await server.getWorker<AppEnv>().getEnv()
      const now = (await server.listen()).url.toString().replace(/\/$/, '')
      if (now !== handle.url) throw new Error(`the worker moved from ${handle.url} to ${now} on reconfigure`)
    },
    logs: () => server.getLogs().map(l => l.message),
    close: () => server.close(),
  }
  return handle
}
