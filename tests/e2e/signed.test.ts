import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../server/services/users'
import { launchBrowser } from '../support/browser'
import { uniqueEmail } from '../support/client'
import { signIn } from '../support/e2e'
import { seedLicense } from '../support/licenses'
import { run } from '../support/run'
import { startWorker, type TestWorker } from '../support/worker'

/** The license page's "Try it" panel and the admin Settings page (signed answers), in headless Chromium. */
let w: TestWorker
let browser: Browser
const shots = process.env.LM_SCREENSHOTS // set to a folder to keep screenshots of these pages

beforeAll(async () => {
  w = await startWorker()
  browser = await launchBrowser()
  if (shots) mkdirSync(shots, { recursive: true })
})
afterAll(async () => {
  await browser?.close()
  await w?.close()
})

describe('signed answers in the web app', () => {
  it('Settings (admin): the JWKS URLs and the current kid, as the JWKS publishes them', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    await signIn(page, w.url, w.admin.email, w.admin.password)
    await page.getByTestId('nav-admin').getByRole('link', { name: 'Settings' }).click()
    await page.waitForURL(/\/admin\/settings$/)
    const kid = page.getByTestId('settings-kid')
    await kid.waitFor()
    const jwks = await (await fetch(`${w.url}/.well-known/jwks.json`)).json() as { keys: { kid: string }[] }
    await expect(kid.textContent()).resolves.toBe(jwks.keys[0]!.kid)
    await expect(page.getByTestId('settings-jwks-url').allTextContents()).resolves.toEqual([`${w.url}/.well-known/jwks.json`, `${w.url}/api/v1/jwks.json`])
    await expect(page.getByTestId('settings-ttl').textContent()).resolves.toBe('7 days')
    await page.getByTestId('settings-no-previous').waitFor()
    if (shots) await page.screenshot({ path: join(shots, 'settings.png'), fullPage: true })
  })

  it('a user never sees Settings, and is sent away from it', async () => {
    const email = uniqueEmail('tryit-nav')
    await createUser(w.context().ctx, { email, name: 'Nav', role: 'user', password: 'tryit-password-1' })
    const page = await (await browser.newContext()).newPage()
    await signIn(page, w.url, email, 'tryit-password-1')
    expect(await page.getByTestId('nav-admin').count()).toBe(0)
    await page.goto(`${w.url}/admin/settings`)
    await page.waitForURL(u => u.pathname === '/')
  })

  it('Try it: curl and SDK snippets with the real base URL; the key after a reveal; the curl works as shown; a live signed verify', async () => {
    const email = uniqueEmail('tryit')
    const { user } = await createUser(w.context().ctx, { email, name: 'Try', role: 'user', password: 'tryit-password-1' })
    const { key, license } = await seedLicense(w, user.id, { label: 'Try it license', maxDevices: 2, expiresIn: '30d', metadata: { tier: 'pro' } })
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    const page = await context.newPage()
    await signIn(page, w.url, email, 'tryit-password-1')
    await page.goto(`${w.url}/licenses/${license.id}`)
    const panel = page.getByTestId('try-it')
    const snippet = page.getByTestId('try-it-snippet')
    await snippet.waitFor()
    await page.getByTestId('try-it-placeholder').waitFor()
    expect(await snippet.textContent()).toContain(`curl -s ${w.url}/api/v1/licenses/verify`)
    expect(await snippet.textContent()).not.toContain(key)
    await expect(page.locator('[data-testid=try-it-run]').isDisabled()).resolves.toBe(true)
    // Works at 390 px: nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    await page.locator('[data-testid=reveal-key]:not([disabled])').click()
    await page.getByTestId('license-key').waitFor()
    await expect(snippet.textContent()).resolves.toContain(`LICENSE_KEY='${key}'`)

    // The verify snippet, run by a shell exactly as shown: a signed answer about this device.
    await panel.getByRole('button', { name: 'Copy' }).click()
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    expect(copied).toBe(await snippet.textContent())
    const activate = await page.getByTestId('try-it-tab-activate').click().then(() => snippet.textContent())
    // Not spawnSync: the test server answers from this process (tests/support/run.ts).
    const shell = async (script: string) => JSON.parse((await run('bash', ['-c', script], { timeout: 30_000 })).stdout) as { code: string, token?: string }
    expect(await shell(activate!)).toMatchObject({ code: 'ACTIVATED', activated: true })
    const verified = await shell(copied)
    expect(verified).toMatchObject({ code: 'VALID', valid: true })
    const jwks = createRemoteJWKSet(new URL(`${w.url}/.well-known/jwks.json`))
    const { payload } = await jwtVerify(verified.token!, jwks, { algorithms: ['EdDSA'], issuer: w.url })
    expect(payload).toMatchObject({ fingerprint: 'my-device', license: { metadata: { tier: 'pro' } } })

    await page.getByTestId('try-it-tab-sdk').click()
    await expect(snippet.textContent()).resolves.toContain(`new LicenseClient({ baseUrl: '${w.url}'`)

    await page.locator('[data-testid=try-it-run]:not([disabled])').click()
    const claims = page.getByTestId('try-it-claims')
    await claims.waitFor()
    expect(JSON.parse((await claims.textContent())!)).toMatchObject({ code: 'VALID', valid: true, iss: w.url, license: { devices: { used: 1, max: 2 } } })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    if (shots) {
      await panel.screenshot({ path: join(shots, 'try-it-390.png') })
      await page.emulateMedia({ colorScheme: 'dark' })
      await panel.screenshot({ path: join(shots, 'try-it-390-dark.png') })
    }
  })
})
