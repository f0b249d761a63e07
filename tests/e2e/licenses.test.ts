import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { createLicense } from '../../server/services/licenses'
import { createUser } from '../../server/services/users'
import { createLicenseSchema } from '../../shared/schemas/licenses'
import { launchBrowser } from '../support/browser'
import { signIn as signInAs } from '../support/e2e'
import { uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  return await context.newPage()
}

const signIn = (page: Page, email: string, password: string) => signInAs(page, w.url, email, password)

/** The public REST API, called as a developer's application would. */
async function api(route: 'verify' | 'activate' | 'deactivate', body: Record<string, string>) {
  const res = await fetch(`${w.url}/api/v1/licenses/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status).toBe(200)
  return await res.json() as { code: string, valid?: boolean, license?: { expiresAt: string | null, metadata: Record<string, unknown>, devices: { used: number, max: number | null } } }
}

describe('licenses end to end (headless Chromium, built worker, real D1)', () => {
  const owner = { email: uniqueEmail('seller'), password: 'seller-password-42', id: '' }
  let page: Page
  let key = ''
  let licenseId = ''
  /** Someone else's license: the user must never see it. */
  let adminLicenseId = ''

  beforeAll(async () => {
    const { ctx } = w.context()
    owner.id = (await createUser(ctx, { email: owner.email, name: 'Seller', role: 'user', password: owner.password })).user.id
    adminLicenseId = (await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'In-house build' }))).license.id
  })

  it('the user opens Licenses from the navigation and sees the empty state', async () => {
    page = await newPage()
    await signIn(page, owner.email, owner.password)
    await page.getByTestId('nav-main').getByRole('link', { name: 'Licenses' }).click()
    await page.waitForURL(/\/licenses$/)
    await page.getByTestId('state-empty').getByText('No licenses yet').waitFor()
    await expect(page.getByTestId('create-license-empty').isVisible()).resolves.toBe(true)
  })

  it('creates a license with two seats in the modal, metadata checked live, and sees the full key once', async () => {
    await page.getByTestId('create-license').click()
    const form = page.getByTestId('create-license-form')
    await form.waitFor()
    // An admin picks an owner; a user never sees that field.
    expect(await page.getByTestId('create-owner').count()).toBe(0)
    await page.getByTestId('create-label').fill('ACME Corp · order 1042')

    await page.getByTestId('create-expiry').click()
    await page.getByRole('option', { name: 'Trial · 14 days' }).click()
    const maxDevices = page.getByTestId('create-max-devices')
    await maxDevices.fill('2')
    await maxDevices.press('Tab')

    const metadata = page.getByTestId('create-metadata')
    await metadata.fill('{"tier": "pro"')
    await form.getByText('Not valid JSON').waitFor()
    await metadata.fill('["pro"]')
    await form.getByText('Must be a JSON object').waitFor()
    await metadata.fill('{"tier": "pro", "seats": 2}')
    await form.getByText(/Valid JSON · \d+ of 4096 bytes/).waitFor()

    await form.getByRole('button', { name: 'Create license' }).click()
    const created = page.getByTestId('created-key')
    await created.waitFor()
    key = await created.inputValue()
    expect(key).toMatch(/^LM-[0-9A-Z]{5}(-[0-9A-Z]{5}){5}$/)
    await page.getByText('Keep this key secret', { exact: true }).waitFor()
    await page.getByText(/see the full key again with Reveal/).waitFor()
    await page.getByTestId('created-done').click()
    await page.getByTestId('created-license').waitFor({ state: 'detached' })

    const table = page.getByTestId('licenses-table')
    const row = table.locator('tbody tr').filter({ hasText: 'ACME Corp · order 1042' })
    await row.waitFor()
    await expect(row.textContent()).resolves.toContain('0 / 2')
    await expect(row.textContent()).resolves.toContain(`LM-•••••-•••••-•••••-•••••-•••••-••${key.slice(-3)}`)
    await row.getByText('active', { exact: true }).waitFor()
  })

  it('the application activates a device and verifies the key over REST', async () => {
    await expect(api('activate', { key, fingerprint: 'laptop-1', name: 'Ada’s laptop' })).resolves.toMatchObject({ code: 'ACTIVATED' })
    const verified = await api('verify', { key, fingerprint: 'laptop-1' })
    expect(verified).toMatchObject({ code: 'VALID', valid: true, license: { metadata: { tier: 'pro', seats: 2 }, devices: { used: 1, max: 2 } } })
  })

  it('the detail page shows the device; freeing it (after confirming) ends its activation', async () => {
    await page.getByTestId('licenses-table').getByRole('link', { name: 'ACME Corp · order 1042', exact: true }).click()
    await page.waitForURL(/\/licenses\/lic_[0-9a-z]+$/)
    licenseId = new URL(page.url()).pathname.split('/').pop()!
    await page.getByTestId('device-laptop-1').waitFor()
    await expect(page.getByTestId('license-devices').textContent()).resolves.toBe('1 / 2')
    await expect(page.getByTestId('license-status').textContent()).resolves.toBe('active')

    // The key is hidden until revealed.
    expect(await page.getByTestId('license-key').count()).toBe(0)
    await page.getByTestId('reveal-key').click()
    await expect(page.getByTestId('license-key').textContent()).resolves.toBe(key)

    await page.getByTestId('free-device-laptop-1').click()
    await page.getByTestId('confirm-ok').click()
    await page.getByText('Device freed').first().waitFor()
    await page.getByTestId('device-laptop-1').waitFor({ state: 'detached' })
    await expect(page.getByTestId('license-devices').textContent()).resolves.toBe('0 / 2')

    await expect(api('verify', { key, fingerprint: 'laptop-1' })).resolves.toMatchObject({ code: 'DEVICE_NOT_ACTIVATED', valid: false })
  })

  it('suspending the license in the UI makes the API answer SUSPENDED', async () => {
    await page.getByTestId('license-suspend').click()
    await page.getByTestId('confirm-ok').click()
    await page.getByText('License suspended').first().waitFor()
    await page.getByTestId('license-status').filter({ hasText: /^suspended$/ }).waitFor()
    await page.getByTestId('license-reinstate').waitFor()
    await expect(api('verify', { key, fingerprint: 'laptop-1' })).resolves.toMatchObject({ code: 'SUSPENDED', valid: false })
    await expect(api('verify', { key })).resolves.toMatchObject({ code: 'SUSPENDED' })

    // Its history shows what happened, newest first.
    const history = page.getByTestId('license-events')
    // In plain words (shared/event-names.ts), the type code in each row's title.
    for (const label of ['License suspended', 'Device freed', 'Key revealed', 'Key verified', 'Device activated', 'License created']) {
      await history.getByText(label, { exact: true }).first().waitFor()
    }
  })

  it('a license that does not exist, or is not yours, is a clear not-found page', async () => {
    await page.goto(`${w.url}/licenses/lic_doesnotexist0`)
    await page.getByTestId('license-not-found').waitFor()
    await page.goto(`${w.url}/licenses/${adminLicenseId}`)
    await page.getByTestId('license-not-found').waitFor()
    expect(await page.getByText('In-house build').count()).toBe(0)
  })

  it('an admin sees the license with its owner and narrows the list by status and by owner', async () => {
    const admin = await newPage()
    await signIn(admin, w.admin.email, w.admin.password)
    await admin.getByTestId('nav-main').getByRole('link', { name: 'Licenses' }).click()
    await admin.waitForURL(/\/licenses$/)
    await expect(admin.getByTestId(`owner-${licenseId}`).textContent()).resolves.toBe(owner.email)
    await admin.getByTestId('licenses-table').getByRole('columnheader', { name: 'Owner' }).waitFor()
    await admin.getByTestId(`status-${licenseId}`).filter({ hasText: /^suspended$/ }).waitFor()

    await admin.getByTestId('licenses-status').click()
    await admin.getByRole('option', { name: 'Active' }).click()
    await admin.getByTestId(`owner-${licenseId}`).waitFor({ state: 'detached' })
    await admin.getByTestId(`owner-${adminLicenseId}`).waitFor()
    await admin.getByTestId('licenses-status').click()
    await admin.getByRole('option', { name: 'Suspended' }).click()
    await admin.getByTestId(`owner-${licenseId}`).waitFor()
    await admin.getByTestId(`owner-${adminLicenseId}`).waitFor({ state: 'detached' })
    await admin.getByTestId('licenses-status').click()
    await admin.getByRole('option', { name: 'All statuses' }).click()

    // Both owners' licenses, then only the seller's through the owner filter (a server-side user search).
    await admin.getByTestId(`owner-${adminLicenseId}`).waitFor()
    await admin.getByTestId('licenses-owner').click()
    await admin.keyboard.type(owner.email.split('@')[0]!)
    await admin.getByRole('option', { name: new RegExp(owner.email) }).click()
    await admin.getByTestId(`owner-${adminLicenseId}`).waitFor({ state: 'detached' })
    await expect(admin.getByTestId(`owner-${licenseId}`).textContent()).resolves.toBe(owner.email)
  })

  it('metadata edited on the detail page reaches the API; renew and reinstate work from the page', async () => {
    await page.goto(`${w.url}/licenses/${licenseId}`)
    await page.locator('[data-testid=metadata-input]').waitFor()
    const before = await api('verify', { key })
    const editor = page.getByTestId('metadata-input')
    await editor.fill('{"tier": "enterprise"')
    await page.getByTestId('metadata-form').getByText('Not valid JSON').waitFor()
    await editor.fill('{"tier": "enterprise", "seats": 2}')
    await page.getByTestId('metadata-save').click()
    await page.getByText('Metadata saved').first().waitFor()
    await expect(api('verify', { key })).resolves.toMatchObject({ license: { metadata: { tier: 'enterprise', seats: 2 } } })

    await page.getByTestId('license-renew').click()
    await page.getByTestId('renew-form').getByText('By a duration').click()
    await page.getByTestId('renew-duration').fill('30d')
    await page.getByTestId('renew-submit').click()
    await page.getByText('License renewed').first().waitFor()
    const after = await api('verify', { key })
    expect(new Date(after.license!.expiresAt!).getTime() - new Date(before.license!.expiresAt!).getTime()).toBe(30 * 86_400_000)

    await page.getByTestId('license-reinstate').click()
    await page.getByText('License reinstated').first().waitFor()
    await page.getByTestId('license-status').filter({ hasText: /^active$/ }).waitFor()
    await expect(api('verify', { key })).resolves.toMatchObject({ code: 'VALID' })
  })

  it('the key never reaches the audit log', async () => {
    const { ctx } = w.context()
    const dump = JSON.stringify(await ctx.db.select().from(events))
    expect(dump).toContain('license.key_revealed')
    expect(dump.includes(key)).toBe(false)
    expect(dump.includes(key.replace(/^LM-/, '').replaceAll('-', ''))).toBe(false)
  })

  it('deleting the license (after confirming) returns to the list, and the key is unknown to the API', async () => {
    await page.goto(`${w.url}/licenses/${licenseId}`)
    await page.getByTestId('license-delete').click()
    await page.getByTestId('confirm-ok').click()
    await page.waitForURL(/\/licenses$/)
    await page.getByText('License deleted').first().waitFor()
    await page.getByTestId('state-empty').getByText('No licenses yet').waitFor()
    await expect(api('verify', { key })).resolves.toMatchObject({ code: 'NOT_FOUND', valid: false })
  })
})

describe('sorting the licenses list on the server (headless Chromium)', () => {
  it('sorts the whole result across the "Load more" boundary, both ways, kept in the URL', async () => {
    const { ctx } = w.context()
    const seller = await createUser(ctx, { email: uniqueEmail('sorter'), name: 'Sorter', role: 'user', password: 'sorter-password-42' })
    // 55 licenses created in a shuffled order, so creation order is not label order.
    const labels = Array.from({ length: 55 }, (_, i) => `Sort ${String(i).padStart(2, '0')}`)
    const shuffled = labels.map((l, i) => [l, (i * 37) % 55] as const).sort((a, b) => a[1] - b[1]).map(([l]) => l)
    for (const label of shuffled) {
      // Each in a later millisecond than the one before: "newest first" is by creation time, and two
      // licenses of one millisecond are a tie in any order.
      const created = Date.now()
      await createLicense(ctx, seller.user.id, createLicenseSchema.parse({ label }))
      while (Date.now() === created) await new Promise(resolve => setImmediate(resolve))
    }
    const p = await newPage()
    await signIn(p, seller.user.email, 'sorter-password-42')
    await p.goto(`${w.url}/licenses`)
    const shown = async () => (await p.getByTestId('licenses-table').locator('tbody tr td:first-child a').allInnerTexts()).map(t => t.trim())
    await p.getByTestId('licenses-load-more').waitFor()
    expect((await shown()).slice(0, 3)).toEqual(shuffled.slice(-3).reverse())

    await p.getByTestId('licenses-table').getByRole('button', { name: /^Sort by License/ }).click()
    await p.waitForURL(/sort=label&dir=asc/)
    await expect.poll(async () => (await shown())[0], { timeout: 10_000 }).toBe('Sort 00')
    expect(await shown()).toEqual(labels.slice(0, 50))
    await p.getByTestId('licenses-load-more').click()
    await expect.poll(async () => (await shown()).length, { timeout: 10_000 }).toBe(55)
    expect(await shown()).toEqual(labels)
    await p.getByTestId('licenses-load-more').waitFor({ state: 'detached' })

    await p.getByTestId('licenses-table').getByRole('button', { name: /^Sort by License/ }).click()
    await p.waitForURL(/sort=label&dir=desc/)
    await expect.poll(async () => (await shown())[0], { timeout: 10_000 }).toBe('Sort 54')
    await p.reload()
    await p.getByTestId('licenses-load-more').waitFor()
    expect(await shown()).toEqual([...labels].reverse().slice(0, 50))
    await p.getByTestId('licenses-load-more').click()
    await expect.poll(async () => (await shown()).length, { timeout: 10_000 }).toBe(55)
    expect(await shown()).toEqual([...labels].reverse())
    // Only what the server sorts is offered: no sort button on Product or Devices.
    expect(await p.getByTestId('licenses-table').getByRole('button', { name: /^Sort by (Product|Devices)/ }).count()).toBe(0)
    await p.context().close()
  })
})
