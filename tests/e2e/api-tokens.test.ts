import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProduct } from '../../server/services/products'
import { createUser } from '../../server/services/users'
import { createProductSchema } from '../../shared/schemas/products'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { mgmt, tokenFor } from '../support/management'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser
let page: Page
const seller = { email: uniqueEmail('tok-seller'), password: 'seller-password-42' }
const consoleErrors: string[] = []
let token = ''
let licenseId = ''
let sellerId = ''

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  const { ctx } = w.context()
  const { user } = await createUser(ctx, { email: seller.email, name: 'Seller', role: 'user', password: seller.password })
  sellerId = user.id
  await createProduct(ctx, user.id, createProductSchema.parse({ name: 'Photo Pro', slug: 'photo-pro' }))
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: w.url })
  page = await context.newPage()
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`) })
  await signIn(page, w.url, seller.email, seller.password)
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

describe('API tokens end to end (headless Chromium, built worker, real D1)', () => {
  it('creates a token on the Account page: the secret is shown once, with a working copy button', async () => {
    await page.getByTestId('nav-main').getByRole('link', { name: 'Account' }).click()
    await page.waitForURL(/\/account$/)
    const card = page.getByTestId('api-tokens-card')
    await card.getByText('No API tokens yet').waitFor()
    await page.locator('[data-testid=create-token]:not([disabled])').click()
    await page.getByTestId('create-token-form').waitFor()
    await page.getByTestId('token-name').fill('Stripe checkout')
    await page.getByTestId('create-token-submit').click()
    const secret = page.getByTestId('created-token-secret')
    await secret.waitFor()
    token = await secret.inputValue()
    expect(token).toMatch(/^lm_[0-9A-HJKMNP-TV-Z]{40}$/)
    await page.getByTestId('created-token').getByRole('button', { name: 'Copy', exact: true }).click()
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(token)
    await page.getByTestId('created-token-done').click()
    await page.getByTestId('created-token').waitFor({ state: 'detached' })
    // Listed masked, with its last four symbols; the secret is nowhere on the page any more.
    const row = card.getByTestId('tokens-list').locator('li').filter({ hasText: 'Stripe checkout' })
    await row.getByText(`lm_••••••••${token.slice(-4)}`).waitFor()
    await row.getByText('never used').waitFor()
    expect(await page.content()).not.toContain(token)
    // Opening the dialog again starts a new token: the old secret is not shown again.
    await page.getByTestId('create-token').click()
    await page.getByTestId('create-token-form').waitFor()
    expect(await page.content()).not.toContain(token)
    await page.keyboard.press('Escape')
    await page.getByTestId('create-token-form').waitFor({ state: 'detached' })
  })

  it('a license created through the API with that token appears in the table with its product and customer', async () => {
    const r = await mgmt(w, token, 'POST', '/licenses', { product: 'photo-pro', label: 'Checkout order', customerEmail: 'buyer@example.com', externalId: 'cs_123' }, { 'idempotency-key': 'cs_123' })
    expect(r.status).toBe(201)
    licenseId = r.json.license.id
    await page.getByTestId('nav-main').getByRole('link', { name: 'Licenses' }).click()
    await page.waitForURL(/\/licenses$/)
    await page.getByTestId(`product-${licenseId}`).getByText('Photo Pro').waitFor()
    await page.getByTestId(`customer-${licenseId}`).getByText('buyer@example.com').waitFor()
  })

  it('revoking the token (with a confirmation) makes the API refuse it', async () => {
    await page.getByTestId('nav-main').getByRole('link', { name: 'Account' }).click()
    await page.waitForURL(/\/account$/)
    const row = page.getByTestId('tokens-list').locator('li').filter({ hasText: 'Stripe checkout' })
    await row.getByText('last used').waitFor()
    await row.getByTestId('token-revoke').click()
    await page.getByTestId('confirm-ok').click()
    await page.getByText('Token revoked').first().waitFor()
    await row.getByTestId('token-status').getByText('revoked').waitFor()
    const refused = await mgmt(w, token, 'GET', `/licenses/${licenseId}`)
    expect(refused.status).toBe(401)
    expect(refused.json.error.message).toBe('This API token was revoked')
  })

  it('an admin sees every user\'s tokens under Admin → API tokens and revokes one', async () => {
    const made = await tokenFor(w, sellerId, { name: 'CRM sync' })
    const admin = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage()
    admin.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${admin.url()}: ${m.text()}`) })
    await signIn(admin, w.url, w.admin.email, w.admin.password)
    await admin.getByTestId('nav-admin').getByRole('link', { name: 'API tokens' }).click()
    await admin.waitForURL(/\/admin\/tokens$/)
    const list = admin.getByTestId('admin-tokens').getByTestId('tokens-list')
    const row = list.locator('li').filter({ hasText: 'CRM sync' })
    await row.getByText(seller.email).waitFor()
    // The revoked one is hidden until asked for.
    expect(await list.locator('li').filter({ hasText: 'Stripe checkout' }).count()).toBe(0)
    await admin.getByTestId('admin-tokens-show-revoked').click()
    await list.locator('li').filter({ hasText: 'Stripe checkout' }).getByTestId('token-status').getByText('revoked').waitFor()
    expect((await mgmt(w, made.token, 'GET', '/products')).status).toBe(200)
    await row.getByTestId('token-revoke').click()
    await admin.getByTestId('confirm-ok').click()
    await admin.getByText('Token revoked').first().waitFor()
    await row.getByTestId('token-status').getByText('revoked').waitFor()
    expect((await mgmt(w, made.token, 'GET', '/products')).status).toBe(401)
    await admin.context().close()
  })

  it('at 390 px the Account page is no wider than the screen', async () => {
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
    await signIn(phone, w.url, seller.email, seller.password)
    await phone.goto(`${w.url}/account`)
    await phone.getByTestId('tokens-list').getByText('Stripe checkout').waitFor()
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)
    await phone.context().close()
  })

  it('no page logged a console error', () => {
    expect(consoleErrors).toEqual([])
  })
})
