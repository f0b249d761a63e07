import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiToken } from '../../server/services/api-tokens'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * A new seller's getting-started path (issue 15 item 2): the Overview checklist ticks each step
 * from real data as they do it in the UI — product, license, a verify call from "their app", a
 * webhook — and the Integrate page fills its snippets with this installation's URL and their key.
 */
let w: TestWorker
let browser: Browser
let receiver: WebhookReceiver

beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  w = await startWorker({ vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
  await receiver?.close()
})

const done = (p: Page, step: string) => p.locator(`[data-testid=onboarding-${step}][data-done=true]`)
const todo = (p: Page, step: string) => p.locator(`[data-testid=onboarding-${step}][data-done=false]`)

async function overview(p: Page) {
  await p.getByTestId('nav-main').getByRole('link', { name: 'Overview' }).click()
  await p.waitForURL(/\/$/)
}

describe('onboarding checklist and Integrate page (headless Chromium, built worker)', () => {
  const seller = { email: uniqueEmail('onboard'), password: 'onboard-password-42' }
  let sellerId = ''
  let page: Page
  const errors: string[] = []

  beforeAll(async () => {
    sellerId = (await createUser(w.context().ctx, { email: seller.email, name: 'New Seller', role: 'user', password: seller.password })).user.id
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    page = await context.newPage()
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  })

  it('a new seller sees five steps to do, the first one highlighted', async () => {
    await signIn(page, w.url, seller.email, seller.password)
    await page.getByTestId('onboarding').waitFor()
    await expect(page.getByTestId('onboarding-progress').textContent()).resolves.toBe('0 of 5 done')
    for (const step of ['product', 'license', 'verify', 'webhook', 'apiToken']) await todo(page, step).waitFor()
  })

  it('creating a product ticks "Create a product"', async () => {
    await page.getByTestId('onboarding-product').getByRole('link', { name: 'Add product' }).click()
    await page.waitForURL(/\/products$/)
    await page.locator('[data-testid=add-product]:not([disabled])').first().click()
    await page.getByTestId('product-name').fill('Photo Pro')
    await page.getByTestId('product-submit').click()
    await page.getByTestId('product-form').waitFor({ state: 'detached' })
    await overview(page)
    await done(page, 'product').waitFor()
    await expect(page.getByTestId('onboarding-progress').textContent()).resolves.toBe('1 of 5 done')
  })

  it('creating a license ticks "Create a license"', async () => {
    await page.getByTestId('onboarding-license').getByRole('link', { name: 'Create license' }).click()
    await page.waitForURL(/\/licenses$/)
    await page.locator('[data-testid=create-license-empty]:not([disabled])').click()
    await page.getByTestId('create-label').fill('First customer')
    await page.getByTestId('create-license-form').getByRole('button', { name: 'Create license' }).click()
    await page.getByTestId('created-key').waitFor()
    await page.getByTestId('created-done').click()
    await overview(page)
    await done(page, 'license').waitFor()
    await todo(page, 'verify').waitFor()
  })

  it('Integrate shows the real base URL and the masked key, then the revealed key in copyable snippets', async () => {
    await page.getByTestId('onboarding-verify').getByRole('link', { name: 'Open Integrate' }).click()
    await page.waitForURL(/\/integrate$/)
    await page.getByTestId('integrate-base-url').filter({ hasText: new RegExp(`^${w.url}$`) }).waitFor()
    const snippet = page.getByTestId('try-it-snippet')
    await snippet.filter({ hasText: `curl -s ${w.url}/api/v1/licenses/verify` }).waitFor()
    await page.getByTestId('try-it-placeholder').waitFor()
    expect(await snippet.textContent()).toMatch(/LICENSE_KEY='LM-.*[•…*]/)
    await page.getByTestId('try-it-tab-fetch').click()
    await expect(snippet.textContent()).resolves.toContain(`fetch('${w.url}/api/v1/licenses/verify'`)

    await page.locator('[data-testid=integrate-reveal]:not([disabled])').click()
    const key = (await page.getByTestId('integrate-key').textContent())!
    expect(key).toMatch(/^LM-[0-9A-Z]{5}(-[0-9A-Z]{5}){5}$/)
    await expect(snippet.textContent()).resolves.toContain(`key: '${key}'`)
    await page.getByTestId('try-it').getByRole('button', { name: 'Copy' }).click()
    await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toContain(key)
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)

    // "Their app" calls verify with the key (as the snippet does): the Overview ticks it without a reload.
    await overview(page)
    await todo(page, 'verify').waitFor()
    const res = await fetch(`${w.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) })
    expect((await res.json() as { code: string }).code).toBe('VALID')
    await done(page, 'verify').waitFor({ timeout: 15_000 })
  })

  it('adding a webhook ticks "Add a webhook"; an API token (its event) ticks the last step and the checklist goes away', async () => {
    await page.getByTestId('onboarding-webhook').getByRole('link', { name: 'Add endpoint' }).click()
    await page.waitForURL(/\/webhooks$/)
    await page.locator('[data-testid=add-webhook]:not([disabled])').click()
    await page.getByTestId('webhook-url').fill(`${receiver.url}/onboarding`)
    await page.getByTestId('create-webhook-form').getByRole('button', { name: 'Add endpoint' }).click()
    await page.getByTestId('created-secret').waitFor()
    await page.getByTestId('created-webhook-done').click()
    await page.goto(`${w.url}/`)
    await done(page, 'webhook').waitFor()
    await expect(page.getByTestId('onboarding-progress').textContent()).resolves.toBe('4 of 5 done')

    // A token created where the CLI and the Account card create them (server/services/api-tokens.ts).
    const { ctx } = w.context()
    await createApiToken(ctx, sellerId, { name: 'store', readOnly: false })
    await page.getByTestId('onboarding').waitFor({ state: 'detached', timeout: 15_000 })
    expect(errors).toEqual([])
  })
})
