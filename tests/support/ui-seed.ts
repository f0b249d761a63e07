/**
 * A small, realistic dataset for looking at every page (bench:ui, tests/e2e/ui.test.ts): a product,
 * licenses in each state, a device, validations, a failing webhook endpoint and a second user.
 * Seeded through the same service code as the CLI, plus the public API as an app would call it.
 */
import { createServer } from 'node:net'
import { createLicense, suspendLicense } from '../../server/services/licenses'
import { createProduct } from '../../server/services/products'
import { createUser } from '../../server/services/users'
import { createWebhook } from '../../server/services/webhooks'
import { createLicenseSchema } from '../../shared/schemas/licenses'
import { createProductSchema } from '../../shared/schemas/products'
import { createWebhookSchema } from '../../shared/schemas/webhooks'
import type { TestWorker } from './worker'

export interface UiSeed {
  productId: string
  licenseId: string
  webhookId: string
  user: { email: string, password: string, id: string }
}

/** A loopback port nothing listens on: deliveries to it fail at once (connection refused). */
async function closedPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    }).on('error', reject)
  })
}

export async function seedUi(w: TestWorker): Promise<UiSeed> {
  const { ctx } = w.context()
  const user = { email: `seller-${Date.now()}@example.com`, password: 'seller-password-42', id: '' }
  user.id = (await createUser(ctx, { email: user.email, name: 'Sam Seller', role: 'user', password: user.password })).user.id
  const product = await createProduct(ctx, w.admin.id, createProductSchema.parse({ name: 'Photo Pro', slug: 'photo-pro', defaults: { maxDevices: 3, renewalPeriod: '1y' } }))
  const productId = product.id
  const main = await createLicense(ctx, w.admin.id, createLicenseSchema.parse({
    product: productId, label: 'ACME Corp · order 1042', expiresIn: '1y', customerEmail: 'buyer@acme.example', customerName: 'Alex Buyer', metadata: { tier: 'pro', seats: 3 },
  }))
  await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'Trial for Globex', expiresIn: '14d', customerEmail: 'it@globex.example' }))
  await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'Old import', expiresAt: new Date(Date.now() - 86_400_000) }))
  const suspended = await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'Chargeback case', product: productId }))
  await suspendLicense(ctx, { all: true }, suspended.license.id)
  await createLicense(ctx, user.id, createLicenseSchema.parse({ label: 'Seller app' }))
  // Long but realistic values (does a list show them in full where it has room?) and a trial that starts on first activation.
  await createLicense(ctx, w.admin.id, createLicenseSchema.parse({
    label: 'Initech Enterprise Suite · 250 seats · renewal 2027', expiresIn: '1y', customerName: 'Dr. Katharina Müller-Lüdenscheidt',
    customerEmail: 'katharina.mueller-luedenscheidt@procurement.initech-holdings.example', externalId: 'sub_1QxYz2AbCdEfGhIjKlMnOpQr',
  }))
  await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'Evaluation for Umbrella', expiresAfterActivation: '14d', customerEmail: 'eval@umbrella.example' }))
  await createProduct(ctx, w.admin.id, createProductSchema.parse({ name: 'Photo Pro Studio Edition for Teams', slug: 'photo-pro-studio-teams', defaults: { expiresIn: '30d' } }))
  // An app on a device: activation and a few validations for the log and the charts.
  const call = (route: string, body: object) => fetch(`${w.url}/api/v1/licenses/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await call('activate', { key: main.key, fingerprint: 'laptop-4f2a', name: 'Alex’s laptop' })
  for (let i = 0; i < 5; i++) await call('verify', { key: main.key, fingerprint: 'laptop-4f2a' })
  await call('verify', { key: 'LM-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF' })
  const hook = await createWebhook(ctx, w.admin.id, createWebhookSchema.parse({ url: `http://127.0.0.1:${await closedPort()}/hooks`, description: 'Billing system' }))
  const webhookId = hook.webhook.id
  // Loopback only (tests never reach another address), with a long path like a real integration's.
  await createWebhook(ctx, user.id, createWebhookSchema.parse({ url: `http://127.0.0.1:${await closedPort()}/integrations/license-manager/webhooks/v2/initech-customer-portal`, description: 'Provisioning and revocation for the Initech customer portal' }))
  return { productId, licenseId: main.license.id, webhookId, user }
}
