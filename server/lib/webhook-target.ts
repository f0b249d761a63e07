import type { AppEnv } from '../env'
import { resolveAddresses } from './dns-over-https'
import { allowsLocalhostWebhooks, classifyHost, isLocalReceiver, isSpecialAddress, webhookUrlProblem } from './webhook-url'

/**
 * Whether a webhook URL may be sent to, checked when an endpoint is saved and again before every
 * attempt (docs/webhooks.md, "Which URLs are allowed"): the rules on the URL itself
 * (webhook-url.ts), then — for a host NAME — its addresses, looked up over DNS-over-HTTPS
 * (WEBHOOK_DNS_RESOLVER), each of which must be public. `off` skips the lookup.
 */
export const DEFAULT_DNS_RESOLVER = 'https://cloudflare-dns.com/dns-query'

export interface TargetRules { allowLocalhost: boolean, resolver: string | null }

export function targetRules(env: Pick<AppEnv, 'WEBHOOKS_ALLOW_LOCALHOST' | 'WEBHOOKS_ALLOW_PRIVATE' | 'WEBHOOK_DNS_RESOLVER'>): TargetRules {
  const resolver = (env.WEBHOOK_DNS_RESOLVER ?? '').trim()
  return { allowLocalhost: allowsLocalhostWebhooks(env), resolver: resolver === 'off' ? null : resolver || DEFAULT_DNS_RESOLVER }
}

export async function webhookTargetProblem(raw: string, rules: TargetRules): Promise<string | null> {
  const problem = webhookUrlProblem(raw, rules)
  if (problem) return problem
  if (isLocalReceiver(raw, rules) || !rules.resolver) return null
  const host = new URL(raw).hostname
  if (classifyHost(host).kind === 'ip') return null // a literal, checked above
  let addresses: string[]
  try {
    addresses = await resolveAddresses(host.replace(/\.$/, ''), rules.resolver)
  }
  catch {
    return 'Could not look up this host name (the DNS-over-HTTPS resolver did not answer); try again later'
  }
  if (addresses.length === 0) return 'This host name does not resolve to any address'
  if (addresses.some(isSpecialAddress)) return 'This host name resolves to a private, loopback or reserved address: webhooks go to public hosts only'
  return null
}
