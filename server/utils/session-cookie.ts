import { getCookie, getRequestURL, type H3Event } from 'h3'
import { serialize } from 'cookie-es'

/**
 * Session cookie: HttpOnly, SameSite=Lax, Path=/. Over HTTPS it is Secure with the __Host- prefix
 * (bound to the exact host); plain http is only expected on localhost during local runs.
 */
export function sessionCookieName(event: H3Event): string {
  return isSecure(event) ? '__Host-lm_session' : 'lm_session'
}

export function isSecure(event: H3Event): boolean {
  const url = getRequestURL(event, { xForwardedProto: false })
  if (url.protocol === 'https:') return true
  return !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
}

export function readSessionToken(event: H3Event): string | undefined {
  return getCookie(event, sessionCookieName(event))
}

export function sessionCookie(event: H3Event, token: string, expiresAt: Date): string {
  return serialize(sessionCookieName(event), token, {
    httpOnly: true,
    secure: isSecure(event),
    sameSite: 'lax',
    path: '/',
    expires: expiresAt,
  })
}

export function clearSessionCookie(event: H3Event): string {
  return serialize(sessionCookieName(event), '', {
    httpOnly: true,
    secure: isSecure(event),
    sameSite: 'lax',
    path: '/',
    maxAge: 0,
  })
}
