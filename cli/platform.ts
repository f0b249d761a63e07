import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import type { D1Database } from '@cloudflare/workers-types'
import { parse as parseToml } from 'smol-toml'
import { createDB } from '../db/client'
import { readDotenv } from '../scripts/lib/dev-vars'
import type { AppEnv } from '../server/env'
import { CLI_PRINCIPAL } from '../server/services/authz'
import { offRequestContext } from '../server/services/context'

export const ROOT = resolve(import.meta.dirname, '..')

export interface PlatformOptions {
  /** Use the deployed D1 (wrangler remote bindings) instead of the local SQLite file. */
  remote?: boolean
  /** Local state folder (wrangler --persist-to); default .wrangler/state like `wrangler dev`. */
  persistTo?: string
  /**
   * Read secrets (KEY_HMAC_SECRET, …) from this dotenv file instead of the project's .dev.vars — as
   * `wrangler dev --env-file` does — so the CLI and a server can be given the same ones.
   */
  secretsFile?: string
}

/** A TOML text without the tables (and arrays of tables) whose header is one of `headers`. */
export function withoutTomlTables(toml: string, headers: string[]): string {
  let skipping = false
  return toml.split('\n').filter((line) => {
    const t = line.trim()
    if (t.startsWith('[')) skipping = headers.includes(t)
    return !skipping
  }).join('\n')
}

/** What the CLI needs of wrangler.toml: its [vars] and the D1 binding DB's database id. */
export function localConfig(tomlText: string): { compatibilityDate: string, vars: Record<string, unknown>, d1Id: string } {
  const config = parseToml(tomlText) as {
    compatibility_date?: string
    vars?: Record<string, unknown>
    d1_databases?: { binding: string, database_id?: string, preview_database_id?: string }[]
  }
  const d1 = config.d1_databases?.find(db => db.binding === 'DB')
  if (!d1) throw new Error('wrangler.toml has no [[d1_databases]] binding "DB"')
  // The id wrangler gives Miniflare's local D1 (its d1DatabaseEntry): the file's name is derived from it.
  const d1Id = d1.preview_database_id ?? d1.database_id ?? d1.binding
  return { compatibilityDate: config.compatibility_date ?? '2026-11-01', vars: config.vars ?? {}, d1Id }
}

/** The project's .dev.vars, or the given file only; absent .dev.vars: no secrets (as wrangler's envFiles). */
function readSecrets(secretsFile: string | undefined): Record<string, string> {
  const file = secretsFile ?? join(ROOT, '.dev.vars')
  if (!existsSync(file)) return {}
  // The same reader as npm start's (scripts/start.ts), so the CLI and the server get the same values.
  const values = Object.fromEntries(readDotenv(file))
  process.stderr.write(`Using secrets defined in ${relative(process.cwd(), file)}\n`)
  return values
}

/**
 * The local D1 without wrangler: Miniflare (the library under `wrangler dev` and npm start) running
 * a one-line worker whose only binding is Miniflare's own local D1 `DB`, kept under <state>/v3 with the
 * database id of wrangler.toml — the very SQLite file npm start (scripts/lib/server.ts, lean D1 on
 * the same file) serves: <state>/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite (scripts/lib/local-d1.ts).
 * The service code runs in this Node process on that binding; env is wrangler.toml's [vars] and the secrets.
 * No migrations are applied (npm start and `npm run db:migrate` do that).
 */
