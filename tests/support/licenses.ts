import { eq } from 'drizzle-orm'
import { licenses } from '../../db/schema'
import { createLicenseSchema, type CreateLicenseInput } from '../../shared/schemas/licenses'
import { createLicense } from '../../server/services/licenses'
import { createUser } from '../../server/services/users'
import { uniqueEmail } from './client'
import type { TestWorker } from './worker'

/** A user and licenses for them, created through the service layer on the worker's own D1. */
export async function seedOwner(w: TestWorker) {
  const { ctx } = w.context()
  const email = uniqueEmail('owner')
  const { user } = await createUser(ctx, { email, name: 'Owner', role: 'user', password: 'owner-password-1' })
  return { ...user, password: 'owner-password-1' }
}

export async function seedLicense(w: TestWorker, ownerId: string, input: CreateLicenseInput = {}) {
  const { ctx } = w.context()
  return await createLicense(ctx, ownerId, createLicenseSchema.parse(input))
}

export async function setLicense(w: TestWorker, id: string, changes: Partial<typeof licenses.$inferInsert>) {
  const { ctx } = w.context()
  await ctx.db.update(licenses).set(changes).where(eq(licenses.id, id))
}

/** POST a JSON body to a public route, as a developer's application would. */
export async function api(w: TestWorker, route: string, body: unknown, opts: { ip?: string, headers?: Record<string, string> } = {}) {
  const res = await fetch(`${w.url}/api/v1/licenses/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': opts.ip ?? '198.18.0.1', 'user-agent': 'contract-test', ...opts.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field by the tests
  let json: any
  try {
    json = JSON.parse(text)
  }
  catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}
