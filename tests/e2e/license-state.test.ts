import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { api, seedLicense, setLicense } from '../support/licenses'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * A license's state is hard to miss (issue 15 item 6): a banner with the fitting action for a
 * suspended, expired or soon-expiring license, relative times, a trial badge, durations in words,
 * and one renewal control in Create and Edit.
 */
let w: TestWorker
let browser: Browser
let page: Page
let ownerId = ''
const owner = { email: uniqueEmail('state'), password: 'state-password-42' }
const DAY = 86_400_000

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  ownerId = (await createUser(w.context().ctx, { email: owner.email, name: 'State', role: 'user', password: owner.password })).user.id
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage()
  await signIn(page, w.url, owner.email, owner.password)
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

describe('license state on the license page (headless Chromium)', () => {
  it('suspended: a banner with Reinstate, which works', async () => {
    const { license } = await seedLicense(w, ownerId, { label: 'Suspended one', expiresIn: '1y', renewalPeriod: '1y' })
    await page.goto(`${w.url}/licenses/${license.id}`)
    await page.locator('[data-testid=license-suspend]:not([disabled])').click()
    await page.getByRole('button', { name: 'Suspend license' }).click()
    const banner = page.getByTestId('license-banner-suspended')
    await banner.waitFor()
    await banner.getByRole('button', { name: 'Reinstate' }).click()
    await banner.waitFor({ state: 'detached' })
    await page.getByTestId('license-status').getByText('active').waitFor()
  })

  it('expired: "expired 3 days ago" with Renew, which opens the renew form; renewing clears the banner', async () => {
    const { license } = await seedLicense(w, ownerId, { label: 'Expired one', expiresAt: new Date(Date.now() - 3 * DAY - 3_600_000), renewalPeriod: '1y' })
    await page.goto(`${w.url}/licenses/${license.id}`)
    const banner = page.getByTestId('license-banner-expired')
    await banner.getByText(/This license expired 3 days ago/).waitFor()
    await page.getByTestId('license-expires-relative').getByText('expired 3 days ago').waitFor()
    await banner.locator('button:not([disabled])', { hasText: 'Renew' }).click()
    const form = page.getByTestId('renew-form')
    await form.getByText('Adds 1 year to the later of now and the current expiry.').waitFor()
    await page.getByTestId('renew-submit').click()
    await banner.waitFor({ state: 'detached' })
    await page.getByTestId('license-expires-relative').getByText(/^expires in 1 year$/).waitFor()
  })

  it('expiring soon and a trial: "expires in 9 days", the trial badge, Renew; perpetual and long terms have neither', async () => {
    const { license } = await seedLicense(w, ownerId, { label: 'Trial one', expiresIn: '14d' })
    await setLicense(w, license.id, { expiresAt: new Date(Date.now() + 9 * DAY + 3_600_000) })
    await page.goto(`${w.url}/licenses/${license.id}`)
    await page.getByTestId('license-banner-expiring').getByText(/This license expires in 9 days/).waitFor()
    await page.getByTestId('license-trial').waitFor()
    const { license: yearly } = await seedLicense(w, ownerId, { label: 'Yearly', expiresIn: '1y', renewalPeriod: '1y' })
    await page.goto(`${w.url}/licenses/${yearly.id}`)
    await page.getByTestId('license-summary').waitFor()
    expect(await page.locator('[data-testid^=license-banner-]').count()).toBe(0)
    expect(await page.getByTestId('license-trial').count()).toBe(0)
    await page.getByTestId('license-summary').getByText('1 year', { exact: true }).waitFor()
  })

  it('Edit has the same renewal control as Create: presets in words, a custom duration shown in words', async () => {
    const { license, key } = await seedLicense(w, ownerId, { label: 'Custom renewal', expiresIn: '1y', renewalPeriod: '6mo' })
    // Two calls from "the app": the page's 30-day sparkline counts them (events are written just after each answer).
    for (let i = 0; i < 2; i++) await api(w, 'verify', { key })
    await expect.poll(async () => {
      await page.goto(`${w.url}/licenses/${license.id}`)
      await page.getByTestId('license-sparkline-total').filter({ hasText: /\d/ }).waitFor()
      return (await page.getByTestId('license-sparkline-total').innerText()).trim()
    }, { timeout: 15_000 }).toBe('2')
    await page.getByTestId('license-sparkline').locator('svg').waitFor()
    await page.getByTestId('license-summary').getByText('6 months', { exact: true }).waitFor()
    await page.locator('[data-testid=license-edit]:not([disabled])').click()
    await expect(page.getByTestId('edit-renewal-period').inputValue()).resolves.toBe('6mo')
    await page.getByTestId('edit-license-form').getByText('Renew adds 6 months.').waitFor()
    await page.getByTestId('edit-renewal').click()
    const editOptions = await page.getByRole('option').allTextContents()
    expect(editOptions).toEqual(['None', '30 days', '1 year', 'Custom'])
    await page.getByRole('option', { name: '30 days' }).click()
    await page.getByRole('listbox').waitFor({ state: 'detached' })
    await page.getByTestId('edit-submit').click()
    await page.getByTestId('edit-license-form').waitFor({ state: 'detached' })
    await page.getByTestId('license-summary').getByText('30 days', { exact: true }).waitFor()

    await page.goto(`${w.url}/licenses`)
    await page.locator('[data-testid=create-license]:not([disabled])').click()
    await page.getByTestId('create-renewal').click()
    expect(await page.getByRole('option').allTextContents()).toEqual(editOptions)
    await page.keyboard.press('Escape')
  })
})

