import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { signIn } from '../support/e2e'
import { uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * Floating seats end to end (issue 14): a license with a short lease created in the web app, devices
 * activated through the public API with the test-only clock (LM_TEST_CLOCK=1: one activation
 * back-dated so its 1-minute lease has lapsed, instead of waiting), and the page showing who holds a seat.
 */
let w: TestWorker
let browser: Browser
const seller = { email: uniqueEmail('pol-seller'), password: 'seller-password-42' }
const consoleErrors: string[] = []
let page: Page
let key = ''

beforeAll(async () => {
  w = await startWorker({ vars: { LM_TEST_CLOCK: '1' } })
  browser = await launchBrowser()
  const { ctx } = w.context()
  await createUser(ctx, { email: seller.email, name: 'Seller', role: 'user', password: seller.password })
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage()
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`) })
  await signIn(page, w.url, seller.email, seller.password)
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

async function choose(p: Page, testId: string, option: string | RegExp) {
  await p.getByTestId(testId).click()
  await p.getByRole('option', { name: option }).click()
  await p.getByRole('listbox').waitFor({ state: 'detached' })
}

async function activate(fingerprint: string, at: number) {
  const res = await fetch(`${w.url}/api/v1/licenses/activate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-lm-test-now': new Date(at).toISOString() },
    body: JSON.stringify({ key, fingerprint, name: `Lab PC ${fingerprint}` }),
  })
  return await res.json() as { code: string, devices: { used: number, max: number | null } }
}

describe('floating seats end to end (headless Chromium, built worker, real D1)', () => {
  it('the form refuses a lease under a minute, naming the field, and creates nothing', async () => {
    await page.goto(`${w.url}/licenses`)
    await page.getByTestId('create-license-empty').click()
    const form = page.getByTestId('create-license-form')
    await form.waitFor()
    await page.getByTestId('create-label').fill('Lab seats')
    await choose(page, 'create-expiry', 'Perpetual')
    await page.getByTestId('create-lease').fill('30s')
    await page.getByTestId('create-grace').fill('7d')
    await page.getByTestId('create-submit').click()
    await form.getByText('A lease is at least 1 minute').waitFor()
    await form.getByText('A perpetual license has no expiry to be late for').waitFor()
    expect(await page.getByTestId('created-license').count()).toBe(0)
  })

  it('creates a floating license with a 1-minute lease; a lapsed lease frees its seat for a third device; the page shows it', async () => {
    const form = page.getByTestId('create-license-form')
    await page.getByTestId('create-grace').fill('')
    await page.getByTestId('create-lease').fill('1min')
    await page.getByTestId('create-max-devices').fill('2')
    await page.getByTestId('create-submit').click()
    key = await page.getByTestId('created-key').inputValue()
    await form.waitFor({ state: 'detached' }) // the create form closes once the one-time dialog shows the key
    await page.getByTestId('open-created').click()
    await page.waitForURL(/\/licenses\/lic_/)
    await page.getByTestId('policy-lease').getByText('Floating, 1 min lease').waitFor()

    const now = Date.now()
    expect(await activate('lab-a', now - 70_000)).toMatchObject({ code: 'ACTIVATED' }) // its lease lapsed 10 s ago
    expect(await activate('lab-b', now)).toMatchObject({ code: 'ACTIVATED', devices: { used: 1, max: 2 } }) // lab-a holds no seat
    expect(await activate('lab-c', now)).toMatchObject({ code: 'ACTIVATED', devices: { used: 2, max: 2 } })
    expect(await activate('lab-d', now)).toMatchObject({ code: 'DEVICE_LIMIT_REACHED' })

    await page.reload()
    await page.getByTestId('devices-table').waitFor()
    await expect(page.getByTestId('license-devices').textContent()).resolves.toMatch(/2\s*\/\s*2/)
    await page.getByTestId('lease-lab-a').getByText('lease lapsed: no seat').waitFor()
    await page.getByTestId('lease-lab-b').getByText('lease until').waitFor()
    await page.getByTestId('lease-lab-c').getByText('lease until').waitFor()
  })

  it('at 390 px the license page has no horizontal overflow', async () => {
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
    phone.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${phone.url()}: ${m.text()}`) })
    await signIn(phone, w.url, seller.email, seller.password)
    await phone.goto(page.url())
    await phone.getByTestId('policy-badges').waitFor()
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)
    await phone.context().close()
  })

  it('no page logged a console error (but hydration notes from relative times seconds old)', () => {
    // The devices table shows "last seen 2 seconds ago": rendered on the server and again in the
    // browser a moment later, the text can differ — Vue notes it, nothing breaks. Everything else counts.
    expect(consoleErrors.filter(e => !/Hydration completed but contains mismatches/.test(e))).toEqual([])
  })
})
