import { and, eq, inArray, lt, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events, type NewEvent } from '../../db/schema'
import { newId } from '../../server/lib/random'
import { chartWhere, logPageQuery, type LogScope } from '../../server/services/system-log'
import { SUCCESS_OUTCOMES, type LogFilter } from '../../shared/schemas/log'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { startWorker, type TestWorker } from '../support/worker'

let w: TestWorker
let admin: Caller
const PASSWORD = 'system-log-password-1'
const IP1 = '203.0.113.11'
const IP2 = '203.0.113.22'
const BULK_IP = '192.0.2.77'
const a = { email: uniqueEmail('log-a'), id: '', licenseId: '', caller: null as unknown as Caller }
const b = { email: uniqueEmail('log-b'), id: '', licenseId: '', caller: null as unknown as Caller }
/** Validation calls made through the REST API, by IP and license owner. */
let validationCalls = 0
const BULK = 140

async function verify(key: string, ip: string) {
  const res = await fetch(`${w.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip }, body: JSON.stringify({ key }) })
  expect(res.status).toBe(200)
  validationCalls++
  return await res.json() as { code: string }
}

/** Rows straight into D1, ≤ 7 per insert (13 columns: D1 allows 100 bound parameters per statement). */
async function insertRows(rows: NewEvent[]) {
  const { ctx } = w.context()
  const statements = []
  for (let i = 0; i < rows.length; i += 7) statements.push(ctx.db.insert(events).values(rows.slice(i, i + 7)))
  for (let i = 0; i < statements.length; i += 50) {
    const chunk = statements.slice(i, i + 50)
    await ctx.db.batch(chunk as [typeof chunk[number], ...typeof chunk])
  }
}

function bulkRow(i: number, at: Date, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    id: newId('evt'), createdAt: at, type: i % 2 ? 'auth.login.failed' : 'validation.verify', actorType: 'anonymous', actorId: null,
    subjectType: null, subjectId: null, ownerId: null, ip: BULK_IP, userAgent: `bulk-agent-${i}`, country: null,
    outcome: i % 2 ? 'failure' : 'NOT_FOUND', detail: { n: i }, ...extra,
  }
}

async function listAll(caller: Caller, filter: Record<string, unknown>, limit = 200) {
  const out = []
  let cursor: string | undefined
  for (let i = 0; i < 100; i++) {
    const page = await caller.trpc.log.list.query({ ...filter, limit, cursor })
    out.push(...page.items)
    if (!page.nextCursor) return out
    cursor = page.nextCursor
  }
  throw new Error('too many pages')
}

/** A small RFC 4180 parser: enough to read our export back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++ }
      else if (ch === '"') quoted = false
      else cell += ch
    }
    else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(cell); cell = '' }
    else if (ch === '\r') continue
    else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = '' }
    else cell += ch
  }
  if (cell || row.length) { row.push(cell); rows.push(row) }
  return rows
}

beforeAll(async () => {
  w = await startWorker()
  admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  for (const u of [a, b]) {
    await admin.trpc.users.create.mutate({ email: u.email, password: PASSWORD })
    u.caller = new Caller(w.url)
    await u.caller.login(u.email, PASSWORD)
    u.id = (await u.caller.trpc.auth.me.query())!.id
  }
  await errorOf(b.caller.trpc.account.changePassword.mutate({ currentPassword: 'wrong-password-1', newPassword: 'another-password-1' }))
  const la = await a.caller.trpc.licenses.create.mutate({ label: 'A app' })
  const lb = await b.caller.trpc.licenses.create.mutate({ label: 'B app' })
  a.licenseId = la.license.id
  b.licenseId = lb.license.id
  await a.caller.trpc.licenses.suspend.mutate({ id: a.licenseId })
  await a.caller.trpc.licenses.reinstate.mutate({ id: a.licenseId })
  await b.caller.trpc.licenses.suspend.mutate({ id: b.licenseId })
  for (let i = 0; i < 3; i++) expect((await verify(la.key, IP1)).code).toBe('VALID')
  for (let i = 0; i < 2; i++) expect((await verify(la.key, IP2)).code).toBe('VALID')
  for (let i = 0; i < 2; i++) expect((await verify(lb.key, IP2)).code).toBe('SUSPENDED')
  expect((await verify('LM-00000-00000-00000-00000-00000-00000', IP2)).code).toBe('NOT_FOUND')
  // REST events are written after the response: wait for them.
  const { ctx } = w.context()
  for (let i = 0; i < 100; i++) {
    const [{ n } = { n: 0 }] = await ctx.db.select({ n: sql<number>`count(*)` }).from(events).where(sql`${events.type} glob 'validation.*'`)
    if (n >= validationCalls) break
    await new Promise(r => setTimeout(r, 100))
  }
  // Bulk history: the last ten days, some rows sharing a timestamp (the keyset tie-break on id).
  const now = Date.now()
  await insertRows(Array.from({ length: BULK }, (_, i) => bulkRow(i, new Date(now - 3_600_000 - Math.floor(i / 3) * 6 * 3_600_000))))
  await insertRows([bulkRow(9001, new Date(now - 60_000), { type: 'auth.login.failed', outcome: 'failure', ip: '=1+2', userAgent: '=HYPERLINK("http://evil.example","x")', detail: { note: '@SUM(A1:A2), "quoted"' } })])
}, 180_000)
afterAll(async () => { await w?.close() })

describe('log.list filters', () => {
  it('a type group returns only that group', async () => {
    const groups = { auth: /^(auth|session)\./, licenses: /^license\./, validations: /^validation\./, devices: /^device\./, products: /^product\./, webhooks: /^webhook\./, tokens: /^api_token\./, admin: /^user\./ } as const
    for (const [group, re] of Object.entries(groups)) {
      const items = await listAll(admin, { group })
      for (const e of items) expect(e.type, `${group}: ${e.type}`).toMatch(re)
      if (!['devices', 'products', 'webhooks', 'tokens'].includes(group)) expect(items.length, group).toBeGreaterThan(0)
    }
    const validations = await listAll(admin, { group: 'validations' })
    expect(validations.length).toBe(validationCalls + BULK / 2)
  })

  it('exact type, outcome, license, IP, user, date range and search each narrow correctly', async () => {
    const suspended = await listAll(admin, { type: 'license.suspended' })
    expect(suspended.map(e => e.subjectId).sort()).toEqual([a.licenseId, b.licenseId].sort())
    const notFound = await listAll(admin, { outcome: 'NOT_FOUND' })
    expect(notFound.length).toBe(1 + BULK / 2)
    expect(notFound.every(e => e.outcome === 'NOT_FOUND')).toBe(true)
    const ofA = await listAll(admin, { licenseId: a.licenseId })
    expect(ofA.every(e => e.subjectId === a.licenseId)).toBe(true)
    expect(ofA.map(e => e.type)).toEqual(expect.arrayContaining(['license.created', 'license.suspended', 'license.reinstated', 'validation.verify']))
    const ip1 = await listAll(admin, { ip: IP1 })
    expect(ip1.length).toBe(3)
    expect(ip1.every(e => e.ip === IP1 && e.outcome === 'VALID' && e.ownerEmail === a.email)).toBe(true)
    const ip2Validations = await listAll(admin, { ip: IP2, group: 'validations' })
    expect(ip2Validations.length).toBe(5)
    const userA = await listAll(admin, { userId: a.id })
    expect(userA.length).toBeGreaterThan(5)
    expect(userA.every(e => e.ownerId === a.id || e.actorId === a.id)).toBe(true)
    // Events A did as an actor (e.g. login) and events on A's licenses by the API are both there.
    expect(userA.some(e => e.actorId === a.id)).toBe(true)
    expect(userA.some(e => e.type === 'validation.verify' && e.actorId === null && e.ownerId === a.id)).toBe(true)
    const to = new Date(Date.now() - 20 * 3_600_000)
    const from = new Date(Date.now() - 50 * 3_600_000)
    const ranged = await listAll(admin, { from, to })
    expect(ranged.length).toBeGreaterThan(0)
    expect(ranged.every(e => e.createdAt >= from && e.createdAt <= to)).toBe(true)
    const search = await listAll(admin, { search: 'bulk-agent-1' })
    expect(search.length).toBeGreaterThan(0)
    expect(search.every(e => e.userAgent?.includes('bulk-agent-1'))).toBe(true)
    // LIKE wildcards are escaped: "%" matches a literal percent only.
    expect(await listAll(admin, { search: '%' })).toEqual([])
  })

  it('keyset pages have no gaps and no repeats, with and without a filter', async () => {
    for (const filter of [{}, { userId: a.id }, { ip: BULK_IP }]) {
      const one = await listAll(admin, filter, 200)
      const paged = await listAll(admin, filter, 7)
      expect(paged.map(e => e.id)).toEqual(one.map(e => e.id))
      expect(new Set(paged.map(e => e.id)).size).toBe(paged.length)
      for (let i = 1; i < paged.length; i++) {
        const [p, c] = [paged[i - 1]!, paged[i]!]
        expect(p.createdAt.getTime() > c.createdAt.getTime() || (p.createdAt.getTime() === c.createdAt.getTime() && p.id > c.id)).toBe(true)
      }
    }
  })

  it('bad input is a clean 400', async () => {
    for (const input of [{ cursor: 'nonsense' }, { group: 'everything' }, { from: new Date(), to: new Date(Date.now() - 1000) }, { limit: 0 }, { userId: 'not an id' }]) {
      expect((await errorOf(admin.raw.query('log.list', input))).code, JSON.stringify(input)).toBe('BAD_REQUEST')
    }
  })
})

describe('log.mine', () => {
  it('a user sees their own events only: their licenses and their logins, never another user\'s', async () => {
    for (const u of [a, b]) {
      const items = []
      let cursor: string | undefined
      do {
        const page = await u.caller.trpc.log.mine.query({ limit: 5, cursor })
        items.push(...page.items)
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      expect(items.length).toBeGreaterThan(3)
      expect(items.every(e => e.ownerId === u.id)).toBe(true)
      expect(items.some(e => e.type === 'auth.login.succeeded' || e.type.startsWith('auth.login'))).toBe(true)
      // Filters cannot widen it: naming the other user's license or IP gives nothing of theirs.
      const other = u === a ? b : a
      expect((await u.caller.trpc.log.mine.query({ licenseId: other.licenseId })).items).toEqual([])
    }
    const mineA = await a.caller.trpc.log.mine.query({ group: 'validations', limit: 100 })
    expect(mineA.items.length).toBe(5)
    // A userId filter is not part of log.mine's input: it is dropped, never obeyed.
    const sneaky = await a.caller.raw.query('log.mine', { userId: b.id, limit: 100 }) as { items: { ownerId: string }[] }
    expect(sneaky.items.length).toBeGreaterThan(0)
    expect(sneaky.items.every(e => e.ownerId === a.id)).toBe(true)
  })
})

describe('validation chart', () => {
  it('buckets sum to the number of validation events, split succeeded / failed, with top IPs and failing licenses', async () => {
    const chart = await admin.trpc.log.validationChart.query({})
    const all = await listAll(admin, { group: 'validations', from: chart.from, to: chart.to })
    expect(chart.bucket).toBe('day')
    expect(chart.total).toBe(all.length)
    expect(chart.buckets.reduce((n, x) => n + x.succeeded + x.failed, 0)).toBe(all.length)
    expect(chart.buckets.reduce((n, x) => n + x.succeeded, 0)).toBe(all.filter(e => (SUCCESS_OUTCOMES as readonly string[]).includes(e.outcome)).length)
    expect(chart.topIps[0]!.ip).toBe(BULK_IP)
    expect(chart.topIps.map(x => x.ip)).toEqual(expect.arrayContaining([IP1, IP2]))
    expect(chart.topFailingLicenses).toEqual([{ licenseId: b.licenseId, label: 'B app', failed: 2 }])
    expect(JSON.stringify(chart)).not.toMatch(/LM-|key/i)

    const hourly = await admin.trpc.log.validationChart.query({ from: new Date(Date.now() - 6 * 3_600_000), to: new Date() })
    expect(hourly.bucket).toBe('hour')
    expect(hourly.buckets.length).toBeGreaterThanOrEqual(6)
    // A week per hour when asked (the chart's 7-day range); per hour over more than 8 days is refused.
    const weekHourly = await admin.trpc.log.validationChart.query({ from: new Date(Date.now() - 7 * 86_400_000), to: new Date(), bucket: 'hour' })
    expect(weekHourly.bucket).toBe('hour')
    expect(weekHourly.buckets.length).toBeGreaterThanOrEqual(168)
    expect(weekHourly.buckets.reduce((n, x) => n + x.succeeded + x.failed, 0)).toBe(weekHourly.total)
    expect((await errorOf(admin.raw.query('log.validationChart', { from: new Date(Date.now() - 9 * 86_400_000), bucket: 'hour' }))).code).toBe('BAD_REQUEST')
    expect((await errorOf(admin.raw.query('log.validationChart', { bucket: 'minute' }))).code).toBe('BAD_REQUEST')
    const mine = await a.caller.trpc.log.myValidationChart.query({})
    expect(mine.total).toBe(5)
    expect(mine.topIps.map(x => x.ip).sort()).toEqual([IP1, IP2])
    expect(mine.topFailingLicenses).toEqual([])
    const ofB = await admin.trpc.log.validationChart.query({ userId: b.id })
    expect(ofB.total).toBe(2)
    expect(ofB.buckets.reduce((n, x) => n + x.failed, 0)).toBe(2)
    for (const input of [{ from: new Date(0), to: new Date() }, { from: new Date(0) }, { from: new Date(Date.now() + 86_400_000) }, { licenseId: 'nope' }]) {
      expect((await errorOf(admin.raw.query('log.validationChart', input))).code, JSON.stringify(input)).toBe('BAD_REQUEST')
    }
    expect((await errorOf(a.caller.raw.query('log.myValidationChart', { from: new Date(0) }))).code).toBe('BAD_REQUEST')
  })
})

describe('CSV export', () => {
  const exportUrl = (q: Record<string, string>) => `${w.url}/api/log/export?${new URLSearchParams(q)}`

  it('streams the filtered rows as an attachment', async () => {
    const res = await admin.fetch(exportUrl({ ip: IP2, group: 'validations' }))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/csv/)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="system-log-.*\.csv"$/)
    const rows = parseCsv(await res.text())
    const [header, ...data] = rows
    expect(header).toEqual(['time', 'type', 'outcome', 'actor_type', 'actor_id', 'actor_email', 'subject_type', 'subject_id', 'owner_id', 'owner_email', 'ip', 'country', 'user_agent', 'detail'])
    expect(data.length).toBe(5)
    expect(data.every(r => r[10] === IP2 && r[1] === 'validation.verify')).toBe(true)
  })

  it('pages through more than one chunk and matches the list', async () => {
    const res = await admin.fetch(exportUrl({}))
    const data = parseCsv(await res.text()).slice(1)
    const all = await listAll(admin, {})
    expect(data.length).toBe(all.length)
    expect(data.map(r => r[0])).toEqual(all.map(e => e.createdAt.toISOString()))
  })

  it('neutralises spreadsheet formulas and escapes quotes', async () => {
    const data = parseCsv(await (await admin.fetch(exportUrl({ search: 'HYPERLINK' }))).text()).slice(1)
    expect(data.length).toBe(1)
    const [row] = data
    expect(row![10]).toBe(`'=1+2`)
    expect(row![12]).toBe(`'=HYPERLINK("http://evil.example","x")`)
    expect(JSON.parse(row![13]!)).toEqual({ note: '@SUM(A1:A2), "quoted"' })
    for (const cell of row!) expect(cell).not.toMatch(/^[=+\-@]/)
  })

  it('refuses anonymous (401), non-admins (403) and bad filters (400)', async () => {
    expect((await fetch(exportUrl({}))).status).toBe(401)
    expect((await a.caller.fetch(exportUrl({}))).status).toBe(403)
    expect((await admin.fetch(exportUrl({ group: 'nope' }))).status).toBe(400)
    expect((await admin.fetch(exportUrl({ from: 'not a date' }))).status).toBe(400)
  })

  it('never contains a password hash, key or session token', async () => {
    const text = await (await admin.fetch(exportUrl({}))).text()
    expect(text).not.toMatch(/\$scrypt\$|LM-[0-9A-Z]{5}-/)
    for (const c of [admin, a.caller, b.caller]) expect(text.includes(c.sessionToken!)).toBe(false)
  })
})

