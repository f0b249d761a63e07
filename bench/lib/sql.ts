/** The exact SQL the worker's services build with Drizzle, for running it outside the worker (bare floor, log timings). */
import type { D1Database } from '@cloudflare/workers-types'
import { createDB } from '../../db/client'
import type { LogFilter } from '../../shared/schemas/log'
import { logPageQuery, type LogScope } from '../../server/services/system-log'
import { lookupQuery } from '../../server/services/validation'

// Only .toSQL() is called: the binding is never used.
const db = () => createDB({} as D1Database)

/** verify's one indexed read (server/services/validation.ts lookupQuery), one digest, with or without a fingerprint. */
export function lookupSql(withFingerprint: boolean): { sql: string, params: unknown[] } {
  return lookupQuery(db(), ['DIGEST'], withFingerprint ? 'FINGERPRINT' : undefined).toSQL()
}

/** One system-log page as the service builds it (server/services/system-log.ts logPageQuery). */
export function logPageSql(filter: LogFilter, limit = 50, scope: LogScope = { all: true }): { sql: string, params: unknown[] } {
  return logPageQuery(db(), scope, filter, { limit }).toSQL()
}
