import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch'
import type { H3Event } from 'h3'
import type { ActiveSession } from '../services/sessions'
import { resolveSession } from '../services/sessions'
import { checkBatch } from './batch'
import { serviceContextFromEvent } from '../utils/service-context'
import { readSessionToken } from '../utils/session-cookie'

/** Resolve the session once per request (SSR renders and tRPC calls share it). */
export async function getRequestSession(event: H3Event): Promise<ActiveSession | null> {
  if (event.context.sessionPromise === undefined) {
    const ctx = serviceContextFromEvent(event, { type: 'anonymous', id: null })
    event.context.sessionPromise = resolveSession(ctx, readSessionToken(event))
  }
  return await (event.context.sessionPromise as Promise<ActiveSession | null>)
}

export async function createContext(event: H3Event, opts: FetchCreateContextFnOptions) {
  // Before anything else (even the session read): a refused batch runs none of its calls.
  checkBatch(opts.info)
  const session = await getRequestSession(event)
  const base = serviceContextFromEvent(event, session ? { type: 'user', id: session.user.id } : { type: 'anonymous', id: null })
  return {
    ...base,
    session,
    event,
    resHeaders: opts.resHeaders,
  }
}

export type Context = Awaited<ReturnType<typeof createContext>>
