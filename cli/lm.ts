#!/usr/bin/env node
/**
 * `npm run lm -- <command>`: the License Manager CLI. Calls the same service code as the web app and
 * the REST API, on the local D1 (default) or the deployed one (--remote). With --json, exactly one
 * JSON object goes to stdout; logs and errors go to stderr. docs/cli.md describes every command.
 */
import { ServiceError } from '../server/services/errors'
import { parseArgs, str, UsageError } from './args'
import type { Command } from './command'
import { dbCommands } from './commands/db'
import { keyCommands } from './commands/keys'
import { licenseCommands } from './commands/licenses'
import { productCommands } from './commands/products'
import { signingKeyCommands, type StandaloneCommand } from './commands/signing-keys'
import { tokenCommands } from './commands/tokens'
import { userCommands } from './commands/users'
import { webhookCommands } from './commands/webhooks'
import { openPlatform } from './platform'

// Libraries (wrangler with --remote) log with console.log: keep stdout for the command's output alone.
console.log = (...args: unknown[]) => console.error(...args)
console.info = console.log

const HELP = `Usage: npm run lm -- <command> [options]

Commands:
  user add --email E [--name N] [--role admin|user] [--password P] [--verify-limit N] [--json]
  user list [--json]
  product create --owner EMAIL --name N --slug S [--expires-in D] [--renewal D] [--max-devices N]
                 [--metadata JSON] [POLICIES] [--json]   the options are defaults for the product's licenses
  product list [--owner EMAIL] [--json]
  product delete ID [--json]                      refused while licenses use it
  license create --owner EMAIL [--product ID|SLUG] [--label L] [--expires-in D | --expires-at ISO]
                 [--renewal D] [--max-devices N] [--metadata JSON]
                 [--customer-email E] [--customer-name N] [--external-id X] [POLICIES] [--json]
                 with --product, unset options take the product's defaults
  license list [--owner EMAIL] [--product ID|SLUG] [--customer-email E] [--external-id X]
               [--search TEXT] [--json]
  license show KEY [--json]
  license suspend KEY | license reinstate KEY | license delete KEY   [--json]
  license renew KEY [--expires-in D | --expires-at ISO] [--json]
  license update KEY POLICIES [--json]   change policies; a value of none removes one
  POLICIES (docs/policies.md): [--grace D] [--expires-after-activation D] [--max-activations COUNT/PERIOD]
           [--lease D]   (a lease: 1min to 30d, e.g. 15min, 1h)
  keys rotate [--json]   re-key every license after a key-secret rotation (docs/keys.md)
  keys rotate-signing [--out FILE | --local] [--finish] [--json]
                        a new signing key for signed answers and the rotation steps (docs/offline.md)
  webhook add --owner EMAIL --url URL [--events TYPE,TYPE…] [--description D] [--json]
                        all events when --events is absent; prints the signing secret once
  webhook list [--owner EMAIL] [--json]
  webhook remove ID [--json]
  token create --owner EMAIL [--name N] [--read-only] [--expires-in D] [--json]
                        an API token for the management API; prints the secret once
  token list [--owner EMAIL] [--json]
  token revoke ID [--json]
  db backup FILE        a consistent copy of the local D1, also while npm start serves (docs/self-hosting.md)
  db restore FILE       replace the local D1 with a backup (the server stopped; the old one is kept)
  db export FILE        the local D1's data as SQL, for: wrangler d1 execute DB --remote --file FILE
  db import FILE        load an export into a new local D1 (--persist-to DIR; the server stopped)

Durations (D): Nh, Nd, Nw, Nmo (calendar months) or Ny, e.g. 30d, 1y.

Global options:
  --json            print one JSON object on stdout
  --remote          use the deployed D1 instead of the local one
  --persist-to DIR  local state folder (default .wrangler/state)
  --secrets-file F  read secrets from dotenv file F instead of .dev.vars (or set LM_SECRETS_FILE);
                    a server sharing the local D1 takes the same file: wrangler dev --env-file F
`

const GLOBAL_FLAGS = { 'json': 'boolean', 'remote': 'boolean', 'persist-to': 'string', 'secrets-file': 'string', 'help': 'boolean' } as const

const COMMANDS: Record<string, Command | StandaloneCommand> = { ...userCommands, ...productCommands, ...licenseCommands, ...keyCommands, ...signingKeyCommands, ...webhookCommands, ...tokenCommands, ...dbCommands }

async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv
  if (!group || group === '--help' || group === 'help') {
    process.stdout.write(HELP)
    return group ? 0 : 2
  }
  const name = `${group} ${action ?? ''}`.trim()
  const command = COMMANDS[name]
  if (!command) throw new UsageError(`unknown command "${name}" (try: npm run lm -- help)`)
  const args = parseArgs(rest, { ...GLOBAL_FLAGS, ...command.flags })
  if (args.flags.help) {
    process.stdout.write(HELP)
    return 0
  }
  const expected = command.positionals ?? []
  if (args.positionals.length < expected.length) throw new UsageError(`${name} needs ${expected.slice(args.positionals.length).join(' ')}`)
  if (args.positionals.length > expected.length) throw new UsageError(`unexpected argument "${args.positionals[expected.length]}"`)
  if ('standalone' in command) {
    const { output, human } = await command.standalone(args)
    process.stdout.write(args.flags.json === true ? `${JSON.stringify(output)}\n` : `${human}\n`)
    return 0
  }
  const run = command.prepare(args)

  const platform = await openPlatform({
    remote: args.flags.remote === true,
    persistTo: str(args.flags, 'persist-to'),
    secretsFile: str(args.flags, 'secrets-file') ?? (process.env.LM_SECRETS_FILE || undefined),
  })
  try {
    const { ctx, settle } = platform.context()
    const { output, human } = await run(ctx)
    await settle()
    process.stdout.write(args.flags.json === true ? `${JSON.stringify(output)}\n` : `${human}\n`)
    return 0
  }
  finally {
    await platform.dispose()
  }
}

main(process.argv.slice(2)).then(
  code => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ServiceError) {
      process.stderr.write(`lm: ${error.message}\n`)
      process.exit(error instanceof UsageError ? 2 : 1)
    }
    process.stderr.write(`lm: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
