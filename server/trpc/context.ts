import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch'
import type { H3Event } from 'h3'
import { requestContext } from '../utils/service-context'

/** The service context of the request (principal = the signed-in user, or null), plus what the auth router needs. */
export async function createContext(event: H3Event, opts: FetchCreateContextFnOptions) {
  return {
    ...await requestContext(event),
    event,
    resHeaders: opts.resHeaders,
  }
}

export type Context = Awaited<ReturnType<typeof createContext>>
