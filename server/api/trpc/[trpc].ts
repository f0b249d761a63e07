import { createTRPCNuxtHandler } from 'trpc-nuxt/server'
import { MAX_BATCH_CALLS } from '../../trpc/batch'
import { createContext } from '../../trpc/context'
import { appRouter } from '../../trpc/routers'

export default createTRPCNuxtHandler({
  endpoint: '/api/trpc',
  router: appRouter,
  createContext,
  // Larger batches are refused before their body is read (server/trpc/batch.ts).
  maxBatchSize: MAX_BATCH_CALLS,
})
