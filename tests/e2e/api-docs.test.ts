import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * /docs/api end to end (headless Chromium, the built worker): the API reference is rendered on the
 * server from /api/v1/openapi.json — every documented operation, even with JavaScript off — with no
 * console error and no request leaving loopback, in light and dark mode and at 390 px; the search
 * box filters operations and #operationId anchors scroll to their operation (pages/docs/api.vue).
 */
let w: TestWorker
let browser: Browser
const seller = { email: uniqueEmail('docs-seller'), password: 'seller-password-42' }
const consoleErrors: string[] = []
const external: string[] = []
let operations: { id: string, method: string, path: string, summary: string }[] = []
let storageState: Awaited<ReturnType<BrowserContext['storageState']>>

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
  return page
}
const newContext = (opts: Parameters<Browser['newContext']>[0] = {}) => browser.newContext({ viewport: { width: 1280, height: 860 }, storageState, ...opts })

/** Every operation of the served document is on the page: its anchor, method, path and summary. */
async function rendersEveryOperation(page: Page) {
  const ref = page.getByTestId('api-reference')
  await ref.waitFor()
  for (const op of operations) {
    const section = ref.locator(`section[id="${op.id}"]`)
    // After a client-side navigation the operations render once their component's chunk is in.
    await section.waitFor({ state: 'attached' })
    await expect(section.count(), op.id).resolves.toBe(1)
    await expect(section.getByTestId('api-op-path').textContent()).resolves.toBe(op.path)
    await expect(section.locator('h3').textContent().then(t => t?.trim())).resolves.toBe(op.summary)
    await expect(section.textContent()).resolves.toContain(op.method.toUpperCase())
  }
}