describe('query plans: a first page is an index read, never a scan of events', () => {
  const cases: [string, LogScope, LogFilter][] = [
    ['no filter', { all: true }, {}],
    ['ip', { all: true }, { ip: IP1 }],
    ['type', { all: true }, { type: 'validation.verify' }],
    ['type group', { all: true }, { group: 'validations' }],
    ['license', { all: true }, { licenseId: 'lic_x' }],
    ['user (owner or actor)', { all: true }, { userId: 'usr_x' }],
    ['own events (log.mine)', { ownerId: 'usr_x' }, {}],
    ['own events by group', { ownerId: 'usr_x' }, { group: 'auth' }],
  ]
  it.each(cases)('%s', async (_name, scope, filter) => {
    const { ctx } = w.context()
    for (const cursor of [undefined, '1700000000000:evt_abc']) {
      const q = logPageQuery(ctx.db, scope, filter, { limit: 50, cursor }).toSQL()
      const plan = await w.env.DB.prepare(`explain query plan ${q.sql}`).bind(...q.params).all()
      const details = (plan.results as { detail: string }[]).map(r => r.detail).join('\n')
      // "SCAN events USING INDEX" walks the (created_at, id) index newest first and stops at the limit.
      expect(details, details).not.toMatch(/SCAN events(?! USING (COVERING )?INDEX)/)
      if (!('userId' in filter)) expect(details, details).not.toMatch(/TEMP B-TREE/)
      expect(details, details).toMatch(/events_[a-z_]*created_id_idx|sqlite_autoindex_events/)
    }
  })

  it('the chart reads the group index range, never the whole table', async () => {
    for (const scope of [{ all: true }, { ownerId: 'usr_x' }] as LogScope[]) {
      const where = chartWhere(scope, {}, new Date(0), new Date())
      const q = w.context().ctx.db.select({ n: sql`count(*)` }).from(events).where(where).toSQL()
      const plan = await w.env.DB.prepare(`explain query plan ${q.sql}`).bind(...q.params).all()
      const details = (plan.results as { detail: string }[]).map(r => r.detail).join('\n')
      expect(details, details).toMatch(/SEARCH events USING (COVERING )?INDEX/)
      expect(details, details).not.toMatch(/SCAN events/)
    }
  })
})

