import { createWebhookSchema, deliveryIdSchema, listDeliveriesSchema, listWebhooksSchema, rotateWebhookSecretSchema, updateWebhookSchema, webhookIdSchema } from '../../../shared/schemas/webhooks'
import { namedOwner, ownerForCreate } from '../../services/authz'
import {
  createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, replayDelivery, revealWebhookSecret,
  rotateWebhookSecret, sendTestEvent, updateWebhook,
} from '../../services/webhooks'
import { protectedProcedure, router } from '../init'

/** Users manage their own endpoints, admins all: ctx.scope (authz.ts) goes into every WHERE clause. */
export const webhooksRouter = router({
  list: protectedProcedure.input(listWebhooksSchema).query(({ ctx, input }) =>
    listWebhooks(ctx, ctx.scope, { ...input, ownerId: namedOwner(ctx.principal, input.ownerId) })),
  get: protectedProcedure.input(webhookIdSchema).query(({ ctx, input }) => getWebhook(ctx, ctx.scope, input.id)),
  create: protectedProcedure.input(createWebhookSchema).mutation(({ ctx, input }) =>
    createWebhook(ctx, ownerForCreate(ctx.principal, input.ownerId), input)),
  update: protectedProcedure.input(updateWebhookSchema).mutation(({ ctx, input }) => updateWebhook(ctx, ctx.scope, input)),
  delete: protectedProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => deleteWebhook(ctx, ctx.scope, input.id)),
  revealSecret: protectedProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => revealWebhookSecret(ctx, ctx.scope, input.id)),
  rotateSecret: protectedProcedure.input(rotateWebhookSecretSchema).mutation(({ ctx, input }) => rotateWebhookSecret(ctx, ctx.scope, input)),
  deliveries: protectedProcedure.input(listDeliveriesSchema).query(({ ctx, input }) => listDeliveries(ctx, ctx.scope, input)),
  sendTest: protectedProcedure.input(webhookIdSchema).mutation(({ ctx, input }) => sendTestEvent(ctx, ctx.scope, input.id)),
  replay: protectedProcedure.input(deliveryIdSchema).mutation(({ ctx, input }) => replayDelivery(ctx, ctx.scope, input.id)),
})
