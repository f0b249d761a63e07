import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { Caller, uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { verifyWith, WebhookReceiver } from '../support/webhook-receiver'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser
let receiver: WebhookReceiver
const HOOK_TOKEN = `e2e-hook-token-${Date.now()}`

beforeAll(async () => {
  receiver = await new WebhookReceiver().start()
  // A local install: the receiver on 127.0.0.1 is allowed.
  w = await startWorker({ vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
  await receiver?.close()
})

describe('webhooks end to end (headless Chromium, built worker, real receiver)', () => {
  const seller = { email: uniqueEmail('hooks'), password: 'hooks-password-42' }
  let page: Page
  let secret = ''

  beforeAll(async () => {
    const { ctx } = w.context()
    await createUser(ctx, { email: seller.email, name: 'Hooks', role: 'user', password: seller.password })
  })

  it('a user adds an endpoint in the UI and sees its secret once, with a copy button', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    page = await context.newPage()
    await signIn(page, w.url, seller.email, seller.password)
    await page.getByTestId('nav-main').getByRole('link', { name: 'Webhooks' }).click()
    await page.waitForURL(/\/webhooks$/)
    await page.getByTestId('state-empty').getByText('No webhook endpoints yet').waitFor()

    await page.locator('[data-testid=add-webhook]:not([disabled])').click()
    const form = page.getByTestId('create-webhook-form')
    await form.waitFor()
    await page.getByTestId('webhook-url').fill('not a url')
    await form.getByRole('button', { name: 'Add endpoint' }).click()
    await form.getByText('Enter a full URL').waitFor()
    // A query string is where receivers often put a token: it stays with the endpoint, never in the log.
    await page.getByTestId('webhook-url').fill(`${receiver.url}/e2e?token=${HOOK_TOKEN}`)
    await page.getByTestId('webhook-description').fill('My billing system')
    await form.getByRole('button', { name: 'Add endpoint' }).click()

    const shown = page.getByTestId('created-secret')
    await shown.waitFor()
    secret = await shown.inputValue()
    expect(secret).toMatch(/^whsec_/)
    await page.getByTestId('created-webhook-copy').click()
    await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(secret)
    await page.getByTestId('open-created-webhook').click()
    await page.waitForURL(/\/webhooks\/whk_[0-9a-z]+$/)
    await page.getByTestId('webhook-url-display').getByText(`${receiver.url}/e2e?token=${HOOK_TOKEN}`).waitFor()
    await page.getByTestId('deliveries-table').or(page.getByTestId('state-empty')).first().waitFor()
  })

  it('sends a test event and sees it delivered (2xx) in the delivery log; the receiver verifies it', async () => {
    await page.locator('[data-testid=webhook-send-test]:not([disabled])').click()
    await page.getByText('Test event delivered').first().waitFor()
    const row = page.getByTestId('deliveries-table').locator('tbody tr').filter({ hasText: 'webhook.test' })
    await row.waitFor()
    await row.locator('[data-testid^=delivery-status-]').filter({ hasText: /^succeeded$/ }).waitFor()
    await row.locator('[data-testid^=delivery-code-]').filter({ hasText: /^200$/ }).waitFor()
    expect(receiver.at('/e2e')).toHaveLength(1)
    expect(verifyWith(secret, receiver.at('/e2e')[0]!)).toMatchObject({ type: 'webhook.test' })
    await page.getByTestId('webhook-health').getByText('healthy').waitFor()
  })

  it('reveals the same secret; a license created in the UI is delivered within seconds', async () => {
    await page.locator('[data-testid=webhook-reveal-secret]:not([disabled])').click()
    await expect(page.getByTestId('webhook-secret').textContent()).resolves.toBe(secret)
    await page.getByTestId('nav-main').getByRole('link', { name: 'Licenses' }).click()
    await page.locator('[data-testid=create-license-empty]:not([disabled])').click()
    await page.getByTestId('create-label').fill('Delivered by webhook')
    await page.getByTestId('create-license-form').getByRole('button', { name: 'Create license' }).click()
    await page.getByTestId('created-key').waitFor()
    await receiver.waitFor(r => r.some(x => x.json?.type === 'license.created'), 10_000)
    const got = receiver.at('/e2e').find(r => r.json.type === 'license.created')!
    expect(verifyWith(secret, got)).toMatchObject({ data: { license: { label: 'Delivered by webhook' } } })
  })

  it('after the run, the URL\'s token is in no event and in nothing the user\'s own log shows', async () => {
    const { ctx } = w.context()
    const rows = await ctx.db.select().from(events)
    expect(rows.map(r => r.type)).toEqual(expect.arrayContaining(['webhook.created', 'license.created']))
    expect(JSON.stringify(rows)).not.toContain(HOOK_TOKEN)
    // The test payload the receiver got names the endpoint without its query string.
    const test = receiver.at('/e2e').find(r => r.json.type === 'webhook.test')!
    expect(test.json.data.endpoint.url).toBe(`${receiver.url}/e2e?…`)
    const owner = new Caller(w.url)
    await owner.login(seller.email, seller.password)
    const mine = await owner.trpc.log.mine.query({ limit: 100 })
    expect(mine.items.map(e => e.type)).toContain('webhook.created')
    expect(JSON.stringify(mine)).not.toContain(HOOK_TOKEN)
  })
})
