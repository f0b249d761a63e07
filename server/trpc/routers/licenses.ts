import { TRPCError } from '@trpc/server'
import { createLicenseSchema, freeDeviceSchema, licenseIdSchema, listLicensesSchema, renewLicenseSchema, updateLicenseSchema } from '../../../shared/schemas/licenses'
import { createLicense, deleteLicense, freeDevice, getLicense, listLicenses, reinstateLicense, renewLicense, revealLicenseKey, suspendLicense, updateLicense, type LicenseScope } from '../../services/licenses'
import { protectedProcedure, router } from '../init'

/** Users see and touch their own licences; admins all. The scope goes into every WHERE clause. */
const licenseProcedure = protectedProcedure.use(({ ctx, next }) => {
  const scope: LicenseScope = ctx.user.role === 'admin' ? { all: true } : { ownerId: ctx.user.id }
  return next({ ctx: { ...ctx, scope } })
})

export const licensesRouter = router({
  list: licenseProcedure.input(listLicensesSchema).query(({ ctx, input }) => {
    if (input.ownerId && ctx.user.role !== 'admin' && input.ownerId !== ctx.user.id) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Admins only' })
    }
    return listLicenses(ctx, ctx.scope, input)
  }),
  get: licenseProcedure.input(licenseIdSchema).query(({ ctx, input }) => getLicense(ctx, ctx.scope, input.id)),
  reveal: licenseProcedure.input(licenseIdSchema).mutation(async ({ ctx, input }) => ({ key: await revealLicenseKey(ctx, ctx.scope, input.id) })),
  create: licenseProcedure.input(createLicenseSchema).mutation(({ ctx, input }) => {
    const ownerId = input.ownerId ?? ctx.user.id
    if (ownerId !== ctx.user.id && ctx.user.role !== 'admin') {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'Only admins create licences for other users' })
    }
    return createLicense(ctx, ownerId, input)
  }),
  update: licenseProcedure.input(updateLicenseSchema).mutation(({ ctx, input }) => updateLicense(ctx, ctx.scope, input)),
  suspend: licenseProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => suspendLicense(ctx, ctx.scope, input.id)),
  reinstate: licenseProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => reinstateLicense(ctx, ctx.scope, input.id)),
  renew: licenseProcedure.input(renewLicenseSchema).mutation(({ ctx, input }) => renewLicense(ctx, ctx.scope, input)),
  delete: licenseProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => deleteLicense(ctx, ctx.scope, input.id)),
  freeDevice: licenseProcedure.input(freeDeviceSchema).mutation(({ ctx, input }) => freeDevice(ctx, ctx.scope, input.id, input.deviceId)),
})
