import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createDB } from '../db/client'
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

/**
 * The D1 binding the CLI works on, through wrangler's platform proxy: the same local D1 that
 * `npm start` serves (.wrangler/state/v3/d1), or with --remote the deployed database.
 */
export async function openPlatform(opts: PlatformOptions = {}) {
  const secretsFile = opts.secretsFile === undefined ? undefined : resolve(opts.secretsFile)
  // wrangler silently skips a missing env file: that would mean other secrets, so refuse.
  if (secretsFile && !existsSync(secretsFile)) throw new Error(`no such secrets file: ${opts.secretsFile}`)
  // A temporary copy of the config: absolute paths, no Durable Objects (the CLI uses none, and
  // wrangler's proxy cannot run a class exported by the built worker), D1 marked remote with --remote.
  let toml = withoutTomlTables(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'), ['[[durable_objects.bindings]]', '[[migrations]]'])
    .replace(/^main\s*=.*$/m, `main = "${join(ROOT, '.output/server/index.mjs')}"`)
    .replace(/^directory\s*=.*$/m, `directory = "${join(ROOT, '.output/public')}"`)
    .replace(/^migrations_dir\s*=.*$/m, `migrations_dir = "${join(ROOT, 'db/migrations')}"`)
  // Mark the D1 binding remote (wrangler remote bindings).
  if (opts.remote) toml = toml.replace(/(migrations_dir\s*=.*)/, '$1\nremote = true')
  const configDir = mkdtempSync(join(tmpdir(), 'lm-cli-'))
  const configPath = join(configDir, 'wrangler.toml')
  writeFileSync(configPath, toml)
  // Offline-friendly: no fetch of Cloudflare's Request.cf sample (miniflare uses a placeholder).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
  // Loaded on demand: wrangler is heavy, and argument errors should answer without it.
  const { getPlatformProxy } = await import('wrangler')
  const proxy = await getPlatformProxy<AppEnv>({
    configPath,
    persist: opts.remote ? false : { path: join(opts.persistTo ?? join(ROOT, '.wrangler/state'), 'v3') },
    remoteBindings: !!opts.remote,
    // The project's .dev.vars (the config copy lives elsewhere), or the given file only.
    envFiles: [secretsFile ?? join(ROOT, '.dev.vars')],
  })
  // The local D1 belongs to the local install (npm start), where localhost webhook receivers are allowed.
  const env: AppEnv = opts.remote ? proxy.env : { ...proxy.env, WEBHOOKS_ALLOW_LOCALHOST: 'true' }
  return {
    env,
    dispose: async () => {
      await proxy.dispose()
      rmSync(configDir, { recursive: true, force: true })
    },
    /** The CLI's service context: the operator's principal (authz.ts CLI_PRINCIPAL); `settle()` awaits background work before exit. */
    context() {
      return offRequestContext({
        db: createDB(proxy.env.DB),
        env,
        principal: CLI_PRINCIPAL,
        audit: { ip: '', userAgent: 'lm-cli', country: null },
      })
    },
  }
}
