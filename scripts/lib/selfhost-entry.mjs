// The self-hosted server's main module (scripts/lib/server.ts loads it into workerd beside the built
// worker, .output/server/index.mjs, as `lm-selfhost.mjs`). It adds no layer to a request: `served`
// (what the public port reaches) calls the built worker's own fetch with the same request. What it
// adds is bookkeeping of `waitUntil` work, so a graceful shutdown can wait for it, and `control`, an
// entrypoint on a loopback-only socket guarded by a per-process token, through which the server fires
// the cron schedule and waits for idle. Neither is reachable on the served port.
import app from './index.mjs'

export * from './index.mjs'

const CONTROL_TOKEN = '__LM_CONTROL_TOKEN__'

let pending = 0
const settle = () => void pending--

/** The request's ExecutionContext with `waitUntil` counted (and, when `into` is given, collected). */
function tracked(ctx, into) {
  return {
    waitUntil(promise) {
      pending++
      const p = Promise.resolve(promise).finally(settle)
      if (into) into.push(p)
      ctx.waitUntil(p)
    },
    passThroughOnException() {
      ctx.passThroughOnException()
    },
    get props() {
      return ctx.props
    },
    get exports() {
      return ctx.exports
    },
  }
}

const fetchTracked = (request, env, ctx) => app.fetch(request, env, tracked(ctx))

export default {
  fetch: fetchTracked,
  scheduled: (controller, env, ctx) => app.scheduled(controller, env, tracked(ctx)),
}

/** The public port's entrypoint: the built worker, nothing in front of it. */
export const served = { fetch: fetchTracked }

/** Operator entrypoint: loopback socket only, and the token of this process. */
export const control = {
  async fetch(request, env, ctx) {
    if (request.headers.get('x-lm-control') !== CONTROL_TOKEN) return new Response(null, { status: 404 })
    const url = new URL(request.url)
    if (url.pathname === '/scheduled') {
      const cron = url.searchParams.get('cron') ?? ''
      const work = []
      await app.scheduled({ cron, scheduledTime: Date.now(), noRetry() {} }, env, tracked(ctx, work))
      // Like a Cron Trigger's event: done when its waitUntil work is (including work that work adds).
      for (let seen = 0; seen < work.length;) {
        const batch = work.slice(seen)
        seen = work.length
        await Promise.allSettled(batch)
      }
      return new Response('ok')
    }
    if (url.pathname === '/idle') {
      // Polled: a promise settled by another request's work would look hung to workerd.
      while (pending > 0) await new Promise(resolve => setTimeout(resolve, 10))
      // The rate limiter saves its counts behind (server/durable/rate-limiter.ts): write them now, so a
      // graceful restart keeps every window. Kinds and instance names as server/lib/rate-limit.ts.
      const ns = env.RATE_LIMITER
      if (ns && url.searchParams.has('save')) {
        const n = Number(env.RATE_LIMIT_SHARDS)
        const shards = Number.isInteger(n) && n > 0 ? Math.min(n, 256) : 16
        const names = ['users', 'ips', 'licenses'].flatMap(kind => Array.from({ length: shards }, (_, n) => `${kind}:${n}`))
        await Promise.all(names.map(name => ns.get(ns.idFromName(name)).saveNow()))
      }
      return new Response('idle')
    }
    return new Response(null, { status: 404 })
  },
}
