import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch'
import type { H3Event } from 'h3'
import { requestContext } from '../utils/service-context'
import { checkBatch } from './batch'

/** The service context of the request (principal = the signed-in user, or null), plus what the auth router needs. */
export async function createContext(event: H3Event, opts: FetchCreateContextFnOptions) {
  // Before anything else (even the session read): a refused batch runs none of its calls.
  checkBatch(opts.info)
  return {
    ...await requestContext(event),
    event,
    resHeaders: opts.resHeaders,
  }
}

export type Context = Awaited<ReturnType<typeof createContext>>
