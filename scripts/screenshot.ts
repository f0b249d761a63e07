/** Developer aid: sign in and take screenshots of pages. `tsx scripts/screenshot.ts URL EMAIL PASSWORD path...` */
import { launchBrowser } from '../tests/support/browser'

const [base, email, password, ...paths] = process.argv.slice(2)
const browser = await launchBrowser()
for (const scheme of ['light', 'dark'] as const) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme })
  await page.goto(`${base}/login`)
  await page.screenshot({ path: `/tmp/shot-login-${scheme}.png` })
  await page.fill('input[type=email]', email!)
  await page.fill('input[autocomplete=current-password]', password!)
  await page.click('button[type=submit]')
  await page.waitForURL(u => !u.pathname.startsWith('/login'))
  for (const p of paths) {
    await page.goto(`${base}${p}`)
    await page.waitForTimeout(800)
    await page.screenshot({ path: `/tmp/shot-${p.replace(/\W+/g, '_')}-${scheme}.png` })
  }
  await page.close()
}
await browser.close()
