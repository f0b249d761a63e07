#!/usr/bin/env node
/**
 * `npm run lm -- <command>`: the License Manager CLI. Calls the same service code as the web app and
 * the REST API, on the local D1 (default) or the deployed one (--remote). With --json, exactly one
 * JSON object goes to stdout; logs and errors go to stderr.
 */
import { ServiceError } from '../server/services/errors'
import { parseArgs, str, UsageError } from './args'
import { userAdd, userFlags, userList } from './commands/users'
import { openPlatform } from './platform'

// Libraries (wrangler) log with console.log: keep stdout for the command's output alone.
console.log = (...args: unknown[]) => console.error(...args)
console.info = console.log

const HELP = `Usage: npm run lm -- <command> [options]

Commands:
  user add --email E [--name N] [--role admin|user] [--password P] [--verify-limit N] [--json]
  user list [--json]

Global options:
  --json            print one JSON object on stdout
  --remote          use the deployed D1 instead of the local one
  --persist-to DIR  local state folder (default .wrangler/state)
`

const GLOBAL_FLAGS = { json: 'boolean', remote: 'boolean', 'persist-to': 'string', help: 'boolean' } as const

async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv
  if (!group || group === '--help' || group === 'help') {
    process.stdout.write(HELP)
    return group ? 0 : 2
  }
  const command = `${group} ${action ?? ''}`.trim()
  const flagsFor: Record<string, Record<string, 'string' | 'boolean'>> = {
    'user add': userFlags,
    'user list': {},
  }
  const known = flagsFor[command]
  if (!known) throw new UsageError(`unknown command "${command}" (try: npm run lm -- help)`)
  const args = parseArgs(rest, { ...GLOBAL_FLAGS, ...known })
  if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`)
  const json = args.flags.json === true

  const platform = await openPlatform({ remote: args.flags.remote === true, persistTo: str(args.flags, 'persist-to') })
  try {
    const { ctx, settle } = platform.context()
    let output: unknown
    let human: string
    switch (command) {
      case 'user add': {
        const { user, generatedPassword } = await userAdd(ctx, args)
        output = { ...user, ...(generatedPassword ? { password: generatedPassword } : {}) }
        human = `Added ${user.role} ${user.email} (${user.id})${generatedPassword ? `\nPassword (shown once): ${generatedPassword}` : ''}`
        break
      }
      case 'user list': {
        const users = await userList(ctx)
        output = { users }
        human = users.length === 0
          ? 'No users.'
          : users.map(u => `${u.id}  ${u.email.padEnd(32)} ${u.role.padEnd(6)} ${u.disabled ? 'disabled' : 'active'}`).join('\n')
        break
      }
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
    await settle()
    process.stdout.write(json ? `${JSON.stringify(output)}\n` : `${human}\n`)
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
