import type { H3Event } from 'h3'
import { createDB } from '../../db/client'
import type { AppEnv } from '../env'

export function useEnv(event: H3Event): AppEnv {
  const env = event.context.cloudflare?.env as AppEnv | undefined
  if (!env?.DB) throw new Error('D1 binding DB is not available on this request')
  return env
}

/** The one place a request turns the D1 binding into Drizzle (no module-level singleton). */
export function useDB(event: H3Event) {
  return (event.context.db ??= createDB(useEnv(event).DB))
}
