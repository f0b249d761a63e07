import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { signIn } from '../support/e2e'
import { uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser
const seller = { email: uniqueEmail('prd-seller'), password: 'seller-password-42' }
const consoleErrors: string[] = []
let page: Page
let key = ''

beforeAll(async () => {
  w = await startWorker()
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

/** Pick an option of a select menu and wait until its list has closed (typing while it closes lands in its search field). */
async function choose(p: Page, testId: string, option: string | RegExp) {
  await p.getByTestId(testId).click()
  await p.getByRole('option', { name: option }).click()
  await p.getByRole('listbox').waitFor({ state: 'detached' })
}

async function verify(body: Record<string, string>) {
  const res = await fetch(`${w.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return await res.json() as { code: string }
}

describe('products and customers end to end (headless Chromium, built worker, real D1)', () => {
  it('adds a product with license defaults from the Products page', async () => {
    await page.getByTestId('nav-main').getByRole('link', { name: 'Products' }).click()
    await page.waitForURL(/\/products$/)
    await page.getByTestId('state-empty').getByText('No products yet').waitFor()
    await page.getByTestId('add-product').click()
    const form = page.getByTestId('product-form')
    await form.waitFor()
    await page.getByTestId('product-name').fill('Photo Pro')
    await expect(page.getByTestId('product-slug').inputValue()).resolves.toBe('photo-pro') // follows the name
    await choose(page, 'product-expiry', '1 year')
    await page.getByTestId('product-unlimited').click()
    const seats = page.getByTestId('product-max-devices')
    await seats.fill('3')
    await seats.press('Tab')
    await page.getByTestId('product-metadata').fill('{"tier": "pro"}')
    await page.getByTestId('product-submit').click()
    await form.waitFor({ state: 'detached' })
    const row = page.getByTestId('products-table').locator('tbody tr').filter({ hasText: 'Photo Pro' })
    await row.getByText('Expires after 1 year').waitFor()
    await row.getByText('3 devices').waitFor()
  })

  it('a second product with the same slug is refused on the form', async () => {
    await page.getByTestId('add-product').click()
    await page.getByTestId('product-name').fill('Photo Pro')
    await page.getByTestId('product-submit').click()
    await page.getByTestId('product-form').getByText('You already have a product with this slug').waitFor()
    await page.getByTestId('product-slug').fill('photo-lite')
    await page.getByTestId('product-name').fill('Photo Lite')
    await page.getByTestId('product-submit').click()
    await page.getByTestId('product-form').waitFor({ state: 'detached' })
    await page.getByTestId('products-table').getByText('photo-lite', { exact: true }).waitFor()
  })

  it('creates a license for the product: its defaults fill the form; customer fields are kept', async () => {
    await page.getByTestId('nav-main').getByRole('link', { name: 'Licenses' }).click()
    await page.waitForURL(/\/licenses$/)
    await page.getByTestId('create-license-empty').click()
    const form = page.getByTestId('create-license-form')
    await form.waitFor()
    await choose(page, 'create-product', /Photo Pro/)
    await form.getByText("Filled from Photo Pro's defaults").waitFor()
    await expect(page.getByTestId('create-expiry').textContent()).resolves.toContain('1 year')
    await expect(page.getByTestId('create-max-devices').inputValue()).resolves.toBe('3')
    await expect(page.getByTestId('create-metadata').inputValue()).resolves.toContain('"tier": "pro"')
    await page.getByTestId('create-label').fill('ACME seat')
    await page.getByTestId('create-customer-email').fill('Jane.Doe@Example.com')
    await page.getByTestId('create-customer-name').fill('Jane Doe')
    await page.getByTestId('create-external-id').fill('order-1042')
    await page.getByTestId('create-submit').click()
    key = await page.getByTestId('created-key').inputValue()
    await page.getByTestId('created-done').click()
    await page.getByTestId('created-license').waitFor({ state: 'detached' })

    const row = page.getByTestId('licenses-table').locator('tbody tr').filter({ hasText: 'ACME seat' })
    await row.waitFor()
    await row.getByText('Photo Pro', { exact: true }).waitFor()
    await row.getByText('photo-pro', { exact: true }).waitFor()
    await row.getByText('Jane Doe').waitFor()
    await row.getByText('jane.doe@example.com').waitFor()
    await expect(row.textContent()).resolves.toContain('0 / 3')

    // The application names its product: the key unlocks Photo Pro only.
    expect((await verify({ key, product: 'photo-pro' })).code).toBe('VALID')
    expect((await verify({ key, product: 'photo-lite' })).code).toBe('PRODUCT_MISMATCH')
  })

  it('filters the table by product (kept in the URL) and finds a license by its customer', async () => {
    await page.getByTestId('create-license').click()
    await page.getByTestId('create-label').fill('Unfiled')
    await page.getByTestId('create-submit').click()
    await page.getByTestId('created-done').click()
    await page.getByTestId('created-license').waitFor({ state: 'detached' })
    const table = page.getByTestId('licenses-table')
    await table.getByText('Unfiled').waitFor()

    await choose(page, 'licenses-product', /Photo Pro/)
    await table.getByText('Unfiled').waitFor({ state: 'detached' })
    await table.getByText('ACME seat').waitFor()
    await page.waitForURL(/[?&]product=prd_/)
    await page.reload()
    await page.getByTestId('licenses-table').getByText('ACME seat').waitFor()
    expect(await page.getByTestId('licenses-table').getByText('Unfiled').count()).toBe(0)
    await page.getByTestId('licenses-product').getByText('Photo Pro').waitFor()

    await page.goto(`${w.url}/licenses`)
    await page.getByTestId('licenses-table').getByText('Unfiled').waitFor()
    await page.getByTestId('licenses-search').fill('order-10')
    await page.getByTestId('licenses-table').getByText('Unfiled').waitFor({ state: 'detached' })
    await page.getByTestId('licenses-table').getByText('ACME seat').waitFor()
  })

  it('the license page shows its product and customer; the product counts it and cannot be deleted', async () => {
    await page.getByTestId('licenses-table').getByRole('link', { name: 'ACME seat', exact: true }).click()
    await page.waitForURL(/\/licenses\/lic_/)
    await expect(page.getByTestId('license-product').textContent()).resolves.toContain('Photo Pro')
    await expect(page.getByTestId('license-customer-name').textContent()).resolves.toBe('Jane Doe')
    await expect(page.getByTestId('license-customer-email').textContent()).resolves.toBe('jane.doe@example.com')
    await expect(page.getByTestId('license-external-id').textContent()).resolves.toBe('order-1042')

    await page.goto(`${w.url}/products`)
    await expect(page.getByTestId('product-licenses-photo-pro').textContent()).resolves.toBe('1')
    await expect(page.getByTestId('delete-product-photo-pro').isDisabled()).resolves.toBe(true)
    await page.getByTestId('delete-product-photo-lite').click()
    await page.getByTestId('confirm-ok').click()
    await page.getByText('Product deleted').first().waitFor()
    await page.getByTestId('products-table').getByText('photo-lite', { exact: true }).waitFor({ state: 'detached' })
  })

  it('at 390 px: cards instead of tables, nothing wider than the screen', async () => {
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
    phone.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${phone.url()}: ${m.text()}`) })
    await signIn(phone, w.url, seller.email, seller.password)
    for (const path of ['/products', '/licenses']) {
      await phone.goto(`${w.url}${path}`)
      await phone.getByTestId(path === '/products' ? 'products-cards' : 'licenses-cards').getByText(path === '/products' ? 'Photo Pro' : 'ACME seat').waitFor()
      expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), path).toBe(0)
    }
    await phone.getByTestId('licenses-cards').getByText('ACME seat').click()
    await phone.waitForURL(/\/licenses\/lic_/)
    await phone.getByTestId('license-customer').waitFor()
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0)
    await phone.getByTestId('license-actions').click()
    await phone.getByRole('menuitem', { name: 'Suspend' }).waitFor()
    await phone.context().close()
  })

  it('no page logged a console error (but the refused duplicate slug, a 409 on purpose)', () => {
    expect(consoleErrors.filter(e => !/\/products: Failed to load resource: .* status of 409/.test(e))).toEqual([])
    expect(consoleErrors.length).toBeLessThanOrEqual(1)
  })
})
