import { createWebhookSchema, WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/schemas/webhooks'
import { idSchema } from '../../shared/schemas/common'
import { namedOwner, ownerForCreate } from '../../server/services/authz'
import { createWebhook, deleteWebhook, listWebhooks, type WebhookView } from '../../server/services/webhooks'
import { str, UsageError } from '../args'
import { principalOf, scopeOfCommand, table, when, type Command } from '../command'
import { ownerByEmail } from '../options'

/** --events TYPE,TYPE… (absent = all events). */
function eventTypes(value: string | undefined): { allEvents: boolean, eventTypes: WebhookEventType[] } {
  if (value === undefined) return { allEvents: true, eventTypes: [] }
  const types = value.split(',').map(t => t.trim()).filter(Boolean)
  if (!types.length) throw new UsageError('--events: give one or more event types, comma-separated')
  const unknown = types.filter(t => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(t))
  if (unknown.length) throw new UsageError(`--events: unknown event type ${unknown[0]} (one of ${WEBHOOK_EVENT_TYPES.join(', ')})`)
  return { allEvents: false, eventTypes: types as WebhookEventType[] }
}

const events = (w: WebhookView) => w.allEvents ? ['all', ...w.eventTypes].join('+') : w.eventTypes.join(',')

export const webhookCommands: Record<string, Command> = {
  'webhook add': {
    flags: { owner: 'string', url: 'string', events: 'string', description: 'string' },
    prepare: ({ flags }) => {
      const email = str(flags, 'owner')
      if (!email) throw new UsageError('webhook add needs --owner EMAIL')
      if (!str(flags, 'url')) throw new UsageError('webhook add needs --url URL')
      const parsed = createWebhookSchema.safeParse({ url: str(flags, 'url'), description: str(flags, 'description'), ...eventTypes(str(flags, 'events')) })
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!
        throw new UsageError(`--${String(issue.path[0] ?? 'url') === 'eventTypes' ? 'events' : String(issue.path[0] ?? 'url')}: ${issue.message}`)
      }
      return async (ctx) => {
        const owner = await ownerByEmail(ctx, email)
        const { webhook, secret } = await createWebhook(ctx, ownerForCreate(principalOf(ctx), owner.id), parsed.data)
        return {
          output: { ...webhook, secret },
          human: [
            `Added webhook ${webhook.id} for ${owner.email}: ${webhook.url} (${events(webhook)})`,
            `Signing secret (shown once; reveal it later in the web app): ${secret}`,
            'Changes made with the CLI are delivered by the every-minute cron (within about 90 s).',
          ].join('\n'),
        }
      }
    },
  },
  'webhook list': {
    flags: { owner: 'string' },
    prepare: ({ flags }) => async (ctx) => {
      const email = str(flags, 'owner')
      const owner = email ? await ownerByEmail(ctx, email) : undefined
      const items = await listWebhooks(ctx, scopeOfCommand(ctx), { ownerId: namedOwner(principalOf(ctx), owner?.id) })
      return {
        output: { items },
        human: items.length
          ? table([['ID', 'OWNER', 'URL', 'EVENTS', 'STATE', 'LAST SUCCESS'], ...items.map(w => [w.id, w.ownerEmail ?? w.ownerId, w.url, events(w), w.health, when(w.lastSuccessAt)])])
          : 'No webhook endpoints.',
      }
    },
  },
  'webhook remove': {
    flags: {},
    positionals: ['ID'],
    prepare: ({ positionals }) => {
      const id = idSchema.safeParse(positionals[0])
      if (!id.success || !id.data.startsWith('whk_')) throw new UsageError(`not a webhook id: ${positionals[0]} (see: webhook list)`)
      return async (ctx) => {
        await deleteWebhook(ctx, scopeOfCommand(ctx), id.data)
        return { output: { id: id.data, removed: true }, human: `Removed webhook ${id.data}.` }
      }
    },
  },
}
