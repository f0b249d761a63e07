import { TRPCError } from '@trpc/server'
import { createWebhookSchema, deliveryIdSchema, listDeliveriesSchema, listWebhooksSchema, rotateWebhookSecretSchema, updateWebhookSchema, webhookIdSchema } from '../../../shared/schemas/webhooks'
import {
  createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, replayDelivery, revealWebhookSecret,
  rotateWebhookSecret, sendTestEvent, updateWebhook, type WebhookScope,
} from '../../services/webhooks'
import { protectedProcedure, router } from '../init'

/** Users manage their own endpoints; admins all. The scope goes into every WHERE clause. */
const webhookProcedure = protectedProcedure.use(({ ctx, next }) => {
  const scope: WebhookScope = ctx.user.role === 'admin' ? { all: true } : { ownerId: ctx.user.id }
  return next({ ctx: { ...ctx, scope } })
})

export const webhooksRouter = router({
  list: webhookProcedure.input(listWebhooksSchema).query(({ ctx, input }) => {
    if (input.ownerId && ctx.user.role !== 'admin' && input.ownerId !== ctx.user.id) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Admins only' })
    }
    return listWebhooks(ctx, ctx.scope, input)
  }),
  get: webhookProcedure.input(webhookIdSchema).query(({ ctx, input }) => getWebhook(ctx, ctx.scope, input.id)),
  create: webhookProcedure.input(createWebhookSchema).mutation(({ ctx, input }) => {
    const ownerId = input.ownerId ?? ctx.user.id
    if (ownerId !== ctx.user.id && ctx.user.role !== 'admin') {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Only admins add endpoints for other users' })
    }
    return createWebhook(ctx, ownerId, input)
  }),
  update: webhookProcedure.input(updateWebhookSchema).mutation(({ ctx, input }) => updateWebhook(ctx, ctx.scope, input)),
  delete: webhookProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => deleteWebhook(ctx, ctx.scope, input.id)),
  revealSecret: webhookProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => revealWebhookSecret(ctx, ctx.scope, input.id)),
  rotateSecret: webhookProcedure.input(rotateWebhookSecretSchema).mutation(({ ctx, input }) => rotateWebhookSecret(ctx, ctx.scope, input)),
  deliveries: webhookProcedure.input(listDeliveriesSchema).query(({ ctx, input }) => listDeliveries(ctx, ctx.scope, input)),
  sendTest: webhookProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => sendTestEvent(ctx, ctx.scope, input.id)),
  replay: webhookProcedure.input(deliveryIdSchema).mutation(({ ctx, input }) => replayDelivery(ctx, ctx.scope, input.id)),
})
