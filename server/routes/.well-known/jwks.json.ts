import { defineEventHandler, toWebRequest } from 'h3'
import { jwksResponse } from '../../public-api/jwks'
import { useEnv } from '../../utils/db'

/** The built Worker answers /.well-known/jwks.json in its entry (server/entry.ts); this serves `nuxt dev` only. */
export default defineEventHandler(event => jwksResponse(toWebRequest(event), useEnv(event)))
