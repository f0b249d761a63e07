/**
 * Every page of the web app, found from pages/ (so a new page is measured and tested without a list
 * to keep up to date). Dynamic segments take a seeded id where one is known, else the first link to
 * that route found on its parent list page (see resolveDynamic).
 */
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Page } from 'playwright-core'
import type { UiSeed } from './ui-seed'
import { ROOT } from './worker'

export interface UiPage {
  /** Route pattern, e.g. /licenses/[id]. */
  pattern: string
  /** A short name for files and tables: licenses-id. */
  name: string
  /** Signed out (the login page) or signed in as the admin. */
  signedIn: boolean
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.vue') ? [p] : []
  })
}

export function uiPages(root = ROOT): UiPage[] {
  return walk(join(root, 'pages')).map((file) => {
    const rel = relative(join(root, 'pages'), file).replace(/\\/g, '/').replace(/\.vue$/, '')
    const pattern = `/${rel.replace(/(^|\/)index$/, '')}`
    const name = pattern === '/' ? 'overview' : pattern.slice(1).replace(/\[(\w+)\]/g, '$1').replace(/\W+/g, '-')
    return { pattern, name, signedIn: pattern !== '/login' }
  }).sort((a, b) => (a.signedIn === b.signedIn ? a.pattern.localeCompare(b.pattern) : a.signedIn ? 1 : -1))
}

const KNOWN: Record<string, (s: UiSeed) => string> = {
  '/licenses/[id]': s => `/licenses/${s.licenseId}`,
  '/webhooks/[id]': s => `/webhooks/${s.webhookId}`,
}

/**
 * The concrete path of a page: static as is; a known dynamic route from the seed; otherwise the
 * first link on the parent list page that matches the pattern (null when there is none).
 */
export async function resolveDynamic(p: UiPage, seed: UiSeed, page: Page, baseUrl: string): Promise<string | null> {
  if (!p.pattern.includes('[')) return p.pattern
  const known = KNOWN[p.pattern]
  if (known) return known(seed)
  const parent = p.pattern.replace(/\/[^/]*\[[^\]]+\].*$/, '') || '/'
  const re = new RegExp(`^${p.pattern.replace(/\[[^\]]+\]/g, '[^/]+')}$`)
  await page.goto(`${baseUrl}${parent}`, { waitUntil: 'networkidle' })
  const hrefs = await page.locator('a[href]').evaluateAll(as => as.map(a => a.getAttribute('href') ?? ''))
  return hrefs.find(h => re.test(h.split('?')[0]!)) ?? null
}
