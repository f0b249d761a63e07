import { getRequestURL } from 'h3'
import { integrationInfo, signingSettings } from '../../services/signing-settings'
import { adminProcedure, protectedProcedure, router } from '../init'

/** The origin the browser used (PUBLIC_URL wins when set). */
const originOf = (ctx: { event: Parameters<typeof getRequestURL>[0] }) => getRequestURL(ctx.event).origin

export const settingsRouter = router({
  integration: protectedProcedure.query(({ ctx }) => integrationInfo({ env: ctx.env, origin: originOf(ctx) })),
  signing: adminProcedure.query(({ ctx }) => signingSettings({ env: ctx.env, origin: originOf(ctx) })),
})
