import type { Page } from 'playwright-core'

/** Sign in through the login page as a person would; throws with the page's message if refused. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string) {
  await page.goto(`${baseUrl}/`)
  await page.waitForURL(/\/login/)
  // Type only once the page is interactive (submit enabled): hydration would reset earlier typing.
  await page.locator('[data-testid=login-form] button[type=submit]:not([disabled])').waitFor()
  await page.locator('[data-testid=login-form] input[type=email]').fill(email)
  await page.locator('[data-testid=login-form] input[autocomplete=current-password]').fill(password)
  await page.locator('[data-testid=login-form] button[type=submit]').click()
  await page.getByTestId('welcome').or(page.getByTestId('login-error')).waitFor()
  if (await page.getByTestId('login-error').isVisible()) {
    throw new Error(`sign-in as ${email} failed: ${await page.getByTestId('login-error').textContent()}`)
  }
}
