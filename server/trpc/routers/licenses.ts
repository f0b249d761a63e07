import { createLicenseSchema, freeDeviceSchema, licenseIdSchema, listLicensesSchema, renewLicenseSchema, updateLicenseSchema } from '../../../shared/schemas/licenses'
import { namedOwner, ownerForCreate } from '../../services/authz'
import { createLicense, deleteLicense, freeDevice, getLicense, listLicenses, reinstateLicense, renewLicense, revealLicenseKey, suspendLicense, updateLicense } from '../../services/licenses'
import { protectedProcedure, router } from '../init'

/** Users see and touch their own licenses, admins all: ctx.scope (authz.ts) goes into every WHERE clause. */
export const licensesRouter = router({
  list: protectedProcedure.input(listLicensesSchema).query(({ ctx, input }) =>
    listLicenses(ctx, ctx.scope, { ...input, ownerId: namedOwner(ctx.principal, input.ownerId) })),
  get: protectedProcedure.input(licenseIdSchema).query(({ ctx, input }) => getLicense(ctx, ctx.scope, input.id)),
  reveal: protectedProcedure.input(licenseIdSchema).mutation(async ({ ctx, input }) => ({ key: await revealLicenseKey(ctx, ctx.scope, input.id) })),
  create: protectedProcedure.input(createLicenseSchema).mutation(({ ctx, input }) =>
    createLicense(ctx, ownerForCreate(ctx.principal, input.ownerId), input)),
  update: protectedProcedure.input(updateLicenseSchema).mutation(({ ctx, input }) => updateLicense(ctx, ctx.scope, input)),
  suspend: protectedProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => suspendLicense(ctx, ctx.scope, input.id)),
  reinstate: protectedProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => reinstateLicense(ctx, ctx.scope, input.id)),
  renew: protectedProcedure.input(renewLicenseSchema).mutation(({ ctx, input }) => renewLicense(ctx, ctx.scope, input)),
  delete: protectedProcedure.input(licenseIdSchema).mutation(({ ctx, input }) => deleteLicense(ctx, ctx.scope, input.id)),
  freeDevice: protectedProcedure.input(freeDeviceSchema).mutation(({ ctx, input }) => freeDevice(ctx, ctx.scope, input.id, input.deviceId)),
})
