import type { DB } from '../../db/client'
import type { ActorType } from '../../db/schema'
import type { AppEnv } from '../env'
import { actorOf, type Principal } from './authz'

export interface Actor { type: ActorType, id: string | null }
export interface AuditInfo { ip: string, userAgent: string, country: string | null }

/** What every service function gets, from whichever door (tRPC, REST, CLI) called it. */
export interface ServiceContext {
  db: DB
  env: AppEnv
  /**
   * Who is asking (server/services/authz.ts); null for callers that are no one in particular: the
   * public API, scheduled jobs, a visitor who is not signed in.
   */
  principal: Principal | null
  /** How the caller appears in the audit log (derived from the principal). */
  actor: Actor
  audit: AuditInfo
  /** Run work after the response (Workers waitUntil); the CLI awaits it instead. */
  waitUntil: (promise: Promise<unknown>) => void
  now?: () => Date
  /** The origin the request came to (e.g. https://licenses.example.com): public URLs when PUBLIC_URL is unset. */
  origin?: string
  /**
   * When a change's webhooks get their first attempt: right after the commit through waitUntil
   * (Worker requests; the default), or by the next cron run (CLI, seeding, the cron itself).
   */
  webhookDelivery?: 'immediate' | 'cron'
}

export const nowOf = (ctx: Pick<ServiceContext, 'now'>) => (ctx.now ? ctx.now() : new Date())

export interface ServiceContextParts extends Omit<ServiceContext, 'principal' | 'actor'> {
  principal?: Principal | null
  /** Only for callers without a principal: the public API (`api`), scheduled jobs (`system`). */
  actor?: Actor
}

const ANONYMOUS: Actor = { type: 'anonymous', id: null }

/** The one builder of a service context, for every door: the actor follows from the principal. */
export function createServiceContext(parts: ServiceContextParts): ServiceContext {
  const principal = parts.principal ?? null
  return { ...parts, principal, actor: principal ? actorOf(principal) : parts.actor ?? ANONYMOUS }
}

/**
 * A context for work outside a request (CLI, cron): `waitUntil` work is collected and
 * `settle()` awaits it before the process or the scheduled event ends.
 */
export function offRequestContext(parts: Omit<ServiceContextParts, 'waitUntil'>) {
  const pending: Promise<unknown>[] = []
  const ctx = createServiceContext({ webhookDelivery: 'cron', ...parts, waitUntil: p => void pending.push(p) })
  return { ctx, settle: () => Promise.all(pending) }
}

/** What a failed `waitUntil` task leaves in the logs: its message, never its data. */
export function logBackgroundError(error: unknown) {
  console.error('background task failed:', error instanceof Error ? error.message : 'unknown error')
}