/** The operation's top is within the panel's visible area (the panel scrolls, not the window). */
const inView = (page: Page, id: string) => page.evaluate((id) => {
  const r = document.getElementById(id)!.getBoundingClientRect()
  return r.top >= 0 && r.top < window.innerHeight - 40
}, id)
/** Interactive: typing or clicking before hydration would be lost. */
const hydrated = (page: Page) => page.waitForFunction(() => !!(document.querySelector('#__nuxt') as { __vue_app__?: unknown } | null)?.__vue_app__)
const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  const { ctx } = w.context()
  await createUser(ctx, { email: seller.email, name: 'Seller', role: 'user', password: seller.password })
  const doc = await (await fetch(`${w.url}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, { operationId: string, summary: string }>> }
  operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ id: op.operationId, method, path, summary: op.summary })))
  expect(operations.length).toBeGreaterThan(20)
  const context = await browser.newContext()
  const page = await openPage(context)
  await signIn(page, w.url, seller.email, seller.password)
  storageState = await context.storageState()
  await context.close()
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

describe('API reference at /docs/api (headless Chromium, built worker)', () => {
  it('is linked in the sidebar and renders every operation of the served document, with a curl command for this installation', async () => {
    const context = await newContext({ colorScheme: 'light' })
    const page = await openPage(context)
    await page.goto(`${w.url}/`)
    await hydrated(page)
    // Every frame painted until the operations are there: the reference never shows without them.
    await page.evaluate(() => {
      const w = window as { __emptyFrames?: number }
      w.__emptyFrames = 0
      const check = () => {
        const ref = document.querySelector('[data-testid=api-reference]')
        if (ref && !ref.querySelector('section[data-operation]')) w.__emptyFrames!++
        if (!ref?.querySelector('section[data-operation]')) requestAnimationFrame(check)
      }
      requestAnimationFrame(check)
    })
    await page.getByTestId('nav-main').getByRole('link', { name: 'API reference' }).click()
    await page.waitForURL(/\/docs\/api$/)
    await rendersEveryOperation(page)
    await expect(page.evaluate(() => (window as { __emptyFrames?: number }).__emptyFrames)).resolves.toBe(0)
    await page.getByRole('heading', { name: 'License Manager API' }).waitFor()
    await expect(page.evaluate(() => document.documentElement.classList.contains('dark'))).resolves.toBe(false)
    // The raw document is linked, with this installation's URL.
    await expect(page.getByTestId('api-document-url').textContent()).resolves.toBe(`${w.url}/api/v1/openapi.json`)
    const curl = await page.locator('section[id="createLicense"]').getByTestId('api-op-curl').textContent()
    expect(curl).toContain(`curl -s -X POST '${w.url}/api/v1/licenses'`)
    expect(curl).toContain('Authorization: Bearer $LM_TOKEN')
    const verify = await page.locator('section[id="verifyLicense"]').textContent()
    expect(verify).toContain('No authentication')
    // Request body fields and error codes, from the schemas.
    expect(verify).toContain('fingerprint')
    expect(verify).toContain('PAYLOAD_TOO_LARGE')
    await context.close()
  })

  it('is rendered on the server: every operation is there with JavaScript off', async () => {
    const context = await newContext({ javaScriptEnabled: false })
    const page = await openPage(context)
    await page.goto(`${w.url}/docs/api`)
    await rendersEveryOperation(page)
    await context.close()
  })

  it('follows dark mode, and fits a 390 px screen with no horizontal overflow', async () => {
    const light = await newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'light' })
    const dark = await newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
    const colors: string[] = []
    for (const [context, isDark] of [[light, false], [dark, true]] as const) {
      const page = await openPage(context)
      await page.goto(`${w.url}/docs/api`)
      await rendersEveryOperation(page)
      await expect(page.evaluate(() => document.documentElement.classList.contains('dark'))).resolves.toBe(isDark)
      colors.push(await page.locator('section[id="createLicense"] h3').evaluate(e => getComputedStyle(e).color))
      // Open every nested schema too: nothing may push the page sideways.
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true }))
      expect(await overflow(page)).toBe(0)
      await context.close()
    }
    expect(colors[0]).not.toBe(colors[1])
  })

  it('filters operations with the search box', async () => {
    const context = await newContext()
    const page = await openPage(context)
    await page.goto(`${w.url}/docs/api`)
    await rendersEveryOperation(page)
    const search = page.getByRole('searchbox', { name: 'Filter operations' })
    await hydrated(page)
    // "/" focuses the search box.
    await page.keyboard.press('/')
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type)).toBe('search')
    await search.fill('devices/{deviceId}')
    await expect.poll(() => page.locator('section[data-operation]:visible').count()).toBe(1)
    await expect(page.locator('section[id="freeDevice"]').isVisible()).resolves.toBe(true)
    await expect(page.getByTestId('api-count').textContent()).resolves.toBe(`1 of ${operations.length} operations`)
    // The navigation is filtered the same way.
    await expect(page.getByTestId('api-nav').locator('li:visible').count()).resolves.toBe(1)
    // Every word must match, anywhere (method, path, summary, description, error codes), in any case.
    await search.fill('PATCH product')
    await expect.poll(() => page.locator('section[data-operation]:visible').evaluateAll(s => s.map(e => e.id))).toEqual(['updateProduct'])
    await search.fill('get jwks')
    await expect.poll(() => page.locator('section[data-operation]:visible').evaluateAll(s => s.map(e => e.id))).toEqual(['jwks', 'wellKnownJwks'])
    await search.fill('no-such-operation')
    await page.getByTestId('api-empty').waitFor()
    await page.getByRole('button', { name: 'Clear the filter' }).click()
    await expect.poll(() => page.locator('section[data-operation]:visible').count()).toBe(operations.length)
    await context.close()
  })

  it('anchors: a shared #operationId link opens at that operation; the navigation scrolls to one and puts it in the URL', async () => {
    const context = await newContext({ viewport: { width: 1280, height: 800 } })
    const page = await openPage(context)
    await page.goto(`${w.url}/docs/api#renewLicense`)
    await page.locator('section[id="renewLicense"]').waitFor()
    await hydrated(page)
    await expect.poll(() => inView(page, 'renewLicense')).toBe(true)
    await page.getByTestId('api-nav').getByRole('link', { name: 'Activate a device' }).click()
    await page.waitForURL(/#activateDevice$/)
    await expect.poll(() => inView(page, 'activateDevice')).toBe(true)
    await expect(inView(page, 'renewLicense')).resolves.toBe(false)
    // The navigation marks the operation being read.
    await expect.poll(() => page.getByTestId('api-nav').locator('[aria-current=location]').textContent()).toContain('Activate a device')
    // A shared schema is listed once and linked from the answers that nest it.
    await page.goto(`${w.url}/docs/api#createLicense`)
    await hydrated(page)
    await expect.poll(() => inView(page, 'createLicense')).toBe(true)
    await page.locator('section[id="createLicense"] [data-status="201"]').getByRole('link', { name: 'License', exact: true }).click()
    await page.waitForURL(/#schema-License$/)
    await expect.poll(() => inView(page, 'schema-License')).toBe(true)
    await expect(page.locator('[id="schema-License"]').textContent()).resolves.toContain('maskedKey')
    await context.close()

    // At 390 px the navigation is a sheet: pick an operation, the sheet closes, the page is there.
    const phone = await newContext({ viewport: { width: 390, height: 844 } })
    const mobile = await openPage(phone)
    await mobile.goto(`${w.url}/docs/api`)
    await mobile.getByTestId('api-reference').waitFor()
    await hydrated(mobile)
    await expect(mobile.getByTestId('api-nav').first().isVisible()).resolves.toBe(false)
    await expect.poll(async () => {
      await mobile.getByTestId('api-nav-open').click()
      return mobile.getByRole('dialog').getByTestId('api-nav').isVisible()
    }).toBe(true)
    await mobile.getByRole('dialog').getByRole('link', { name: 'Delete a product' }).click()
    await mobile.waitForURL(/#deleteProduct$/)
    await expect.poll(() => mobile.getByRole('dialog').count()).toBe(0)
    await expect.poll(() => inView(mobile, 'deleteProduct')).toBe(true)
    expect(await overflow(mobile)).toBe(0)
    await phone.close()
  })

  it('no request left loopback (no CDN, fonts or telemetry) and no page logged a console error', () => {
    expect(external).toEqual([])
    expect(consoleErrors).toEqual([])
  })
})
