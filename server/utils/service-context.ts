import type { H3Event } from 'h3'
import { logBackgroundError, type Actor, type ServiceContext } from '../services/context'
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

