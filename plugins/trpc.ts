import type { TRPCLink } from '@trpc/client'
import { observable } from '@trpc/server/observable'
import superjson from 'superjson'
import { createTRPCNuxtClient, httpBatchLink } from 'trpc-nuxt/client'
import type { AppRouter } from '~~/server/trpc/routers'

export default defineNuxtPlugin(() => {
  const headers = useRequestHeaders(['cookie', 'user-agent', 'cf-connecting-ip'])
  // During SSR in the Worker, route tRPC calls through the request event so they keep the
  // Cloudflare context (D1 binding); trpc-nuxt's default $fetch loses it.
  const event = import.meta.server ? useRequestEvent() : undefined
  const user = useState('auth:user')

  /** A session that ended elsewhere (logout, password change, disabled) sends the browser to /login. */
  const sessionEndedLink: TRPCLink<AppRouter> = () => ({ next, op }) => observable((observer) => {
    return next(op).subscribe({
      next: value => observer.next(value),
      complete: () => observer.complete(),
      error(err) {
        if (import.meta.client && err.data?.code === 'UNAUTHORIZED' && op.path !== 'auth.login' && user.value) {
          user.value = null
          void navigateTo({ path: '/login', query: { redirect: useRoute().fullPath } })
        }
        observer.error(err)
      },
    })
  })

  const client = createTRPCNuxtClient<AppRouter>({
    links: [
      sessionEndedLink,
      httpBatchLink({
        url: '/api/trpc',
        transformer: superjson,
        headers: () => ({ ...headers, 'x-lm-client': 'web' }),
        ...(event
          ? { fetch: (input: RequestInfo | URL, init?: RequestInit) => event.fetch(input.toString(), init as never) as unknown as Promise<Response> }
          : {}),
      }),
    ],
  })
  return { provide: { trpc: client } }
})
