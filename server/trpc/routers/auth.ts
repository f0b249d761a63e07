import { loginSchema } from '../../../shared/schemas/auth'
import { login } from '../../services/auth'
import { endOwnSession } from '../../services/sessions'
import { clearSessionCookie, sessionCookie } from '../../utils/session-cookie'
import { protectedProcedure, publicProcedure, router } from '../init'

export const authRouter = router({
  /** The signed-in user, or null. */
  me: publicProcedure.query(({ ctx }) => ctx.session?.user ?? null),

  login: publicProcedure.input(loginSchema).mutation(async ({ ctx, input }) => {
    const result = await login(ctx, input.email, input.password)
    ctx.resHeaders.append('set-cookie', sessionCookie(ctx.event, result.token, result.expiresAt))
    return result.user
  }),

  logout: protectedProcedure.mutation(async ({ ctx }) => {
    await endOwnSession(ctx, ctx.user.id, ctx.session.id, 'logout')
    ctx.resHeaders.append('set-cookie', clearSessionCookie(ctx.event))
    return { ok: true }
  }),
})
