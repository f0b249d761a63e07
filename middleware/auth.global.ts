/** Every page needs a session except /login; admin pages need the admin role (the server checks too). */
export default defineNuxtRouteMiddleware(async (to) => {
  const { ensureLoaded } = useAuth()
  const user = await ensureLoaded()
  if (to.path === '/login') {
    if (user) return navigateTo(typeof to.query.redirect === 'string' && to.query.redirect.startsWith('/') && !to.query.redirect.startsWith('//') ? to.query.redirect : '/')
    return
  }
  if (!user) return navigateTo({ path: '/login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} })
  if (to.path.startsWith('/admin') && user.role !== 'admin') return navigateTo('/')
})
