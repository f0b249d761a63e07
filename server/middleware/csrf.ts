import { createError, defineEventHandler, getRequestHeader, getRequestURL } from 'h3'

/**
 * CSRF for the web app's API (/api/trpc): every call must carry the custom header the app's client
 * sends (a cross-site page cannot set it without a CORS preflight, which we never grant), and a
 * browser-sent Origin must be our own. Together with SameSite=Lax cookies this closes CSRF.
 * The public REST API (/api/v1) uses no cookies and is deliberately cross-origin.
 */
const CSRF_HEADER = 'x-lm-client'

export default defineEventHandler((event) => {
  if (!event.path.startsWith('/api/trpc')) return
  if (getRequestHeader(event, CSRF_HEADER) !== 'web') {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `Missing ${CSRF_HEADER} header` })
  }
  const origin = getRequestHeader(event, 'origin')
  if (origin && origin !== getRequestURL(event).origin) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: 'Cross-origin request refused' })
  }
})
