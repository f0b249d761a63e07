import type { H3Event } from 'h3'
import { canonicalIp } from '../lib/ip'
import type { AuditInfo } from '../services/context'

/**
 * Client IP: CF-Connecting-IP, set by Cloudflare at the edge (and by wrangler locally when absent),
 * in its canonical spelling (server/lib/ip.ts). Limits key on ipLimitKey() of it, never on the raw text.
 */
export function clientIpOf(headers: Pick<Headers, 'get'>): string {
  return canonicalIp(headers.get('cf-connecting-ip'))
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
