import { listLogSchema, listMyLogSchema, myValidationChartSchema, validationChartSchema } from '../../../shared/schemas/log'
import { ownScopeOf } from '../../services/authz'
import { lostEventCount } from '../../services/events'
import { listLog, validationChart } from '../../services/system-log'
import { adminProcedure, protectedProcedure, router } from '../init'

export const logRouter = router({
  /** The system log: every event, filtered, newest first (an admin's scope is every owner). */
  list: adminProcedure.input(listLogSchema).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input
    return listLog(ctx, ctx.scope, filter, { limit, cursor })
  }),
  /** The caller's own events (their licenses', their logins), admin or not: ownership is in the WHERE clause. */
  mine: protectedProcedure.input(listMyLogSchema).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input
    return listLog(ctx, ownScopeOf(ctx.principal), filter, { limit, cursor })
  }),
  /** Audit events lost after every retry (server/services/events.ts): the Overview's alarm for admins. */
  lostEvents: adminProcedure.query(({ ctx }) => lostEventCount(ctx)),
  validationChart: adminProcedure.input(validationChartSchema).query(({ ctx, input }) => validationChart(ctx, ctx.scope, input)),
  myValidationChart: protectedProcedure.input(myValidationChartSchema).query(({ ctx, input }) => validationChart(ctx, ownScopeOf(ctx.principal), input)),
})
