import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createDB } from '../db/client'
import type { AppEnv } from '../server/env'
import { offRequestContext, type Actor } from '../server/services/context'

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

/**
 * The D1 binding the CLI works on, through wrangler's platform proxy: the same local D1 that
 * `npm start` serves (.wrangler/state/v3/d1), or with --remote the deployed database.
 */
export async function openPlatform(opts: PlatformOptions = {}) {
  const secretsFile = opts.secretsFile === undefined ? undefined : resolve(opts.secretsFile)
  // wrangler silently skips a missing env file: that would mean other secrets, so refuse.
  if (secretsFile && !existsSync(secretsFile)) throw new Error(`no such secrets file: ${opts.secretsFile}`)
  let configPath = join(ROOT, 'wrangler.toml')
  if (opts.remote) {
    // Mark the D1 binding remote in a temporary copy of the config (wrangler remote bindings).
    const dir = mkdtempSync(join(tmpdir(), 'lm-remote-'))
    const toml = readFileSync(configPath, 'utf8').replace(/(migrations_dir\s*=.*)/, '$1\nremote = true')
      .replace(/^main\s*=.*$/m, `main = "${join(ROOT, '.output/server/index.mjs')}"`)
      .replace(/^directory\s*=.*$/m, `directory = "${join(ROOT, '.output/public')}"`)
    configPath = join(dir, 'wrangler.toml')
    writeFileSync(configPath, toml)
  }
  // Offline-friendly: no fetch of Cloudflare's Request.cf sample (miniflare uses a placeholder).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
  // Loaded on demand: wrangler is heavy, and argument errors should answer without it.
  const { getPlatformProxy } = await import('wrangler')
  const proxy = await getPlatformProxy<AppEnv>({
    configPath,
    persist: opts.remote ? false : { path: join(opts.persistTo ?? join(ROOT, '.wrangler/state'), 'v3') },
    remoteBindings: !!opts.remote,
    // [] = the project's .dev.vars only (no .env, no process.env); a file = that file only.
    envFiles: secretsFile ? [secretsFile] : [],
  })
  // The local D1 belongs to the local install (npm start), where localhost webhook receivers are allowed.
  const env: AppEnv = opts.remote ? proxy.env : { ...proxy.env, WEBHOOKS_ALLOW_PRIVATE: 'true' }
  return {
    env,
    dispose: () => proxy.dispose(),
    /** A service context for a CLI actor; `settle()` awaits background work before exit. */
    context(actor: Actor = { type: 'cli', id: null }) {
      return offRequestContext({
        db: createDB(proxy.env.DB),
        env,
        actor,
        audit: { ip: '', userAgent: 'lm-cli', country: null },
      })
    },
  }
}
