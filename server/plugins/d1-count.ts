import { setResponseHeaders } from 'h3'
import { countingD1, d1CountHeaders, d1CountingOn, type D1Counts } from '../lib/d1-count'

/**
 * D1 statement counting for the benchmark (server/lib/d1-count.ts), for every route served through
 * h3: only when the var LM_COUNT_D1=1 is set; otherwise one property read per request.
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('request', (event) => {
    const cf = event.context.cloudflare as { env?: { DB?: unknown } } | undefined
    if (!cf?.env?.DB || !d1CountingOn(cf.env)) return
    const counter = countingD1(cf.env.DB as Parameters<typeof countingD1>[0])
    event.context.cloudflare = { ...cf, env: { ...cf.env, DB: counter.binding } }
    event.context.d1Counts = counter.counts
  })
  nitroApp.hooks.hook('beforeResponse', (event) => {
    const counts = event.context.d1Counts as D1Counts | undefined
    if (counts) setResponseHeaders(event, d1CountHeaders(counts))
  })
})
