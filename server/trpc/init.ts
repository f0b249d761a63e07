import { initTRPC, TRPCError } from '@trpc/server'
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc'
import superjson from 'superjson'
import { z, ZodError } from 'zod'
import { requireAdmin, scopeOf } from '../services/authz'
import { ServiceError } from '../services/errors'
import type { Context } from './context'

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  // workerd has no NODE_ENV: without this tRPC thinks it is in development and sends stack traces.
  isDev: import.meta.dev,
  errorFormatter({ shape, error }) {
    const cause = error.cause
    const fieldErrors = cause instanceof ZodError
      ? z.flattenError(cause).fieldErrors as Record<string, string[]>
      : cause instanceof ServiceError ? cause.fieldErrors ?? null : null
    return {
      ...shape,
      message: cause instanceof ZodError ? 'Invalid input' : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        fieldErrors,
        retryAfterSeconds: cause instanceof ServiceError ? cause.retryAfterSeconds ?? null : null,
      },
    }
  },
})

/** Service errors become tRPC errors with the same meaning; anything else is an opaque 500. */
const mapServiceErrors = t.middleware(async ({ next }) => {
  const result = await next()
  if (!result.ok && result.error.cause instanceof ServiceError) {
    const cause = result.error.cause
    throw new TRPCError({ code: cause.code as TRPC_ERROR_CODE_KEY, message: cause.message, cause })
  }
  if (!result.ok && result.error.code === 'INTERNAL_SERVER_ERROR') {
    console.error('tRPC internal error:', result.error.cause?.message ?? result.error.message)
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong on our side' })
  }
  return result
})

export const router = t.router
export const createCallerFactory = t.createCallerFactory

export const publicProcedure = t.procedure.use(mapServiceErrors)

/**
 * Signed in (session row checked this request): narrows ctx.session and ctx.principal to non-null
 * and adds `scope`, the owners whose objects the caller sees (server/services/authz.ts) — every
 * procedure on owned objects passes it to the service, which puts it in the WHERE clause.
 */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session || !ctx.principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in to continue' })
  return next({ ctx: { ...ctx, session: ctx.session, user: ctx.session.user, principal: ctx.principal, scope: scopeOf(ctx.principal) } })
})

/** Signed in as an admin (authz.ts requireAdmin: FORBIDDEN otherwise). */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  requireAdmin(ctx.principal)
  return next({ ctx })
})
