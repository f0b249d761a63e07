/**
 * Host name → addresses over DNS-over-HTTPS (the JSON API of RFC 8484 resolvers such as
 * https://cloudflare-dns.com/dns-query): the one way a Worker can look a name up. A and AAAA are
 * asked together; answers are cached per isolate for their TTL (at most 5 minutes).
 */
const MAX_TTL_S = 300
const MAX_CACHED = 1000
const cache = new Map<string, { addresses: string[], until: number }>()

interface DohAnswer { Status?: number, Answer?: { type?: number, data?: string, TTL?: number }[] }

async function ask(resolver: string, name: string, type: 'A' | 'AAAA', timeoutMs: number): Promise<{ addresses: string[], ttl: number }> {
  const url = `${resolver}${resolver.includes('?') ? '&' : '?'}name=${encodeURIComponent(name)}&type=${type}`
  const res = await fetch(url, { headers: { accept: 'application/dns-json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
  if (res.status !== 200) throw new Error(`resolver answered ${res.status}`)
  const body = await res.json() as DohAnswer
  // NOERROR (0) with or without records, NXDOMAIN (3): an answer. Anything else: no answer.
  if (body.Status !== 0 && body.Status !== 3) throw new Error(`resolver status ${body.Status}`)
  const want = type === 'A' ? 1 : 28
  const records = (body.Answer ?? []).filter(a => a.type === want && typeof a.data === 'string')
  // No records: not cached (ttl 0), so a name that starts to resolve is seen at once.
  return { addresses: records.map(a => a.data!), ttl: records.length ? Math.min(MAX_TTL_S, ...records.map(a => Number(a.TTL ?? 0))) : 0 }
}

/** Every A and AAAA address of `name` (an empty list: it does not resolve). Throws when the resolver cannot be asked. */
export async function resolveAddresses(name: string, resolver: string, timeoutMs = 3000): Promise<string[]> {
  const key = `${resolver} ${name}`
  const hit = cache.get(key)
  if (hit && hit.until > Date.now()) return hit.addresses
  const [a, aaaa] = await Promise.all([ask(resolver, name, 'A', timeoutMs), ask(resolver, name, 'AAAA', timeoutMs)])
  const addresses = [...a.addresses, ...aaaa.addresses]
  const ttl = Math.min(a.ttl, aaaa.ttl)
  if (ttl > 0) {
    if (cache.size >= MAX_CACHED) cache.clear()
    cache.set(key, { addresses, until: Date.now() + ttl * 1000 })
  }
  return addresses
}