async function openLocal(persistTo: string, secretsFile: string | undefined) {
  const { compatibilityDate, vars, d1Id } = localConfig(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))
  const secrets = readSecrets(secretsFile)
  // require(), not import(): Miniflare is one 6 MB CommonJS file, which Node's ESM loader (with tsx's
  // hooks) takes about a second longer to load than require does.
  const { Miniflare, convertV4MiniflareOptions } = createRequire(import.meta.url)('miniflare') as typeof import('miniflare')
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    resourcePersistencePath: join(persistTo, 'v3'),
    enableDevRegistry: false,
    logRequests: false,
    // Offline: no fetch of Cloudflare's Request.cf sample.
    cf: false,
    workers: [{
      name: 'lm-cli',
      modules: true,
      script: 'export default { fetch: () => new Response(null, { status: 404 }) }',
      compatibilityDate,
      d1Databases: { DB: d1Id },
    }],
  } as Parameters<typeof convertV4MiniflareOptions>[0]))
  try {
    const { DB } = await mf.getBindings<{ DB: D1Database }>()
    // [vars] then the secrets (a secret of the same name wins, as with wrangler), then the local install's setting.
    const env = { ...vars, ...secrets, DB, WEBHOOKS_ALLOW_LOCALHOST: 'true' } as AppEnv
    return { env, dispose: () => mf.dispose() }
  }
  catch (error) {
    await mf.dispose().catch(() => {})
    throw error
  }
}

/** With --remote: wrangler's platform proxy with remote bindings (the deployed D1). */
async function openRemote(secretsFile: string | undefined) {
  // A temporary copy of the config: absolute paths, no Durable Objects (the CLI uses none, and
  // wrangler's proxy cannot run a class exported by the built worker), the D1 binding marked remote.
  const toml = withoutTomlTables(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'), ['[[durable_objects.bindings]]', '[[migrations]]'])
    .replace(/^main\s*=.*$/m, `main = "${join(ROOT, '.output/server/index.mjs')}"`)
    .replace(/^directory\s*=.*$/m, `directory = "${join(ROOT, '.output/public')}"`)
    .replace(/^migrations_dir\s*=.*$/m, `migrations_dir = "${join(ROOT, 'db/migrations')}"\nremote = true`)
  const configDir = mkdtempSync(join(tmpdir(), 'lm-cli-'))
  const configPath = join(configDir, 'wrangler.toml')
  writeFileSync(configPath, toml)
  // Offline-friendly: no fetch of Cloudflare's Request.cf sample (miniflare uses a placeholder).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
  try {
    // Loaded on demand: wrangler is heavy, and only --remote needs it.
    const { getPlatformProxy } = await import('wrangler')
    const proxy = await getPlatformProxy<AppEnv>({
      configPath,
      persist: false,
      remoteBindings: true,
      // The given file only, never the local .dev.vars: local secrets would compute wrong digests for
      // the deployed licenses (docs/cli.md). The config copy's folder holds no .dev.vars either.
      envFiles: secretsFile ? [secretsFile] : [],
    })
    return {
      env: proxy.env,
      dispose: async () => {
        await proxy.dispose()
        rmSync(configDir, { recursive: true, force: true })
      },
    }
  }
  catch (error) {
    rmSync(configDir, { recursive: true, force: true })
    throw error
  }
}

/**
 * The D1 binding the CLI works on: the same local D1 that `npm start` serves (<state>/v3/d1), through
 * Miniflare directly; or with --remote the deployed database, through wrangler's platform proxy.
 */
export async function openPlatform(opts: PlatformOptions = {}) {
  const secretsFile = opts.secretsFile === undefined ? undefined : resolve(opts.secretsFile)
  // A missing secrets file would mean other secrets (wrangler skips one silently): refuse.
  if (secretsFile && !existsSync(secretsFile)) throw new Error(`no such secrets file: ${opts.secretsFile}`)
  const { env, dispose } = opts.remote
    ? await openRemote(secretsFile)
    : await openLocal(resolve(opts.persistTo ?? join(ROOT, '.wrangler/state')), secretsFile)
  return {
    env,
    dispose,
    /** The CLI's service context: the operator's principal (authz.ts CLI_PRINCIPAL); `settle()` awaits background work before exit. */
    context() {
      return offRequestContext({
        db: createDB(env.DB),
        env,
        principal: CLI_PRINCIPAL,
        audit: { ip: '', userAgent: 'lm-cli', country: null },
      })
    },
  }
}
