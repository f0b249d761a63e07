import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createDB } from '../../db/client'
import { generateSigningKey } from '../../scripts/lib/dev-vars'
import { startServer } from '../../scripts/lib/server'
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
  /** Its state folder (the local D1 under v3/d1). */
  persistTo: string
  env: AppEnv
  /** A service context on the worker's own D1, for seeding and inspecting from the test: as the CLI, or as `actor`. */
  context: (actor?: Actor) => ReturnType<typeof offRequestContext>
  admin: { email: string, password: string, id: string }
  scheduled: (cron: string) => Promise<unknown>
  /** Dispatch to the worker with any absolute URL (e.g. https://lm.example.com/…): the worker sees that URL. */
  dispatch: (url: string, init?: { method?: string, headers?: Record<string, string>, body?: string }) => Promise<Response>
  /** Reload the worker with other secrets/vars (added to the start options), keeping its D1: e.g. a signing-key rotation. */
  reconfigure: (changes: { secrets?: Record<string, string>, vars?: Record<string, string> }) => Promise<void>
  /** The worker's console output so far. */
  logs: () => string[]
  /** Stop taking requests as a graceful stop does first (scripts/lib/server.ts `drain`); close() still needed. */
  drain: () => Promise<void>
  close: () => Promise<void>
}

/**
 * The real built worker (.output) served exactly as `npm start` serves it (scripts/lib/server.ts:
 * workerd through Miniflare, its public socket's entry setting the client IP) on a fresh local D1 in a
 * temporary state folder, the real migrations applied, and a first admin seeded by the same service
 * code the CLI uses. No mocks. Tests simulate many clients, so by default the server trusts the
 * client-sent CF-Connecting-IP (`TRUST_PROXY_HEADER=CF-Connecting-IP`); `trustProxyHeader: null`
 * serves as `npm start` does without it.
 */
export async function startWorker(opts: { vars?: Record<string, string>, secrets?: Record<string, string>, trustProxyHeader?: string | null, persistTo?: string, seedAdmin?: boolean, /** Another checkout's built worker (bench/ui-ab.ts); default this one. */ root?: string } = {}): Promise<TestWorker> {
  // A state folder of its own (removed on close), or the given one (kept: e.g. a restart on the same data).
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), 'lm-test-state-'))
  const captured: string[] = []
  // No DNS-over-HTTPS lookups to the internet from tests: those that check them start a resolver on loopback.
  const bindingsFor = (secrets?: Record<string, string>, vars?: Record<string, string>) => ({ WEBHOOK_DNS_RESOLVER: 'off', ...vars, ...TEST_SECRETS, ...secrets })
  const server = await startServer({
    root: opts.root ?? ROOT,
    port: 0,
    persistTo,
    bindings: bindingsFor(opts.secrets, opts.vars),
    trustProxyHeader: opts.trustProxyHeader === null ? undefined : (opts.trustProxyHeader ?? 'CF-Connecting-IP'),
    onLog: (_level, message) => void captured.push(message),
    lock: true,
    innerSockets: true,
  })
  let env = await server.miniflare.getBindings<AppEnv>()
  const context = (actor?: Actor) => offRequestContext({
    db: createDB(env.DB),
    env,
    ...(actor ? { actor } : { principal: CLI_PRINCIPAL }),
    audit: { ip: '', userAgent: 'test', country: null },
  })
  const admin = { email: 'admin@example.com', password: `admin-${randomBytes(9).toString('base64url')}`, id: '' }
  const { ctx } = context()
  if (opts.seedAdmin !== false) admin.id = (await createUser(ctx, { email: admin.email, name: 'Admin', role: 'admin', password: admin.password })).user.id
  const handle: TestWorker = {
    url: server.url,
    persistTo,
    env,
    context,
    admin,
    scheduled: cron => server.scheduled(cron),
    dispatch: (target, init) => server.dispatch(target, init),
    reconfigure: async (changes) => {
      await server.reconfigure(bindingsFor({ ...opts.secrets, ...changes.secrets }, { ...opts.vars, ...changes.vars }))
      handle.env = env = await server.miniflare.getBindings<AppEnv>()
    },
    logs: () => [...captured],
    drain: () => server.drain(),
    close: async () => {
      await server.close()
      if (!opts.persistTo) rmSync(persistTo, { recursive: true, force: true })
    },
  }
  return handle
}
