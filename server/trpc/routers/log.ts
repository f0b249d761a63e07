import { listLogSchema, listMyLogSchema, myValidationChartSchema, validationChartSchema } from '../../../shared/schemas/log'
import { lostEventCount } from '../../services/events'
import { listLog, validationChart } from '../../services/system-log'
import { adminProcedure, protectedProcedure, router } from '../init'

export const logRouter = router({
  /** The system log: every event, filtered, newest first. */
  list: adminProcedure.input(listLogSchema).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input
    return listLog(ctx, { all: true }, filter, { limit, cursor })
  }),
  /** The caller's own events (their licences', their logins): ownership is in the WHERE clause. */
  mine: protectedProcedure.input(listMyLogSchema).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input
    return listLog(ctx, { ownerId: ctx.user.id }, filter, { limit, cursor })
  }),
  /** Audit events lost after every retry (server/services/events.ts): the Overview's alarm for admins. */
  lostEvents: adminProcedure.query(({ ctx }) => lostEventCount(ctx)),
  validationChart: adminProcedure.input(validationChartSchema).query(({ ctx, input }) => validationChart(ctx, { all: true }, input)),
  myValidationChart: protectedProcedure.input(myValidationChartSchema).query(({ ctx, input }) => validationChart(ctx, { ownerId: ctx.user.id }, input)),
})
