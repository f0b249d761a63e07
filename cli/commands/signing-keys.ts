import { createPrivateKey } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { generateSigningKey, readDotenv, setDotenvValues } from '../../scripts/lib/dev-vars'
import { publicKeyOf, signingKey } from '../../server/lib/token-signing'
import { str, UsageError, type Parsed } from '../args'
import type { CommandResult } from '../command'
import { ROOT } from '../platform'

/**
 * `keys rotate-signing`: a new Ed25519 key for signed answers and the steps of a rotation
 * (docs/offline.md). It needs no database. Production: the new key goes to a file (mode 0600),
 * never to the terminal, and the wrangler commands are printed. `--local`: .dev.vars (or
 * --secrets-file) is rewritten — current key → TOKEN_SIGNING_KEY_PREVIOUS, new key → TOKEN_SIGNING_KEY.
 * `--finish` ends the overlap (removes the previous key).
 */
export interface StandaloneCommand {
  flags: Record<string, 'string' | 'boolean'>
  positionals?: string[]
  /** Runs without opening the D1 (no wrangler platform). */
  standalone: (args: Parsed) => Promise<CommandResult>
}

const pemOf = (pkcs8Base64: string) => createPrivateKey({ key: Buffer.from(pkcs8Base64, 'base64'), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString()

async function local(file: string, finish: boolean): Promise<CommandResult> {
  if (!existsSync(file)) throw new UsageError(`no such secrets file: ${file} (run npm start once to create .dev.vars)`)
  const values = readDotenv(file)
  const current = values.get('TOKEN_SIGNING_KEY')
  if (!current) throw new UsageError(`${file} has no TOKEN_SIGNING_KEY (npm start adds one)`)
  const currentKid = (await signingKey(current)).kid
  if (finish) {
    const previous = values.get('TOKEN_SIGNING_KEY_PREVIOUS')
    setDotenvValues(file, { TOKEN_SIGNING_KEY_PREVIOUS: null })
    const previousKid = previous ? (await publicKeyOf(previous)).kid : null
    return {
      output: { kid: currentKid, removedKid: previousKid, file },
      human: previousKid
        ? `Removed TOKEN_SIGNING_KEY_PREVIOUS (kid ${previousKid}) from ${file}. Restart npm start: the JWKS now lists only ${currentKid}.`
        : `${file} has no TOKEN_SIGNING_KEY_PREVIOUS: nothing to finish. Current kid: ${currentKid}.`,
    }
  }
  const next = generateSigningKey()
  const kid = (await signingKey(next)).kid
  setDotenvValues(file, { TOKEN_SIGNING_KEY: next, TOKEN_SIGNING_KEY_PREVIOUS: current })
  const steps = [
    'Restart npm start: new answers are signed with the new key; the JWKS lists both keys.',
    'Wait until tokens signed with the old key have expired (TOKEN_TTL, 7 days by default) and JWKS caches have refreshed (5 minutes).',
    'Then run: npm run lm -- keys rotate-signing --local --finish',
  ]
  return {
    output: { kid, previousKid: currentKid, file, steps },
    human: [`New signing key ${kid} written to ${file}; the old one (${currentKid}) is now TOKEN_SIGNING_KEY_PREVIOUS.`, ...steps.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'),
  }
}

async function production(out: string, finish: boolean): Promise<CommandResult> {
  if (finish) {
    const steps = ['npx wrangler secret delete TOKEN_SIGNING_KEY_PREVIOUS']
    return {
      output: { steps },
      human: ['When tokens signed with the previous key have expired (TOKEN_TTL, 7 days by default) and JWKS caches have refreshed (5 minutes):', `  ${steps[0]}`].join('\n'),
    }
  }
  if (existsSync(out)) throw new UsageError(`${out} exists: choose another --out (a signing key is never overwritten)`)
  const next = generateSigningKey()
  const kid = (await signingKey(next)).kid
  writeFileSync(out, pemOf(next), { mode: 0o600, flag: 'wx' })
  const steps = [
    'npx wrangler secret put TOKEN_SIGNING_KEY_PREVIOUS   # paste the CURRENT TOKEN_SIGNING_KEY (or its public key): it stays in the JWKS',
    `npx wrangler secret put TOKEN_SIGNING_KEY < ${out}   # the new key: answers are signed with it from now on`,
    `shred -u ${out}   # or keep it only in your secret store`,
    'After TOKEN_TTL (7 days by default) + 5 minutes of JWKS caching: npm run lm -- keys rotate-signing --finish',
  ]
  return {
    output: { kid, file: out, steps },
    human: [`New Ed25519 signing key ${kid} written to ${out} (mode 0600). Rotate it in:`, ...steps.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'),
  }
}

export const signingKeyCommands: Record<string, StandaloneCommand> = {
  'keys rotate-signing': {
    flags: { 'local': 'boolean', 'finish': 'boolean', 'out': 'string' },
    standalone: async (args) => {
      const finish = args.flags.finish === true
      if (args.flags.local === true) {
        if (str(args.flags, 'out')) throw new UsageError('--out is for a production rotation; --local rewrites the secrets file')
        const file = resolve(str(args.flags, 'secrets-file') ?? (process.env.LM_SECRETS_FILE || join(ROOT, '.dev.vars')))
        return await local(file, finish)
      }
      if (args.flags.remote === true || str(args.flags, 'secrets-file') || str(args.flags, 'persist-to')) throw new UsageError('keys rotate-signing uses no database: without --local it only writes --out and prints the wrangler steps')
      return await production(resolve(str(args.flags, 'out') ?? 'token-signing-key.pem'), finish)
    },
  },
}
