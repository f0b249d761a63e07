/**
 * `npm run bench:ui` (issue 15, docs/ui.md): every page of the web app, first load in a fresh
 * headless-Chromium context, at 1440 and 390 px in light and dark, against the built worker in
 * workerd with a real local D1 and a small seeded dataset. Prints one table, writes the figures to
 * bench/results/ui-latest.json (or --json-out) and a screenshot of each load to one folder.
 *   npm run bench:ui -- [--pages licenses,log] [--widths 1440,390] [--schemes light,dark]
 *                       [--screens DIR | --no-screens] [--json-out FILE] [--runs N] [--strict]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { launchBrowser } from '../tests/support/browser'
import { signIn } from '../tests/support/e2e'
import { measureLoad, type LoadResult } from '../tests/support/ui-measure'
import { resolveDynamic, uiPages } from '../tests/support/ui-pages'
import { seedUi } from '../tests/support/ui-seed'
import { startWorker } from '../tests/support/worker'
import { ensureBuild } from './lib/build'

const ROOT = resolve(import.meta.dirname, '..')
const argv = process.argv.slice(2)
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const list = (name: string, fallback: string) => (opt(name) ?? fallback).split(',').map(s => s.trim()).filter(Boolean)
const OPTS = {
  pages: opt('pages') ? list('pages', '') : null,
  widths: list('widths', '1440,390').map(Number),
  schemes: list('schemes', 'light,dark') as ('light' | 'dark')[],
  screens: argv.includes('--no-screens') ? null : resolve(opt('screens') ?? join(ROOT, 'bench/results/ui-screens')),
  jsonOut: resolve(opt('json-out') ?? join(ROOT, 'bench/results/ui-latest.json')),
  runs: Number(opt('runs') ?? 1),
  strict: argv.includes('--strict'),
}

/** The targets of issue 15. */
const UI_TARGETS = {
  networkIdleMs: 1500,
  loginJsGzipKB: 250,
  signedInJsGzipKB: 350,
  overflowPxAt390: 0,
}

const step = (msg: string) => process.stderr.write(`\x1b[36m›\x1b[0m ${msg}\n`)
const kb = (b: number) => Math.round(b / 102.4) / 10
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN
}

