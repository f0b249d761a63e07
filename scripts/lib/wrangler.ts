import { spawnSync } from 'node:child_process'

/** Offline-friendly environment for wrangler: no metrics, no fetch of Cloudflare's Request.cf sample (a placeholder is used). */
export function wranglerEnv(): NodeJS.ProcessEnv {
  return { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false', NUXT_TELEMETRY_DISABLED: '1' }
}

/** `wrangler d1 migrations apply DB --local [--persist-to DIR]`; throws with wrangler's output on failure. */
export function applyMigrations(root: string, persistTo?: string): void {
  const persistArgs = persistTo ? ['--persist-to', persistTo] : []
  const migrate = spawnSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', ...persistArgs], { cwd: root, env: wranglerEnv(), encoding: 'utf8' })
  if (migrate.status !== 0) {
    process.stderr.write(migrate.stdout + migrate.stderr)
    throw new Error('migrations failed')
  }
}

export interface DevOptions {
  port: number
  /** Local state folder (wrangler --persist-to); default .wrangler/state. */
  persistTo?: string
  /** Secrets from this dotenv file instead of the project's .dev.vars. */
  envFile?: string
  /** Extra [vars] (wrangler --var NAME:value). */
  vars?: Record<string, string>
}

/**
 * The arguments of `npx wrangler dev` that serve the built worker (.output, wrangler.toml `main`) in
 * workerd: `npm run bench`'s wrangler dev rows (npm start serves through scripts/lib/server.ts instead).
 * `--test-scheduled` opens GET /__scheduled to anyone: never use these arguments for a served install.
 */
export function wranglerDevArgs(opts: DevOptions): string[] {
  return [
    'wrangler', 'dev', '--port', String(opts.port), '--test-scheduled', '--show-interactive-dev-session=false',
    ...(opts.persistTo ? ['--persist-to', opts.persistTo] : []),
    ...(opts.envFile ? ['--env-file', opts.envFile] : []),
    ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ]
}
