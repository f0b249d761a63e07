import { defineEventHandler, toWebRequest } from 'h3'
import { handlePublicApi } from '../../public-api/handler'
import { useEnv } from '../../utils/db'

/**
 * The built Worker answers /api/v1 in its entry (server/entry.ts) and never gets here. This route
 * only serves `nuxt dev`, where that entry is not used, with the very same handler.
 */
export default defineEventHandler((event) => {
  const waitUntil = event.context.waitUntil as ((p: Promise<unknown>) => void) | undefined
  return handlePublicApi(toWebRequest(event), useEnv(event), p => (waitUntil ? waitUntil(p) : void p), event.path.split('?')[0])
})