ensureBuild(ROOT, step)
step('Starting the built worker (workerd, fresh local D1) and seeding…')
const w = await startWorker({ vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
const browser = await launchBrowser()
const rows: (LoadResult & { page: string, path: string, misses: string[] })[] = []
try {
  const seed = await seedUi(w)
  // Webhook deliveries run on the cron: one tick so the endpoint has a (failed) attempt to show.
  await w.scheduled('* * * * *')
  const signInCtx = await browser.newContext()
  const signInPage = await signInCtx.newPage()
  await signIn(signInPage, w.url, w.admin.email, w.admin.password)
  const storageState = await signInCtx.storageState()
  const pages = uiPages(ROOT).filter(p => !OPTS.pages || OPTS.pages.some(f => p.name.includes(f)))
  const paths = new Map<string, string | null>()
  for (const p of pages) paths.set(p.pattern, await resolveDynamic(p, seed, signInPage, w.url))
  // Warm the worker (first-request compilation, D1 open) so the first page measured is not penalised.
  for (const p of pages) {
    const path = paths.get(p.pattern)
    if (path) await signInPage.goto(`${w.url}${path}`, { waitUntil: 'networkidle' }).catch(() => {})
  }
  await signInCtx.close()
  if (OPTS.screens) {
    rmSync(OPTS.screens, { recursive: true, force: true })
    mkdirSync(OPTS.screens, { recursive: true })
  }
  for (const p of pages) {
    const path = paths.get(p.pattern)
    if (!path) {
      step(`${p.pattern}: no seeded object and no link to one on its list page — skipped`)
      continue
    }
    for (const width of OPTS.widths) {
      for (const scheme of OPTS.schemes) {
        const runs: LoadResult[] = []
        for (let r = 0; r < OPTS.runs; r++) {
          runs.push(await measureLoad(browser, {
            url: `${w.url}${path}`,
            width,
            scheme,
            storageState: p.signedIn ? storageState : undefined,
            screenshot: OPTS.screens && r === 0 ? join(OPTS.screens, `${p.name}-${width}-${scheme}.png`) : undefined,
          }))
        }
        const first = runs[0]!
        const res: LoadResult = { ...first, networkIdleMs: median(runs.map(x => x.networkIdleMs)), ttfbMs: median(runs.map(x => x.ttfbMs)) }
        const misses: string[] = []
        if (res.consoleErrors.length) misses.push('console errors')
        if (res.failedRequests.length) misses.push('failed requests')
        if (!(res.networkIdleMs <= UI_TARGETS.networkIdleMs)) misses.push('network idle')
        if (kb(res.jsGzipBytes) > (p.signedIn ? UI_TARGETS.signedInJsGzipKB : UI_TARGETS.loginJsGzipKB)) misses.push('JS size')
        if (width <= 390 && res.overflowPx > UI_TARGETS.overflowPxAt390) misses.push('overflow')
        rows.push({ ...res, page: p.name, path, misses })
        step(`${p.name.padEnd(16)} ${String(width).padStart(4)} ${scheme.padEnd(5)} idle ${Math.round(res.networkIdleMs)} ms, JS ${kb(res.jsGzipBytes)} KB gz, ${res.requests} req${misses.length ? `  ✗ ${misses.join(', ')}` : ''}`)
      }
    }
  }
}
finally {
  await browser.close()
  await w.close()
}

// ---------- report ----------
const head = ['page', 'width', 'theme', 'idle ms', 'TTFB ms', 'req', 'JS req', 'JS KB gz', 'JS KB wire', 'overflow', 'scrollers', 'console', 'failed', 'misses']
const table = [head, ...rows.map(r => [
  r.page, String(r.width), r.scheme, String(Math.round(r.networkIdleMs)), String(r.ttfbMs), String(r.requests), String(r.jsRequests),
  String(kb(r.jsGzipBytes)), String(kb(r.jsTransferredBytes)), String(r.overflowPx), String(r.innerScrollers.length),
  String(r.consoleErrors.length), String(r.failedRequests.length), r.misses.join(', ') || 'ok',
])]
const widths = head.map((_, i) => Math.max(...table.map(row => row[i]!.length)))
const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log([line(table[0]!), `|${widths.map(n => '-'.repeat(n + 2)).join('|')}|`, ...table.slice(1).map(line)].join('\n'))
for (const r of rows) {
  for (const e of r.consoleErrors) console.log(`  console ${r.page} ${r.width} ${r.scheme}: ${e}`)
  for (const f of r.failedRequests) console.log(`  failed  ${r.page} ${r.width} ${r.scheme}: ${f}`)
  if (r.width <= 390 && r.scheme === 'light') for (const s of r.innerScrollers) console.log(`  scrolls ${r.page} ${r.width}: ${s}`)
}
const missed = rows.filter(r => r.misses.length)
console.log(`\n${rows.length} loads, ${missed.length} missing a target (idle ≤ ${UI_TARGETS.networkIdleMs} ms, JS ≤ ${UI_TARGETS.loginJsGzipKB} KB gz on /login and ≤ ${UI_TARGETS.signedInJsGzipKB} KB signed in, 0 console errors, 0 failed requests, 0 px overflow at 390 px).`)
if (OPTS.screens) console.log(`Screenshots: ${relative(process.cwd(), OPTS.screens) || '.'}/ (${rows.length} PNGs)`)
mkdirSync(resolve(OPTS.jsonOut, '..'), { recursive: true })
writeFileSync(OPTS.jsonOut, `${JSON.stringify({
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavg: loadavg().map(x => Math.round(x * 100) / 100) },
  targets: UI_TARGETS,
  runsPerLoad: OPTS.runs,
  rows: rows.map(({ screenshot, ...r }) => ({ ...r, screenshot: screenshot ? relative(ROOT, screenshot) : undefined })),
}, null, 2)}\n`)
console.log(`Figures: ${relative(process.cwd(), OPTS.jsonOut)}`)
if (OPTS.strict && missed.length) process.exit(1)
