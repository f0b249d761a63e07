import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * /docs/api end to end (headless Chromium, the built worker): the API reference renders every
 * documented operation from /api/v1/openapi.json, offline — no request leaves loopback — with no
 * console error, in light and dark mode and at 390 px; and its renderer is loaded by no other page.
 */
let w: TestWorker
let browser: Browser
const seller = { email: uniqueEmail('docs-seller'), password: 'seller-password-42' }
const consoleErrors: string[] = []
const external: string[] = []
let summaries: string[] = []

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** A signed-in page that records console errors and every request that would leave loopback. */
async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage()
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`) })
  page.on('pageerror', e => consoleErrors.push(`${page.url()}: ${e.message}`))
  page.on('request', (r) => {
    const u = new URL(r.url())
    if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') && !LOOPBACK.has(u.hostname)) external.push(r.url())
  })
  await signIn(page, w.url, seller.email, seller.password)
  return page
}

/** Wait until the reference shows every operation's summary. */
async function renders(page: Page) {
  const ref = page.getByTestId('api-reference')
  await ref.waitFor()
  for (const s of summaries) await ref.getByText(s, { exact: true }).first().waitFor({ state: 'attached' })
}

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  const { ctx } = w.context()
  await createUser(ctx, { email: seller.email, name: 'Seller', role: 'user', password: seller.password })
  const doc = await (await fetch(`${w.url}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, { summary: string }>> }
  summaries = Object.values(doc.paths).flatMap(item => Object.values(item).map(op => op.summary))
  expect(summaries.length).toBeGreaterThan(5)
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

describe('API reference at /docs/api (headless Chromium, built worker)', () => {
  it('is linked in the sidebar and renders every documented operation from the served document', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' })
    const page = await openPage(context)
    await page.getByTestId('nav-main').getByRole('link', { name: 'API reference' }).click()
    await page.waitForURL(/\/docs\/api$/)
    await renders(page)
    await page.getByTestId('api-reference').getByText('License Manager API').first().waitFor()
    await expect(page.evaluate(() => document.documentElement.classList.contains('dark'))).resolves.toBe(false)
    await context.close()
  })

  it('follows dark mode, and fits a 390 px screen with no horizontal overflow', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
    const page = await openPage(context)
    await page.goto(`${w.url}/docs/api`)
    await renders(page)
    await expect(page.evaluate(() => document.documentElement.classList.contains('dark'))).resolves.toBe(true)
    // Scalar's own dark theme is on: its root carries the dark-mode class.
    await page.locator('.dark-mode').first().waitFor({ state: 'attached' })
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)
    await context.close()
  })

  it('other pages do not load the renderer', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    const page = await openPage(context)
    const scripts: string[] = []
    page.on('response', async (r) => {
      if (r.request().resourceType() === 'script') scripts.push(await r.text().catch(() => ''))
    })
    for (const path of ['/licenses', '/products', '/account']) {
      await page.goto(`${w.url}${path}`)
      await page.waitForLoadState('networkidle')
    }
    expect(scripts.length).toBeGreaterThan(0)
    // A string only Scalar's bundle carries.
    expect(scripts.filter(s => s.includes('scalar-api-reference') || s.includes('@scalar/')).length).toBe(0)
    await context.close()
  })

  it('no request left loopback (no CDN, fonts or telemetry) and no page logged a console error', () => {
    expect(external).toEqual([])
    expect(consoleErrors).toEqual([])
  })
})
