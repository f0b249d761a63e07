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

  it('a refusal keeps the dialog open with the server\'s reason, and nothing is created or saved (AppFormModal)', async () => {
    const owner = new Caller(w.url)
    await owner.login(seller.email, seller.password)
    const before = await owner.trpc.webhooks.list.query({})
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const p = await context.newPage()
    await signIn(p, w.url, seller.email, seller.password)
    await p.goto(`${w.url}/webhooks`)
    await p.locator('[data-testid=add-webhook]:not([disabled])').click()
    const form = p.getByTestId('create-webhook-form')
    await form.waitFor()
    // The form accepts it (an http(s) URL); the server refuses a private address (server/lib/webhook-url.ts),
    // from the URL alone: nothing is looked up or sent. A refusal tied to a field shows under that field.
    await p.getByTestId('webhook-url').fill('https://10.1.2.3/hooks')
    await p.getByTestId('create-webhook-submit').click()
    await form.getByText('This address is private, loopback, reserved or internal').waitFor()
    await expect(form.isVisible()).resolves.toBe(true)
    await expect(p.getByTestId('created-secret').count()).resolves.toBe(0)
    expect((await owner.trpc.webhooks.list.query({})).map(e => e.id)).toEqual(before.map(e => e.id))
    await p.keyboard.press('Escape')
    await expect.poll(() => form.count()).toBe(0)

    // A refusal tied to no field (the endpoint was deleted meanwhile) is the dialog's error alert.
    const { webhook } = await owner.trpc.webhooks.create.mutate({ url: `${receiver.url}/gone`, description: 'Deleted meanwhile' })
    await p.goto(`${w.url}/webhooks/${webhook.id}`)
    await p.locator('[data-testid=webhook-edit]:not([disabled])').click()
    const edit = p.getByTestId('edit-webhook-form')
    await edit.waitFor()
    await owner.trpc.webhooks.delete.mutate({ id: webhook.id })
    await p.getByTestId('edit-webhook-url').fill(`${receiver.url}/gone-again`)
    await p.getByTestId('edit-webhook-submit').click()
    const alert = p.getByTestId('edit-webhook-form-error')
    await alert.waitFor()
    await expect(alert.textContent()).resolves.toContain('Could not save endpoint')
    await expect(alert.textContent()).resolves.toMatch(/not found/i)
    await expect(edit.isVisible()).resolves.toBe(true)
    expect((await owner.trpc.webhooks.list.query({})).map(e => e.id)).toEqual(before.map(e => e.id))
    await context.close()
  })

  it('an endpoint whose receiver answers 500 shows "retrying" with a countdown, then "failing"; Replay stays on screen at 1440 and 390 px', async () => {
    receiver.answers.set('/broken', { status: 500, body: 'internal error' })
    const owner = new Caller(w.url)
    await owner.login(seller.email, seller.password)
    const { webhook } = await owner.trpc.webhooks.create.mutate({ url: `${receiver.url}/broken`, description: 'Broken receiver' })
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const p = await context.newPage()
    await signIn(p, w.url, seller.email, seller.password)
    await p.goto(`${w.url}/webhooks/${webhook.id}`)
    await p.getByTestId('webhook-health').getByText('new').waitFor()

    await p.locator('[data-testid=webhook-send-test]:not([disabled])').click()
    await p.getByText('Test event not delivered').first().waitFor()
    await p.getByTestId('webhook-health').getByText('retrying').waitFor()
    // "retry 1 of 11 in 4 s …": a countdown to a time ahead, never "ago".
    expect((await p.getByTestId('health-next-retry').innerText()).trim()).toMatch(/^retry 1 of \d+ · (in \d+ s|due now)$/)
    // The first retry is 5 s after the attempt: the countdown runs down to "due now", never to a past time.
    await p.getByTestId('health-next-retry').getByText('due now').waitFor({ timeout: 15_000 })
    expect(await p.getByTestId('webhook-health').innerText()).not.toMatch(/ago/)

    for (let i = 0; i < 2; i++) {
      await p.locator('[data-testid=webhook-send-test]:not([disabled])').click()
      await p.getByTestId('deliveries-table').locator('tbody tr').nth(i + 1).waitFor()
    }
    await p.getByTestId('webhook-health').getByText('failing').waitFor()
    await p.getByTestId('webhook-failing').waitFor()
    await p.getByTestId('webhook-last-delivered').getByText('Never').waitFor()

    // Details and Replay of every row inside the viewport at 1440 px.
    const replay = p.getByTestId('deliveries-table').locator('[data-testid^=replay-]:visible').first()
    const box = (await replay.boundingBox())!
    expect(box.x + box.width).toBeLessThanOrEqual(1440)
    await p.getByTestId('nav-main').getByRole('link', { name: 'Webhooks' }).click()
    await p.getByTestId(`health-${webhook.id}`).getByText('failing').waitFor()

    // 390 px: cards, the actions visible, no sideways scrolling.
    await p.setViewportSize({ width: 390, height: 844 })
    await p.goto(`${w.url}/webhooks/${webhook.id}`)
    await p.getByTestId('webhook-health').getByText('failing').waitFor()
    const card = p.getByTestId('deliveries-cards').locator('li').first()
    await card.getByRole('button', { name: 'Replay' }).waitFor()
    const cardBox = (await card.getByRole('button', { name: 'Replay' }).boundingBox())!
    expect(cardBox.x + cardBox.width).toBeLessThanOrEqual(390)
    expect(await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)
    await context.close()
    await owner.trpc.webhooks.delete.mutate({ id: webhook.id })
  })
})
