import { z } from 'zod'
import { idSchema } from './common'

/** The events a webhook endpoint can receive (docs/webhooks.md). */
export const WEBHOOK_EVENT_TYPES = [
  'license.created', 'license.updated', 'license.suspended', 'license.reinstated', 'license.renewed',
  'license.expiring', 'license.expired', 'license.deleted', 'license.validated',
  'device.activated', 'device.deactivated',
  // License policies (docs/policies.md).
  'license.grace_started', 'license.device_limit_reached', 'license.anomaly',
] as const
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number]
/** High volume: sent only to endpoints that list it, never through "all events". */
export const OPT_IN_EVENT_TYPES: readonly WebhookEventType[] = ['license.validated']
/** Sent by "Send test event" to one endpoint only. */
export const TEST_EVENT_TYPE = 'webhook.test'

export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES)

export const webhookUrlSchema = z.string().trim().min(1, 'Enter the URL that receives the events').max(2048, 'At most 2048 characters')
  .refine((v) => {
    try {
      const u = new URL(v)
      return u.protocol === 'https:' || u.protocol === 'http:'
    }
    catch {
      return false
    }
  }, 'Enter a full URL, like https://example.com/webhooks')

export const webhookDescriptionSchema = z.string().trim().max(200, 'At most 200 characters')

const subscription = {
  /** Every event type but license.validated. */
  allEvents: z.boolean(),
  /** With allEvents: extra opt-in types (license.validated); without: the types to receive (at least one). */
  eventTypes: z.array(webhookEventTypeSchema).max(WEBHOOK_EVENT_TYPES.length).transform(v => [...new Set(v)]),
}
const subscribesToSomething = (v: { allEvents?: boolean, eventTypes?: string[] }) => v.allEvents !== false || (v.eventTypes?.length ?? 0) > 0
const nothingMessage = { message: 'Pick at least one event type, or all events', path: ['eventTypes'] }

export const createWebhookSchema = z.object({
  /** Admins may create for any user; omitted = yourself. */
  ownerId: idSchema.optional(),
  url: webhookUrlSchema,
  description: webhookDescriptionSchema.default(''),
  allEvents: subscription.allEvents.default(true),
  eventTypes: subscription.eventTypes.default([]),
  enabled: z.boolean().default(true),
}).refine(subscribesToSomething, nothingMessage)
export type CreateWebhookInput = z.input<typeof createWebhookSchema>

export const updateWebhookSchema = z.object({
  id: idSchema,
  url: webhookUrlSchema.optional(),
  description: webhookDescriptionSchema.optional(),
  allEvents: subscription.allEvents.optional(),
  eventTypes: subscription.eventTypes.optional(),
  enabled: z.boolean().optional(),
}).refine(v => !(v.allEvents === false && v.eventTypes !== undefined && v.eventTypes.length === 0), nothingMessage)

export const webhookIdSchema = z.object({ id: idSchema })

export const listWebhooksSchema = z.object({
  /** Admins only: one owner's endpoints. */
  ownerId: idSchema.optional(),
}).default({})

export const rotateWebhookSecretSchema = z.object({
  id: idSchema,
  /** How long the old secret keeps signing alongside the new one (0 = stop at once). */
  overlapHours: z.number().int('Whole hours').min(0).max(168, 'At most 168 hours (7 days)').default(24),
})

export const listDeliveriesSchema = z.object({
  endpointId: idSchema,
  status: z.enum(['pending', 'succeeded', 'failed']).optional(),
  limit: z.number().int().min(1).max(100).default(25),
  cursor: z.string().max(100).optional(),
})

export const deliveryIdSchema = z.object({ id: idSchema })

/** The endpoint form (create and edit): its output is the procedures' input. */
export const webhookFormSchema = z.object({
  url: webhookUrlSchema,
  description: webhookDescriptionSchema,
  allEvents: z.boolean(),
  eventTypes: z.array(webhookEventTypeSchema),
}).refine(subscribesToSomething, nothingMessage)
export type WebhookFormInput = z.input<typeof webhookFormSchema>
