import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../db/schema'
import { newId } from '../../server/lib/random'
import { createLicense } from '../../server/services/licenses'
import { createLicenseSchema } from '../../shared/schemas/licenses'
import { launchBrowser } from '../support/browser'
import { Caller } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser
const IP_A = '203.0.113.51'
const IP_B = '203.0.113.62'
const ADMIN_IP = '203.0.113.99'

async function verify(key: string, ip: string) {
  const res = await fetch(`${w.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip }, body: JSON.stringify({ key }) })
  expect(res.status).toBe(200)
}

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  const { ctx } = w.context()
  const { key } = await createLicense(ctx, w.admin.id, createLicenseSchema.parse({ label: 'Desktop app' }))
  for (let i = 0; i < 3; i++) await verify(key, IP_A)
  for (let i = 0; i < 2; i++) await verify(key, IP_B)
  await verify('LM-00000-00000-00000-00000-00000-00000', IP_B)
  // Older history from other IPs (≤ 7 rows per insert: D1's 100 bound parameters).
  const rows = Array.from({ length: 70 }, (_, i) => ({
    id: newId('evt'), createdAt: new Date(Date.now() - (i + 1) * 3_600_000), type: 'auth.login.failed', actorType: 'anonymous' as const,
    ip: `192.0.2.${(i % 5) + 1}`, userAgent: 'e2e', outcome: 'failure', detail: { i },
  }))
  for (let i = 0; i < rows.length; i += 7) await ctx.db.insert(events).values(rows.slice(i, i + 7))
  // REST events are written after the response.
  for (let i = 0; i < 50; i++) {
    const n = (await ctx.db.select({ ip: events.ip }).from(events)).filter(e => e.ip === IP_A || e.ip === IP_B).length
    if (n >= 6) break
    await new Promise(r => setTimeout(r, 100))
  }
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${w.url}/`)
  await page.waitForURL(/\/login/)
  await page.locator('[data-testid=login-form] button[type=submit]:not([disabled])').waitFor()
  await page.locator('[data-testid=login-form] input[type=email]').fill(email)
  await page.locator('[data-testid=login-form] input[autocomplete=current-password]').fill(password)
  await page.locator('[data-testid=login-form] button[type=submit]').click()
  await page.getByTestId('welcome').waitFor()
}

