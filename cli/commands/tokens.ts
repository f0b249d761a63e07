import { createApiTokenSchema } from '../../shared/schemas/api-tokens'
import { idSchema } from '../../shared/schemas/common'
import { namedOwner, ownerForCreate } from '../../server/services/authz'
import { createApiToken, listApiTokens, revokeApiToken, type ApiTokenView } from '../../server/services/api-tokens'
import { str, UsageError } from '../args'
import { principalOf, scopeOfCommand, table, when, type Command } from '../command'
import { duration, ownerByEmail, validator } from '../options'

const validate = validator({ name: '--name', expiresIn: '--expires-in', ownerId: '--owner' })
const mode = (t: ApiTokenView) => (t.readOnly ? 'read-only' : 'read-write')

/** Management API tokens (docs/management-api.md): the secret is printed once, stored only as a digest. */
export const tokenCommands: Record<string, Command> = {
  'token create': {
    flags: { 'owner': 'string', 'name': 'string', 'read-only': 'boolean', 'expires-in': 'string' },
    prepare({ flags }) {
      const email = str(flags, 'owner')
      if (!email) throw new UsageError('token create needs --owner EMAIL')
      const input = validate(createApiTokenSchema, {
        name: str(flags, 'name') ?? 'CLI token',
        readOnly: flags['read-only'] === true,
        expiresIn: duration(flags, 'expires-in'),
      })
      return async (ctx) => {
        const owner = await ownerByEmail(ctx, email)
        const { token, apiToken } = await createApiToken(ctx, ownerForCreate(principalOf(ctx), owner.id), input)
        return {
          output: { ...apiToken, token },
          human: [
            `Created ${mode(apiToken)} API token ${apiToken.id} "${apiToken.name}" for ${owner.email}, expires ${when(apiToken.expiresAt)}.`,
            `Token (shown once, store it now): ${token}`,
          ].join('\n'),
        }
      }
    },
  },
  'token list': {
    flags: { owner: 'string' },
    prepare: ({ flags }) => async (ctx) => {
      const email = str(flags, 'owner')
      const owner = email ? await ownerByEmail(ctx, email) : undefined
      const items = await listApiTokens(ctx, scopeOfCommand(ctx), { ownerId: namedOwner(principalOf(ctx), owner?.id), includeRevoked: true })
      return {
        output: { items },
        human: items.length
          ? table([['ID', 'OWNER', 'NAME', 'TOKEN', 'MODE', 'STATUS', 'EXPIRES', 'LAST USED'], ...items.map(t => [
              t.id, t.ownerEmail ?? t.ownerId, t.name, t.maskedToken, mode(t), t.status, when(t.expiresAt), t.lastUsedAt ? when(t.lastUsedAt) : '—',
            ])])
          : 'No API tokens.',
      }
    },
  },
  'token revoke': {
    flags: {},
    positionals: ['ID'],
    prepare: ({ positionals }) => {
      const id = idSchema.safeParse(positionals[0])
      if (!id.success || !id.data.startsWith('tok_')) throw new UsageError(`not an API token id: ${positionals[0]} (see: token list)`)
      return async (ctx) => {
        const t = await revokeApiToken(ctx, scopeOfCommand(ctx), id.data)
        return { output: t, human: `Revoked API token ${t.id} "${t.name}". Calls with it now get 401.` }
      }
    },
  },
}