describe('license state in the licenses list: the same badges and relative times (headless Chromium)', () => {
  it('rows and 390 px cards show the trial badge and "expires in 14 days" / "expired 3 days ago", the exact time as a title, with no console error', async () => {
    const { ctx } = w.context()
    const listOwner = (await createUser(ctx, { email: uniqueEmail('state-list'), name: 'List', role: 'user', password: owner.password })).user
    const pending = (await seedLicense(w, listOwner.id, { label: 'Trial pending', expiresAfterActivation: '14d' })).license
    const started = (await seedLicense(w, listOwner.id, { label: 'Trial started', expiresAfterActivation: '14d' })).license
    const expiresAt = new Date(Date.now() + 9 * DAY + 3_600_000)
    await setLicense(w, started.id, { expiresAt })
    const soon = (await seedLicense(w, listOwner.id, { label: 'Soon', expiresIn: '1y', renewalPeriod: '1y' })).license
    await setLicense(w, soon.id, { expiresAt: new Date(Date.now() + 14 * DAY + 3_600_000) })
    const gone = (await seedLicense(w, listOwner.id, { label: 'Gone', expiresAt: new Date(Date.now() - 3 * DAY - 3_600_000), renewalPeriod: '1y' })).license
    const forever = (await seedLicense(w, listOwner.id, { label: 'Forever' })).license

    for (const viewport of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      const p = await (await browser.newContext({ viewport })).newPage()
      const errors: string[] = []
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
      await signIn(p, w.url, listOwner.email, owner.password)
      await p.goto(`${w.url}/licenses`)
      if (viewport.width === 390) await p.getByTestId('licenses-cards').waitFor()
      const text = async (id: string) => (await p.getByTestId(id).innerText()).trim()
      await p.getByTestId(`trial-${pending.id}`).waitFor()
      expect(await text(`trial-${pending.id}`)).toBe('trial · starts on first activation')
      expect(await text(`expires-${pending.id}`)).toBe('14 days from first activation')
      expect(await text(`trial-${started.id}`)).toBe('trial · ends in 9 days')
      expect(await text(`expires-${started.id}`)).toBe('expires in 9 days')
      expect(await p.getByTestId(`expires-${started.id}`).locator('[title]').getAttribute('title')).toBe(`${expiresAt.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC', hour12: false })} UTC`)
      expect(await text(`expires-${soon.id}`)).toBe('expires in 14 days')
      expect(await text(`expires-${gone.id}`)).toBe('expired 3 days ago')
      expect(await text(`status-${gone.id}`)).toBe('expired')
      expect(await text(`expires-${forever.id}`)).toBe('Perpetual')
      for (const id of [soon.id, gone.id, forever.id]) expect(await p.getByTestId(`trial-${id}`).count()).toBe(0)
      expect(errors).toEqual([])
      await p.context().close()
    }
  })
})