describe('system log end to end (headless Chromium, built worker, real D1)', () => {
  let page: Page

  it('the admin opens System log from the navigation and sees events and the chart', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    page = await context.newPage()
    await signIn(page, w.admin.email, w.admin.password)
    await page.getByTestId('nav-admin').getByRole('link', { name: 'System log' }).click()
    await page.waitForURL(/\/admin\/log$/)
    await page.getByTestId('log-table').getByText('Key verified').first().waitFor()
    // The chart (HTML bars, client-only): a legend with the totals, per hour over the default 7 days.
    const chart = page.getByTestId('validation-chart')
    await chart.getByTestId('chart-bars').waitFor()
    await expect(chart.getByTestId('legend-succeeded').textContent()).resolves.toBe('5')
    await expect(chart.getByTestId('legend-failed').textContent()).resolves.toBe('1')
    await expect(chart.getByTestId('validation-chart-totals').textContent()).resolves.toBe('per hour')
    // Exact counts in a tooltip: the keyboard's End is the newest hour, where all six calls are.
    await chart.getByTestId('chart-bars').focus()
    await page.keyboard.press('End')
    await expect(chart.getByTestId('chart-tooltip').textContent()).resolves.toMatch(/5 succeeded · 1 failed$/)
    // The mouse over the same bar says the same.
    const bars = (await chart.getByTestId('chart-bars').boundingBox())!
    await page.mouse.move(bars.x + bars.width - 1, bars.y + bars.height / 2)
    await expect(chart.getByTestId('chart-tooltip').textContent()).resolves.toMatch(/5 succeeded · 1 failed$/)
    // Another range: 30 days per day, same totals.
    await chart.getByTestId('chart-range-30d').click()
    await chart.getByTestId('validation-chart-totals').getByText('per day').waitFor()
    await expect(chart.getByTestId('legend-succeeded').textContent()).resolves.toBe('5')
  })

  it('"Load more" pages through older events', async () => {
    const before = await page.locator('[data-testid=log-table] tbody tr').count()
    expect(before).toBe(50)
    await page.getByTestId('log-load-more').click()
    await expect.poll(() => page.locator('[data-testid=log-table] tbody tr').count()).toBeGreaterThan(50)
  })

  it('clicking an IP filters the log to that IP only', async () => {
    await page.getByTestId('log-ip-cell').filter({ hasText: IP_B }).first().click()
    await expect.poll(() => page.getByTestId('log-ip').inputValue(), { timeout: 10_000 }).toBe(IP_B)
    await expect.poll(async () => {
      const ips = await page.getByTestId('log-ip-cell').allTextContents()
      return ips.length > 0 && ips.every(t => t.trim() === IP_B) ? ips.length : -1
    }, { timeout: 10_000 }).toBe(3)
    // The filter is in the URL: a reload (or a shared link) shows the same filtered view.
    await page.waitForURL(url => url.searchParams.get('ip') === IP_B)
    await page.reload()
    await expect.poll(() => page.getByTestId('log-ip').inputValue(), { timeout: 10_000 }).toBe(IP_B)
    await expect.poll(async () => {
      const ips = await page.getByTestId('log-ip-cell').allTextContents()
      return ips.length > 0 && ips.every(t => t.trim() === IP_B) ? ips.length : -1
    }, { timeout: 10_000 }).toBe(3)
  })

  it('Export CSV links to the export of the current filter, which downloads those rows only', async () => {
    const href = await page.getByTestId('log-export').getAttribute('href')
    expect(href).toBe(`/api/log/export?ip=${encodeURIComponent(IP_B)}`)
    const res = await page.request.get(`${w.url}${href}`)
    expect(res.status()).toBe(200)
    expect(res.headers()['content-disposition']).toMatch(/^attachment;/)
    const lines = (await res.text()).trim().split('\r\n')
    expect(lines[0]).toMatch(/^time,type,outcome,/)
    expect(lines.length).toBe(4)
    for (const line of lines.slice(1)) expect(line).toContain(`,${IP_B},`)
    // Signed out, the same URL is refused.
    expect((await fetch(`${w.url}${href}`)).status).toBe(401)
  })
})

describe('a user\'s Activity page', () => {
  it('shows their own events and chart, never the admin\'s', async () => {
    const { createUser } = await import('../../server/services/users')
    const { ctx } = w.context()
    const seller = { email: `activity-${Date.now()}@example.com`, password: 'activity-password-1' }
    const { user: sellerRow } = await createUser(ctx, { ...seller, name: 'Seller', role: 'user' })
    // An administrator acts on the seller's license from an address and browser of their own.
    const { license } = await createLicense(ctx, sellerRow.id, createLicenseSchema.parse({ label: 'Seller app' }))
    const adminCaller = new Caller(w.url, ADMIN_IP, 'AdminBrowser/9.9')
    await adminCaller.login(w.admin.email, w.admin.password)
    await adminCaller.trpc.licenses.suspend.mutate({ id: license.id })
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    const page = await context.newPage()
    await signIn(page, seller.email, seller.password)
    // The Overview has the small chart of the user's own keys.
    await page.getByTestId('validation-chart').first().waitFor()
    await page.getByTestId('nav-main').getByRole('link', { name: 'Activity' }).click()
    await page.waitForURL(/\/activity$/)
    await page.getByTestId('log-table').getByText('Signed in').first().waitFor()
    const ips = await page.getByTestId('log-ip-cell').allTextContents()
    expect(ips.map(t => t.trim())).not.toContain(IP_A)
    expect(await page.getByTestId('log-export').count()).toBe(0)
    await page.getByTestId('validation-chart').getByText('No validation calls in this range').waitFor()
    // What the administrator did shows as "an administrator": no IP, browser, email or id of theirs.
    const row = page.getByTestId('log-table').locator('tbody tr').filter({ hasText: 'License suspended' })
    await row.getByText('an administrator').waitFor()
    const text = await page.getByTestId('log-table').textContent()
    for (const leak of [ADMIN_IP, 'AdminBrowser', w.admin.email, w.admin.id]) expect(text).not.toContain(leak)
    // The license page says the same.
    await page.goto(`${w.url}/licenses/${license.id}`)
    await page.getByTestId('license-events').getByText('an administrator').waitFor()
    expect(await page.getByTestId('license-events').textContent()).not.toContain(ADMIN_IP)
  })
})
