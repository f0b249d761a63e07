import type { inferRouterOutputs } from '@trpc/server'
import type { AppRouter } from '~~/server/trpc/routers'

export type SessionUser = NonNullable<inferRouterOutputs<AppRouter>['auth']['me']>

/** The signed-in user, loaded once (SSR or first navigation) and shared across the app. */
export function useAuth() {
  const { $trpc } = useNuxtApp()
  const user = useState<SessionUser | null>('auth:user', () => null)
  const loaded = useState<boolean>('auth:loaded', () => false)

  async function refresh() {
    user.value = await $trpc.auth.me.query()
    loaded.value = true
    return user.value
  }

  async function ensureLoaded() {
    if (!loaded.value) await refresh()
    return user.value
  }

  async function logout() {
    try {
      await $trpc.auth.logout.mutate()
    }
    finally {
      user.value = null
      await navigateTo('/login')
    }
  }

  return {
    user,
    isAdmin: computed(() => user.value?.role === 'admin'),
    refresh,
    ensureLoaded,
    logout,
  }
}
