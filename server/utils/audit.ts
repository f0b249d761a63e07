import { getRequestHeader, type H3Event } from 'h3'
import type { AuditInfo } from '../services/context'

/** Client IP: CF-Connecting-IP, set by Cloudflare at the edge (and by wrangler locally when absent). */
export function getClientIp(event: H3Event): string {
  return (getRequestHeader(event, 'cf-connecting-ip') ?? '').trim().slice(0, 64)
}

export function getAuditInfo(event: H3Event): AuditInfo {
  const cf = event.context.cloudflare?.request?.cf as { country?: string } | undefined
  return {
    ip: getClientIp(event),
    userAgent: (getRequestHeader(event, 'user-agent') ?? '').slice(0, 512),
    country: typeof cf?.country === 'string' ? cf.country : null,
  }
}
