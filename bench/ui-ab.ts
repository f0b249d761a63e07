/**
 * First loads A/B against another checkout (docs/ui.md, "Measuring"): the other tree's built worker
 * (A) and this one's (B), each on its own fresh local D1 with the same seeded dataset, every page
 * loaded in a fresh browser context alternately (A B B A …) so the machine's other load hits both
 * alike. Prints the median time to network idle, TTFB, requests and JS gzip of each side per page.
 *   npx tsx bench/ui-ab.ts /path/to/other/checkout [--runs 4] [--widths 1440,390] [--pages licenses,log]
 * The other checkout must be built (`npm run build` there); this one is built if stale.
 */
import { resolve } from 'node:path'
import type { Browser, BrowserContextOptions } from 'playwright-core'
import { ensureBuild } from '../scripts/lib/build'
import { launchBrowser } from '../tests/support/browser'
import { signIn } from '../tests/support/e2e'
import { measureLoad, type LoadResult } from '../tests/support/ui-measure'
import { resolveDynamic, uiPages } from '../tests/support/ui-pages'
import { seedUi } from '../tests/support/ui-seed'
import { startWorker, type TestWorker } from '../tests/support/worker'

const ROOT = resolve(import.meta.dirname, '..')
const argv = process.argv.slice(2)
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const OTHER = argv[0] && !argv[0].startsWith('--') ? resolve(argv[0]) : null
if (!OTHER) throw new Error('usage: npx tsx bench/ui-ab.ts /path/to/other/checkout [--runs N] [--widths 1440,390] [--pages a,b]')
const RUNS = Number(opt('runs') ?? 4)
const WIDTHS = (opt('widths') ?? '1440,390').split(',').map(Number)
const FILTER = opt('pages')?.split(',')

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN
}
const kb = (b: number) => Math.round(b / 102.4) / 10

interface Side { w: TestWorker, state: BrowserContextOptions['storageState'], paths: Map<string, string | null> }

async function prepare(browser: Browser, root: string): Promise<Side> {
  const w = await startWorker({ root, vars: { WEBHOOKS_ALLOW_LOCALHOST: 'true' } })
  const seed = await seedUi(w)
  await w.scheduled('* * * * *')
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  await signIn(page, w.url, w.admin.email, w.admin.password)
  const state = await ctx.storageState()
  const paths = new Map<string, string | null>()
  for (const p of uiPages(ROOT)) paths.set(p.pattern, await resolveDynamic(p, seed, page, w.url))
  // Warm the worker so neither side's first page pays for compilation.
  for (const path of paths.values()) if (path) await page.goto(`${w.url}${path}`, { waitUntil: 'networkidle' }).catch(() => {})
  await ctx.close()
  return { w, state, paths }
}

ensureBuild(ROOT, s => process.stderr.write(`${s}\n`))
const browser = await launchBrowser()
const sides: Side[] = []
try {
  sides.push(await prepare(browser, OTHER), await prepare(browser, ROOT))
  const rows: string[][] = [['page', 'width', 'A idle', 'B idle', 'B/A', 'A TTFB', 'B TTFB', 'A req', 'B req', 'A JS gz', 'B JS gz']]
  for (const p of uiPages(ROOT).filter(x => !FILTER || FILTER.some(f => x.name.includes(f)))) {
    for (const width of WIDTHS) {
      const results: LoadResult[][] = [[], []]
      for (let r = 0; r < RUNS; r++) {
        for (const i of r % 2 ? [1, 0] : [0, 1]) {
          const side = sides[i]!
          const path = side.paths.get(p.pattern)
          if (!path) continue
          results[i]!.push(await measureLoad(browser, { url: `${side.w.url}${path}`, width, scheme: 'light', storageState: p.signedIn ? side.state : undefined }))
        }
      }
      const [a, b] = results as [LoadResult[], LoadResult[]]
      if (!a.length || !b.length) continue
      const ia = median(a.map(x => x.networkIdleMs))
      const ib = median(b.map(x => x.networkIdleMs))
      rows.push([p.name, String(width), String(Math.round(ia)), String(Math.round(ib)), (ib / ia).toFixed(2),
        String(median(a.map(x => x.ttfbMs))), String(median(b.map(x => x.ttfbMs))),
        String(a[0]!.requests), String(b[0]!.requests), String(kb(a[0]!.jsGzipBytes)), String(kb(b[0]!.jsGzipBytes))])
      process.stderr.write(`${rows.at(-1)!.join(' ')}\n`)
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log([line(rows[0]!), `|${widths.map(n => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n'))
  console.log(`\nA = ${OTHER}, B = ${ROOT}; median of ${RUNS} fresh-context loads each, alternated.`)
}
finally {
  await browser.close()
  for (const s of sides) await s.w.close()
}
