import type { H3Event } from 'h3'
import type { AuditInfo } from '../services/context'

/** Client IP: CF-Connecting-IP, set by Cloudflare at the edge (and by wrangler locally when absent). */
export function clientIpOf(headers: Pick<Headers, 'get'>): string {
  return (headers.get('cf-connecting-ip') ?? '').trim().slice(0, 64)
}

/** IP, user agent and country (`request.cf`, when the runtime gives one) of a request, for its events. */
export function auditInfoOf(headers: Pick<Headers, 'get'>, cf: unknown): AuditInfo {
  const country = (cf as { country?: unknown } | undefined)?.country
  return {
    ip: clientIpOf(headers),
    userAgent: (headers.get('user-agent') ?? '').slice(0, 512),
    country: typeof country === 'string' ? country : null,
  }
}

export function getClientIp(event: H3Event): string {
  return clientIpOf(event.headers)
}

export function getAuditInfo(event: H3Event): AuditInfo {
  return auditInfoOf(event.headers, event.context.cloudflare?.request?.cf)
}
