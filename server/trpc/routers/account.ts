import { z } from 'zod'
import { changePasswordSchema, updateProfileSchema } from '../../../shared/schemas/auth'
import { idSchema } from '../../../shared/schemas/common'
import { onboardingProgress } from '../../services/onboarding'
import { endOtherSessions, endOwnSession, listUserSessions } from '../../services/sessions'
import { changePassword, getUser, updateProfile } from '../../services/users'
import { protectedProcedure, router } from '../init'

export const accountRouter = router({
  profile: protectedProcedure.query(({ ctx }) => getUser(ctx, ctx.user.id)),

  updateProfile: protectedProcedure.input(updateProfileSchema)
    .mutation(({ ctx, input }) => updateProfile(ctx, ctx.user.id, input.name)),

  changePassword: protectedProcedure.input(changePasswordSchema)
    .mutation(({ ctx, input }) => changePassword(ctx, ctx.user.id, input.currentPassword, input.newPassword, ctx.session.id)),

  sessions: protectedProcedure.query(async ({ ctx }) => {
    const rows = await listUserSessions(ctx, ctx.user.id)
    return rows.map(s => ({ ...s, current: s.id === ctx.session.id }))
  }),

  /** End one of your own sessions (the WHERE clause includes your user id). */
  revokeSession: protectedProcedure.input(z.object({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      await endOwnSession(ctx, ctx.user.id, input.id, 'revoked')
      return { ok: true }
    }),

  revokeOtherSessions: protectedProcedure
    .mutation(({ ctx }) => endOtherSessions(ctx, ctx.user.id, ctx.session.id)),

  /** The Overview's getting-started checklist: which steps your own data shows done (server/services/onboarding.ts). */
  onboarding: protectedProcedure.query(({ ctx }) => onboardingProgress(ctx, ctx.user.id)),
})
