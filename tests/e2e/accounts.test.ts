import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, users } from '../../db/schema'
import { launchBrowser } from '../support/browser'
import { signIn as signInAs } from '../support/e2e'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let browser: Browser
const contexts: BrowserContext[] = []
/** Every secret the flow handles: none may appear in the audit log. */
const secrets = new Set<string>()

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  secrets.add(w.admin.password)
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  contexts.push(context)
  return await context.newPage()
}

const signIn = (page: Page, email: string, password: string) => signInAs(page, w.url, email, password)

async function expectSignedOut(page: Page) {
  await page.reload()
  await page.waitForURL(/\/login/)
  await expect(page.getByTestId('login-form').isVisible()).resolves.toBe(true)
}

async function sessionCookie(page: Page) {
  return (await page.context().cookies()).find(c => c.name === 'lm_session')
}

describe('accounts end to end (headless Chromium, built worker, real D1)', () => {
  const userEmail = 'dev@example.com'
  let admin: Page
  let userPage: Page
  let userOldSession: Page
  let generated = ''
  const newPassword = 'my-own-new-password-42'

  it('refuses anonymous visitors and shows a clear error on a bad password', async () => {
    const page = await newPage()
    await page.goto(`${w.url}/admin/users`)
    await page.waitForURL(u => u.pathname === '/login' && u.searchParams.get('redirect') === '/admin/users')
    await page.locator('[data-testid=login-form] button[type=submit]:not([disabled])').waitFor()
    await page.locator('[data-testid=login-form] input[type=email]').fill(w.admin.email)
    await page.locator('[data-testid=login-form] input[autocomplete=current-password]').fill('wrong password')
    await page.locator('[data-testid=login-form] button[type=submit]').click()
    await expect(page.getByTestId('login-error').textContent()).resolves.toContain('Invalid email or password')
  })

  it('admin signs in and adds a user with a generated password shown once', async () => {
    admin = await newPage()
    await signIn(admin, w.admin.email, w.admin.password)
    const cookie = await sessionCookie(admin)
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
    secrets.add(cookie!.value)
    // The Overview shows administrators the audit events lost after every retry (none here).
    await admin.getByTestId('card-lost-log-events').filter({ hasText: /^0$/ }).waitFor()
    await admin.getByTestId('nav-admin').getByRole('link', { name: 'Users' }).click()
    await admin.waitForURL(/\/admin\/users/)
    await admin.getByTestId('users-table').getByText(w.admin.email).waitFor()

    await admin.getByTestId('add-user').click()
    const form = admin.getByTestId('add-user-form')
    await form.locator('input[type=email]').fill(userEmail)
    await form.getByRole('button', { name: 'Add user' }).click()
    const pw = admin.getByTestId('generated-password')
    await pw.waitFor()
    generated = await pw.inputValue()
    expect(generated).toMatch(/^[A-Za-z0-9]{20}$/)
    secrets.add(generated)
    await admin.getByRole('button', { name: 'Done' }).click()
    await admin.getByTestId('users-table').getByText(userEmail).waitFor()
  })

  it('the user signs in in another browser context and sees no admin area', async () => {
    userPage = await newPage()
    await signIn(userPage, userEmail, generated)
    expect(await userPage.getByTestId('nav-admin').count()).toBe(0)
    await userPage.getByTestId('card-your-licenses').waitFor()
    expect(await userPage.getByTestId('card-lost-log-events').count()).toBe(0)
    await userPage.goto(`${w.url}/admin/users`)
    await userPage.waitForURL(u => u.pathname === '/')
    secrets.add((await sessionCookie(userPage))!.value)

    userOldSession = await newPage()
    await signIn(userOldSession, userEmail, generated)
    secrets.add((await sessionCookie(userOldSession))!.value)
  })

  it('the user changes their password; their other session is gone, this one stays', async () => {
    await userPage.getByTestId('nav-main').getByRole('link', { name: 'Account' }).click()
    await userPage.waitForURL(/\/account/)
    await userPage.getByTestId('sessions-list').locator('li').nth(1).waitFor()
    const form = userPage.getByTestId('password-form')
    await form.locator('input[autocomplete=current-password]').fill(generated)
    await form.locator('input[autocomplete=new-password]').fill(newPassword)
    secrets.add(newPassword)
    await form.getByRole('button', { name: 'Change password' }).click()
    await userPage.getByText('Password changed').first().waitFor()
    await userPage.getByText('Signed out 1 other session').first().waitFor()

    await expectSignedOut(userOldSession)
    await userPage.reload()
    await userPage.getByTestId('password-form').waitFor()
    expect(new URL(userPage.url()).pathname).toBe('/account')
  })

  it('the admin disables the user after confirming, and the user is signed out at once', async () => {
    await admin.getByTestId(`actions-${userEmail}`).click()
    await admin.getByRole('menuitem', { name: 'Disable' }).click()
    await admin.getByTestId('confirm-ok').click()
    await admin.getByText('User disabled').first().waitFor()
    await admin.getByTestId(`status-${userEmail}`).filter({ hasText: /^disabled$/ }).waitFor()

    // Any action of the user now ends at the login page.
    await userPage.getByTestId('password-form').locator('input[autocomplete=current-password]').fill(newPassword)
    await userPage.getByTestId('password-form').locator('input[autocomplete=new-password]').fill('yet-another-password-9')
    await userPage.getByTestId('password-form').getByRole('button', { name: 'Change password' }).click()
    await userPage.waitForURL(/\/login/)
    await expectSignedOut(userPage)
  })

  it('the audit log holds no password, hash or token', async () => {
    const { ctx } = w.context()
    for (const u of await ctx.db.select({ hash: users.passwordHash }).from(users)) {
      secrets.add(u.hash)
      secrets.add(u.hash.split('$').at(-1)!) // the raw derived key
    }
    const rows = await ctx.db.select().from(events)
    expect(rows.length).toBeGreaterThanOrEqual(8)
    const dump = JSON.stringify(rows)
    for (const secret of secrets) expect(dump.includes(secret), `a secret leaked into events: ${secret.slice(0, 6)}…`).toBe(false)
    expect(dump).not.toMatch(/\$scrypt\$|eyJhbGciOi/)
    expect(rows.map(r => r.type)).toEqual(expect.arrayContaining([
      'auth.login.failed', 'auth.login.succeeded', 'user.created', 'user.password_changed', 'user.disabled',
    ]))
  })
})
