/**
 * One first load of one page in a fresh browser context (cold cache), measured the way bench:ui
 * reports it and tests/e2e/ui.test.ts checks it: console errors, failed requests, time to network
 * idle, JS transferred (and its gzip size), request count, horizontal overflow, inner scrollers.
 */
import { gzipSync } from 'node:zlib'
import type { Browser, BrowserContextOptions } from 'playwright-core'

export interface LoadResult {
  url: string
  width: number
  scheme: 'light' | 'dark'
  consoleErrors: string[]
  failedRequests: string[]
  /** From navigation start to the end of the last request before the network went quiet (500 ms). */
  networkIdleMs: number
  /** Time to first byte of the HTML (server render, incl. the session lookup). */
  ttfbMs: number
  requests: number
  jsRequests: number
  /** Bytes of JS on the wire, as the server sent it. */
  jsTransferredBytes: number
  /** The same JS gzip-compressed (what a CDN in front of the Worker sends; the local server may not compress). */
  jsGzipBytes: number
  /**
   * How far the page scrolls sideways: the document, or a scroll box as wide as the screen (the
   * dashboard panel's body scrolls, not the document). 0 = nothing wider than the screen.
   */
  overflowPx: number
  /** Elements that scroll sideways inside the page at this width (tables in a scroll box, code…). */
  innerScrollers: string[]
  /** Icons drawn empty (a name missing from the bundled set: components/app/SyncIcon.ts). */
  emptyIcons: number
  screenshot?: string
}

export async function measureLoad(browser: Browser, opts: {
  url: string
  width: number
  scheme: 'light' | 'dark'
  storageState?: BrowserContextOptions['storageState']
  screenshot?: string
  /** Wait for this selector after network idle before measuring layout (optional). */
  timeoutMs?: number
}): Promise<LoadResult> {
  const context = await browser.newContext({
    viewport: { width: opts.width, height: opts.width < 600 ? 844 : 900 },
    colorScheme: opts.scheme,
    storageState: opts.storageState,
    deviceScaleFactor: 1,
  })
  const page = await context.newPage()
  const consoleErrors: string[] = []
  const failedRequests: string[] = []
  const pending: Promise<void>[] = []
  let requests = 0
  let jsRequests = 0
  let jsTransferredBytes = 0
  let jsGzipBytes = 0
  let lastActivity = 0
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text().slice(0, 300))
  })
  page.on('pageerror', e => consoleErrors.push(`pageerror: ${e.message.slice(0, 300)}`))
  page.on('request', () => {
    requests++
    lastActivity = Date.now()
  })
  page.on('requestfailed', (r) => {
    lastActivity = Date.now()
    failedRequests.push(`${r.method()} ${new URL(r.url()).pathname} ${r.failure()?.errorText ?? ''}`)
  })
  page.on('requestfinished', (r) => {
    lastActivity = Date.now()
    pending.push((async () => {
      const res = await r.response()
      if (!res) return
      if (res.status() >= 400) failedRequests.push(`${r.method()} ${new URL(r.url()).pathname} ${res.status()}`)
      if (r.resourceType() === 'script') {
        jsRequests++
        const sizes = await r.sizes().catch(() => null)
        const body = await res.body().catch(() => null)
        if (sizes) jsTransferredBytes += sizes.responseBodySize
        if (body) jsGzipBytes += gzipSync(body).length
      }
    })().catch(() => {}))
  })
  const started = Date.now()
  let idleReached = true
  try {
    await page.goto(opts.url, { waitUntil: 'networkidle', timeout: opts.timeoutMs ?? 20_000 })
  }
  catch {
    idleReached = false
  }
  const networkIdleMs = idleReached ? lastActivity - started : Number.NaN
  await Promise.all(pending)
  // A string, not a function: tsx/esbuild would wrap named helpers in `__name`, unknown in the page.
  const layout = await page.evaluate(LAYOUT_PROBE) as { overflowPx: number, scrollers: string[], ttfb: number, emptyIcons: number }
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true })
  await context.close()
  return {
    url: opts.url,
    width: opts.width,
    scheme: opts.scheme,
    consoleErrors,
    failedRequests,
    networkIdleMs,
    ttfbMs: Math.round(layout.ttfb),
    requests,
    jsRequests,
    jsTransferredBytes,
    jsGzipBytes,
    overflowPx: layout.overflowPx,
    innerScrollers: layout.scrollers,
    emptyIcons: layout.emptyIcons,
    screenshot: opts.screenshot,
  }
}

const LAYOUT_PROBE = `(() => {
  const doc = document.documentElement
  const describe = (el) => {
    const id = el.getAttribute('data-testid') || el.id
    const cls = typeof el.className === 'string' ? el.className.split(/\\s+/).slice(0, 3).join('.') : ''
    return el.tagName.toLowerCase() + (id ? '#' + id : '') + (cls ? '.' + cls : '')
  }
  const scrollers = []
  let pageWide = 0
  for (const el of Array.from(document.querySelectorAll('body *'))) {
    if (el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) continue
    const ox = getComputedStyle(el).overflowX
    if (ox !== 'auto' && ox !== 'scroll') continue
    scrollers.push(describe(el) + ' ' + el.scrollWidth + '>' + el.clientWidth)
    if (el.clientWidth >= window.innerWidth - 2) pageWide = Math.max(pageWide, el.scrollWidth - el.clientWidth)
  }
  const nav = performance.getEntriesByType('navigation')[0]
  const emptyIcons = Array.from(document.querySelectorAll('svg.iconify')).filter(s => !s.innerHTML.trim()).length
  return { overflowPx: Math.max(0, doc.scrollWidth - window.innerWidth, pageWide), scrollers, ttfb: nav ? nav.responseStart - nav.requestStart : NaN, emptyIcons }
})()`