describe('retention', () => {
  it('the scheduled task prunes only events older than EVENT_RETENTION_DAYS (90), in batches', async () => {
    const day = 86_400_000
    const old = Array.from({ length: 30 }, (_, i) => bulkRow(i, new Date(Date.now() - 91 * day - i * 1000), { ip: '192.0.2.200' }))
    const kept = Array.from({ length: 5 }, (_, i) => bulkRow(i, new Date(Date.now() - 89 * day), { ip: '192.0.2.201' }))
    await insertRows([...old, ...kept])
    const { ctx } = w.context()
    const count = async (ip: string) => (await ctx.db.select({ n: sql<number>`count(*)` }).from(events).where(eq(events.ip, ip)))[0]!.n
    const before = (await ctx.db.select({ n: sql<number>`count(*)` }).from(events))[0]!.n
    expect(await count('192.0.2.200')).toBe(30)
    await w.scheduled('*/5 * * * *')
    expect(await count('192.0.2.200')).toBe(0)
    expect(await count('192.0.2.201')).toBe(5)
    const after = (await ctx.db.select({ n: sql<number>`count(*)` }).from(events))[0]!.n
    // Only the old rows went (the cron may itself have written nothing else into the log).
    expect(before - after).toBe(30)
    const stale = await ctx.db.select({ id: events.id }).from(events).where(lt(events.createdAt, new Date(Date.now() - 90 * day)))
    expect(stale).toEqual([])
  })

  it('pruneEvents is bounded: batch size × statements per run', async () => {
    const { pruneEvents } = await import('../../server/services/system-log')
    const day = 86_400_000
    const rows = Array.from({ length: 25 }, (_, i) => bulkRow(i, new Date(Date.now() - 200 * day - i), { ip: '192.0.2.202' }))
    await insertRows(rows)
    const { ctx } = w.context()
    expect((await pruneEvents(ctx, { days: 90, batchSize: 10, maxStatements: 2 })).deleted).toBe(20)
    const left = await ctx.db.select({ id: events.id }).from(events).where(and(eq(events.ip, '192.0.2.202'), inArray(events.id, rows.map(r => r.id!))))
    expect(left.length).toBe(5)
    expect((await pruneEvents(ctx, { days: 90, batchSize: 10, maxStatements: 2 })).deleted).toBe(5)
  })
})
