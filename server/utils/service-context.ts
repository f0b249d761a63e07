import type { H3Event } from 'h3'
import type { Actor, ServiceContext } from '../services/context'
import { getAuditInfo } from './audit'
import { useDB, useEnv } from './db'

export function serviceContextFromEvent(event: H3Event, actor: Actor): ServiceContext {
  const waitUntil = event.context.waitUntil as ((p: Promise<unknown>) => void) | undefined
  return {
    db: useDB(event),
    env: useEnv(event),
    actor,
    audit: getAuditInfo(event),
    waitUntil: p => (waitUntil ? waitUntil(p.catch(logBackgroundError)) : void p.catch(logBackgroundError)),
  }
}

function logBackgroundError(error: unknown) {
  console.error('background task failed:', error instanceof Error ? error.message : 'unknown error')
}
