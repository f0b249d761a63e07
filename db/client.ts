import type { D1Database } from '@cloudflare/workers-types'
import { drizzle } from 'drizzle-orm/d1'
import * as schema from './schema'

export type DB = ReturnType<typeof createDB>

/** Turn a D1 binding into Drizzle. Called per request (useDB) or per CLI run — never cached at module level. */
export function createDB(binding: D1Database) {
  return drizzle(binding, { schema })
}

export { schema }
