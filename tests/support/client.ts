import { createTRPCClient, createTRPCUntypedClient, httpLink, TRPCClientError } from '@trpc/client'
import superjson from 'superjson'
import type { AppRouter } from '../../server/trpc/routers'

/** A browser-like caller: a cookie jar, the app's CSRF header, and a client IP of its own. */
export class Caller {
  cookies = new Map<string, string>()
  readonly trpc: ReturnType<typeof createTRPCClient<AppRouter>>
  readonly raw: ReturnType<typeof createTRPCUntypedClient<AppRouter>>

  constructor(public readonly baseUrl: string, public ip = randomIp(), public userAgent = 'vitest') {
    const links = () => [httpLink({ url: `${baseUrl}/api/trpc`, transformer: superjson, fetch: this.fetch })]
    this.trpc = createTRPCClient<AppRouter>({ links: links() })
    this.raw = createTRPCUntypedClient<AppRouter>({ links: links() })
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    headers.set('x-lm-client', 'web')
    headers.set('cf-connecting-ip', this.ip)
    headers.set('user-agent', this.userAgent)
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(input, { ...init, headers })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const [name, ...rest] = pair!.split('=')
      const value = rest.join('=')
      if (!value || /max-age=0/i.test(line)) this.cookies.delete(name!.trim())
      else this.cookies.set(name!.trim(), value)
    }
    return res
  }

  get sessionToken(): string | undefined {
    return this.cookies.get('lm_session')
  }

  async login(email: string, password: string) {
    return await this.trpc.auth.login.mutate({ email, password })
  }
}

let ipCounter = 0
/** Documentation-range IPs (RFC 5737), distinct per caller so throttles never cross tests. */
export function randomIp(): string {
  ipCounter++
  return `198.51.${Math.floor(Math.random() * 200) + 1}.${(ipCounter % 250) + 1}`
}

/** The tRPC error code of a failed call (UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, …). */
export async function errorOf(promise: Promise<unknown>): Promise<{ code: string, status: number, message: string, fieldErrors: Record<string, string[]> | null }> {
  try {
    await promise
  }
  catch (error) {
    if (error instanceof TRPCClientError) {
      const data = error.data as { code: string, httpStatus: number, fieldErrors?: Record<string, string[]> | null }
      return { code: data?.code, status: data?.httpStatus, message: error.message, fieldErrors: data?.fieldErrors ?? null }
    }
    throw error
  }
  throw new Error('expected the call to fail, it succeeded')
}

let emailCounter = 0
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${Date.now().toString(36)}-${++emailCounter}@example.com`
}
