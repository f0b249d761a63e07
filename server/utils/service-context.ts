import { createError, type H3Event } from 'h3'
import { sessionPrincipal, type Principal } from '../services/authz'
import { createServiceContext, logBackgroundError, type ServiceContext } from '../services/context'
import { ServiceError } from '../services/errors'
import { resolveSession, type ActiveSession } from '../services/sessions'
import { getAuditInfo } from './audit'
import { useDB, useEnv } from './db'
import { readSessionToken } from './session-cookie'

/** A request's service context for a principal (null: nobody signed in), through the one builder. */
export function serviceContextFromEvent(event: H3Event, principal: Principal | null): ServiceContext {
  const waitUntil = event.context.waitUntil as ((p: Promise<unknown>) => void) | undefined
  return createServiceContext({
    db: useDB(event),
    env: useEnv(event),
    principal,
    audit: getAuditInfo(event),
    waitUntil: p => (waitUntil ? waitUntil(p.catch(logBackgroundError)) : void p.catch(logBackgroundError)),
  })
}

/** The session cookie's live session, resolved once per request (an SSR render and its tRPC calls share it). */
export async function getRequestSession(event: H3Event): Promise<ActiveSession | null> {
  if (event.context.sessionPromise === undefined) {
    event.context.sessionPromise = resolveSession(serviceContextFromEvent(event, null), readSessionToken(event))
  }
  return await (event.context.sessionPromise as Promise<ActiveSession | null>)
}

/** The service context of a web-app request: its principal is the signed-in user, if any. */
export async function requestContext(event: H3Event): Promise<ServiceContext & { session: ActiveSession | null }> {
  const session = await getRequestSession(event)
  return { ...serviceContextFromEvent(event, session ? sessionPrincipal(session) : null), session }
}

const HTTP_STATUS: Record<ServiceError['code'], number> = {
  BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, TOO_MANY_REQUESTS: 429,
}

/** A service error as an h3 error for plain (non-tRPC) routes, with the same meaning. */
export function httpErrorOf(error: ServiceError) {
  return createError({ statusCode: HTTP_STATUS[error.code], message: error.message })
}

/**
 * For plain routes of the web app (e.g. the CSV export): the signed-in principal, checked by
 * `authorize` (one of server/services/authz.ts's checks); 401 when nobody is signed in.
 */
export async function authorizedRequestContext(event: H3Event, authorize: (p: Principal) => void) {
  const ctx = await requestContext(event)
  if (!ctx.principal) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Sign in to continue' })
  try {
    authorize(ctx.principal)
  }
  catch (error) {
    throw error instanceof ServiceError ? httpErrorOf(error) : error
  }
  return ctx as ServiceContext & { principal: Principal, session: ActiveSession }
}
