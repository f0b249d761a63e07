import { apiTokenIdSchema, createApiTokenSchema, listApiTokensSchema } from '../../../shared/schemas/api-tokens'
import { ownerForCreate, ownScopeOf, scopeOf } from '../../services/authz'
import { createApiToken, listApiTokens, revokeApiToken } from '../../services/api-tokens'
import { adminProcedure, protectedProcedure, router } from '../init'

/**
 * API tokens (docs/management-api.md). `mine`: your own tokens (admin or not; the Account page);
 * `all`: everyone's (admins; the admin tokens page). Revoking: your own, or any for an admin.
 */
export const tokensRouter = router({
  mine: protectedProcedure.query(({ ctx }) => listApiTokens(ctx, ownScopeOf(ctx.principal), { includeRevoked: true })),
  all: adminProcedure.input(listApiTokensSchema).query(({ ctx, input }) => listApiTokens(ctx, { all: true }, input)),
  create: protectedProcedure.input(createApiTokenSchema).mutation(({ ctx, input }) =>
    createApiToken(ctx, ownerForCreate(ctx.principal, input.ownerId), input)),
  revoke: protectedProcedure.input(apiTokenIdSchema).mutation(({ ctx, input }) => revokeApiToken(ctx, scopeOf(ctx.principal), input.id)),
})
