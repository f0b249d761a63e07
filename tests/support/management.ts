import { createApiToken } from '../../server/services/api-tokens'
import type { TestWorker } from './worker'

export interface MgmtAnswer {
  status: number
  headers: Headers
  text: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field by the tests
  json: any
}

/** A management API call as a seller's backend makes it: `Authorization: Bearer <token>` and a JSON body. */
export async function mgmt(w: TestWorker, token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<MgmtAnswer> {
  const res = await fetch(`${w.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      'user-agent': 'mgmt-test',
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  }
  catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}

/** A token for `userId`, made through the service (as the CLI does). */
export async function tokenFor(w: TestWorker, userId: string, opts: { readOnly?: boolean, expiresIn?: string, name?: string } = {}) {
  const { ctx } = w.context()
  const { token, apiToken } = await createApiToken(ctx, userId, { name: opts.name ?? 'test', readOnly: opts.readOnly ?? false, expiresIn: opts.expiresIn })
  return { token, id: apiToken.id }
}
