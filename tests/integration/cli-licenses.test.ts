import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addDuration } from '../../server/lib/duration'
import { readDotenv } from '../../scripts/lib/dev-vars'
import { startServer, type RunningServer } from '../../scripts/lib/server'
import { verifyWith, WebhookReceiver } from '../support/webhook-receiver'
import { ROOT } from '../support/worker'

/**
 * The license commands of `lm` on a local D1 that a real server (the built worker served as `npm start`
 * serves it, scripts/lib/server.ts) serves at the same time: what the CLI changes, the public verify
 * endpoint answers at once. The CLI (--secrets-file) and the server read the same fresh secrets file,
 * never the developer's .dev.vars.
 */

const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false' }
delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV
delete env.LM_SECRETS_FILE
const OWNER = 'owner@example.com'
/** `npm run lm` is `tsx cli/lm.ts`; calling node and wrangler directly skips npx (~0.5 s a call). */
const TSX = [process.execPath, '--import', 'tsx', 'cli/lm.ts']
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler')

let dir: string
let state: string
let secrets: string
let server: RunningServer | undefined
let baseUrl: string

interface Run { code: number | null, stdout: string, stderr: string }

/** `npm run lm -- …` on the test's D1 with the test's secrets (async, so several can run at once). */
function lm(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX[0]!, [...TSX.slice(1), ...args, '--persist-to', state, '--secrets-file', secrets], { cwd: ROOT, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

/** Run a command that must succeed with --json: its one JSON object. */
async function lmJson(...args: string[]) {
  const r = await lm(...args, '--json')
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout.trim().split('\n'), r.stdout).toHaveLength(1)
  return JSON.parse(r.stdout)
}

interface Verified { code: string, license?: { expiresAt: string | null, metadata: Record<string, unknown> } }

/** POST /api/v1/licenses/verify on the running server: its business code (the whole answer in `last`). */
let last: Verified
async function verify(key: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/licenses/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  })
  expect(res.status).toBe(200)
  last = (await res.json()) as Verified
  return last.code
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    child.on('close', code => resolve({ code, stdout: out, stderr: out }))
  })
}

async function startLocalServer(): Promise<void> {
  // As `npm start` runs it: local webhook receivers allowed; the cron fired through server.scheduled().
  server = await startServer({
    root: ROOT,
    port: 0,
    persistTo: state,
    bindings: { ...Object.fromEntries(readDotenv(secrets)), WEBHOOKS_ALLOW_LOCALHOST: 'true', WEBHOOK_DNS_RESOLVER: 'off' },
    onLog: () => {},
  })
  baseUrl = server.url
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lm-cli-lic-'))
  state = join(dir, 'state')
  secrets = join(dir, 'secrets.env')
  writeFileSync(secrets, ['SESSION_SECRET', 'KEY_HMAC_SECRET', 'KEY_ENC_SECRET', 'API_TOKEN_SECRET'].map(k => `${k}=${randomBytes(32).toString('base64url')}\n`).join(''))
  const migrate = await run(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state])
  expect(migrate.code, migrate.stdout).toBe(0)
  const [added] = await Promise.all([lm('user', 'add', '--email', OWNER, '--password', 'a-long-password'), startLocalServer()])
  expect(added.code, added.stderr).toBe(0)
  // The CLI says where its secrets came from: the test's file, not .dev.vars.
  expect(added.stderr).toContain('secrets.env')
}, 240_000)

afterAll(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

// Each CLI call costs ~5 s of CPU (npx, tsx loading the service code, Miniflare): on a busy two-core machine a
// test of ten calls can pass the project's 60 s default.
describe('lm license (local D1 shared with a running server)', { timeout: 240_000 }, () => {
  it('create → verify VALID; suspend, reinstate, renew, show, list, delete are seen by the server at once', async () => {
    const before = Date.now()
    const created = await lmJson('license', 'create', '--owner', OWNER, '--max-devices', '3', '--expires-in', '30d', '--metadata', '{"tier":"pro"}', '--label', 'Pro seat')
    expect(created).toMatchObject({ ownerEmail: OWNER, label: 'Pro seat', status: 'active', maxDevices: 3, metadata: { tier: 'pro' } })
    expect(created.key).toMatch(/^LM(-[0-9A-Z]{5}){6}$/)
    const expiresAt = new Date(created.expiresAt)
    expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + 30 * 86_400_000)
    expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000)
    const key: string = created.key
    expect(await verify(key)).toBe('VALID')
    expect(last.license).toMatchObject({ expiresAt: created.expiresAt, metadata: { tier: 'pro' } })

    expect(await lmJson('license', 'suspend', key)).toMatchObject({ id: created.id, status: 'suspended' })
    expect(await verify(key)).toBe('SUSPENDED')
    // KEY as a customer might type it: lower case, no dashes.
    const reinstated = await lm('license', 'reinstate', key.toLowerCase().replaceAll('-', ''))
    expect(reinstated.code, reinstated.stderr).toBe(0)
    expect(reinstated.stdout).toMatch(/^Reinstated LM-.*active/)
    expect(await verify(key)).toBe('VALID')

    const renewed = await lmJson('license', 'renew', key, '--expires-in', '1y')
    expect(renewed.expiresAt).toBe(addDuration(expiresAt, { n: 1, unit: 'y' }).toISOString())

    const [shown, listed, listText, noPeriod] = await Promise.all([
      lmJson('license', 'show', key),
      lmJson('license', 'list'),
      lm('license', 'list', '--owner', OWNER),
      lm('license', 'renew', key), // no options and no renewal period: the service's error
    ])
    expect(shown).toMatchObject({ id: created.id, expiresAt: renewed.expiresAt, devicesUsed: 0, devices: [], metadata: { tier: 'pro' }, ownerEmail: OWNER })
    expect(JSON.stringify(shown)).not.toContain(key.slice(3, 20)) // the key itself is never shown again
    expect(listed.licenses.map((l: { id: string }) => l.id)).toContain(created.id)
    expect(listText.stdout).toMatch(/^KEY\s+STATUS\s+EXPIRES\s+DEVICES\s+OWNER\s+PRODUCT\s+CUSTOMER\s+LABEL\n/)
    expect(listText.stdout).toMatch(new RegExp(`^${created.maskedKey}\\s+active\\s+${renewed.expiresAt.slice(0, 10)} \\d\\d:\\d\\d UTC\\s+0/3\\s+${OWNER}\\s+—\\s+—\\s+Pro seat$`, 'm'))
    expect(noPeriod.code).toBe(1)
    expect(noPeriod.stderr).toMatch(/^lm: This license has no renewal period/m)
    expect(noPeriod.stdout).toBe('')

    expect(await lmJson('license', 'delete', key)).toEqual({ ok: true, id: created.id })
    expect(await verify(key)).toBe('NOT_FOUND')
  })

  it('products: create with defaults, a license for it with customer fields, filters, PRODUCT_MISMATCH, delete refused while used', async () => {
    const product = await lmJson('product', 'create', '--owner', OWNER, '--name', 'Photo Pro', '--slug', 'photo-pro', '--expires-in', '1y', '--max-devices', '2', '--metadata', '{"tier":"pro"}')
    expect(product).toMatchObject({ name: 'Photo Pro', slug: 'photo-pro', ownerEmail: OWNER, licenseCount: 0, defaults: { expiresIn: '1y', maxDevices: 2, metadata: { tier: 'pro' } } })
    const [dup, badSlug] = await Promise.all([
      lm('product', 'create', '--owner', OWNER, '--name', 'Again', '--slug', 'photo-pro'),
      lm('product', 'create', '--owner', OWNER, '--name', 'Bad', '--slug', 'Photo Pro'),
    ])
    expect([dup.code, dup.stderr.trim().split('\n').at(-1)]).toEqual([1, 'lm: You already have a product with this slug'])
    expect(badSlug.code).toBe(2)
    expect(badSlug.stderr).toMatch(/^lm: --slug: Lower-case letters, digits and dashes/m)

    const lic = await lmJson('license', 'create', '--owner', OWNER, '--product', 'photo-pro', '--customer-email', 'Buyer@Example.com', '--customer-name', 'Buyer One', '--external-id', 'order-77')
    expect(lic).toMatchObject({ productId: product.id, product: { slug: 'photo-pro' }, maxDevices: 2, metadata: { tier: 'pro' }, customerEmail: 'buyer@example.com', customerName: 'Buyer One', externalId: 'order-77' })
    expect(new Date(lic.expiresAt).getTime()).toBeGreaterThan(Date.now() + 364 * 86_400_000)
    const res = await fetch(`${baseUrl}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: lic.key, product: 'video-pro' }) })
    expect(await res.json()).toEqual({ valid: false, status: 'inactive', code: 'PRODUCT_MISMATCH' })

    const [byProduct, byEmail, byExternal, none, text, again] = await Promise.all([
      lmJson('license', 'list', '--product', 'photo-pro'),
      lmJson('license', 'list', '--customer-email', 'BUYER@example.com'),
      lmJson('license', 'list', '--external-id', 'order-77', '--owner', OWNER),
      lmJson('license', 'list', '--external-id', 'order-78'),
      lm('product', 'list', '--owner', OWNER),
      lm('license', 'create', '--owner', OWNER, '--external-id', 'order-77'),
    ])
    for (const list of [byProduct, byEmail, byExternal]) expect(list.licenses.map((l: { id: string }) => l.id)).toEqual([lic.id])
    expect(none.licenses).toEqual([])
    expect(text.stdout).toMatch(new RegExp(`^${product.id}\\s+photo-pro\\s+Photo Pro\\s+1\\s+${OWNER}\\s+.*expires in 1y · 2 devices · metadata \\{"tier":"pro"\\}$`, 'm'))
    expect([again.code, again.stderr.trim().split('\n').at(-1)]).toEqual([1, 'lm: Another license of this owner has this external id'])

    const refused = await lm('product', 'delete', product.id)
    expect([refused.code, refused.stderr.trim().split('\n').at(-1)]).toEqual([1, 'lm: 1 license uses this product: move or delete it first'])
    expect(await lmJson('license', 'delete', lic.key)).toEqual({ ok: true, id: lic.id })
    expect(await lmJson('product', 'delete', product.id)).toEqual({ ok: true, id: product.id })
    expect((await lmJson('product', 'list')).products).toEqual([])
  })

  it('a past --expires-at is allowed (EXPIRED); renew without options uses the renewal period', async () => {
    const r = await lm('license', 'create', '--owner', OWNER, '--expires-at', '2020-01-01T00:00:00Z', '--renewal', '1mo')
    expect(r.code, r.stderr).toBe(0)
    const key = /^Key \(shown once\): (LM-\S+)$/m.exec(r.stdout)?.[1]
    expect(key, r.stdout).toBeDefined()
    expect(r.stdout).toMatch(/expired · expires 2020-01-01 00:00 UTC/)
    expect(await verify(key!)).toBe('EXPIRED')

    const before = Date.now()
    const renewed = await lmJson('license', 'renew', key!)
    const expected = addDuration(new Date(before), { n: 1, unit: 'mo' }).getTime()
    expect(Math.abs(new Date(renewed.expiresAt).getTime() - expected)).toBeLessThan(60_000)
    expect(await verify(key!)).toBe('VALID')

    // The D1 files on disk (database, WAL, shared memory) hold no key in any form.
    const files = readdirSync(state, { recursive: true, withFileTypes: true }).filter(f => f.isFile())
    const sqlite = files.filter(f => f.name.endsWith('.sqlite') || f.name.includes('.sqlite-'))
    expect(sqlite.length).toBeGreaterThan(0)
    const bytes = Buffer.concat(files.map(f => readFileSync(join(f.parentPath, f.name))))
    expect(bytes.includes(Buffer.from(OWNER))).toBe(true) // the license's data is there…
    const body = key!.slice(3).replace(/-/g, '')
    for (const form of [key!, body, body.toLowerCase(), body.slice(0, 15), body.slice(10, 25)]) {
      expect(bytes.includes(Buffer.from(form)), `key material on disk: ${form.slice(0, 5)}…`).toBe(false) // …its key is not
    }
  })

  it('policies: create with --grace/--expires-after-activation/--max-activations/--lease, update (none removes), show', async () => {
    const trial = await lmJson('license', 'create', '--owner', OWNER, '--expires-after-activation', '14d', '--grace', '3d', '--max-activations', '3/1mo', '--lease', '15min')
    expect(trial).toMatchObject({ expiresAt: null, grace: '3d', expiresAfterActivation: '14d', maxActivationsPerPeriod: { count: 3, period: '1mo' }, leaseDuration: '15min', trialPending: true })
    const updated = await lmJson('license', 'update', trial.key, '--lease', 'none', '--max-activations', '5/30D')
    expect(updated).toMatchObject({ leaseDuration: null, maxActivationsPerPeriod: { count: 5, period: '30d' }, grace: '3d' })
    const shown = await lm('license', 'show', trial.key)
    expect(shown.stdout).toMatch(/Policies\s+grace 3d · trial 14d, starts on first activation · at most 5 activations per 30d/)
    const removeTrial = await lm('license', 'update', trial.key, '--expires-after-activation', 'none')
    expect(removeTrial.code).toBe(1) // grace would be left on a perpetual license
    expect(removeTrial.stderr).toMatch(/perpetual license/)
  })

  it('bad arguments: a one-line error on stderr, a non-zero exit, nothing on stdout', async () => {
    const cases: [string[], RegExp, number][] = [
      [['license', 'create', '--owner', 'nobody@example.com'], /No user with email nobody@example\.com/, 1],
      [['license', 'list', '--owner', 'nobody@example.com'], /No user with email/, 1],
      [['license', 'create', '--owner', OWNER, '--expires-in', '3 days'], /--expires-in: Use a duration like/, 2],
      [['license', 'create', '--owner', OWNER, '--expires-in', '0d'], /--expires-in: A duration is at least 1/, 2],
      [['license', 'create', '--owner', OWNER, '--expires-in', '30d', '--expires-at', '2030-01-01'], /--expires-in or --expires-at, not both/, 2],
      [['license', 'create', '--owner', OWNER, '--metadata', '{tier: pro}'], /--metadata: not valid JSON/, 2],
      [['license', 'create', '--owner', OWNER, '--metadata', '["pro"]'], /--metadata: must be a JSON object/, 2],
      [['license', 'create', '--owner', OWNER, '--metadata', JSON.stringify({ big: 'x'.repeat(4100) })], /--metadata: .*4 KiB/, 2],
      [['license', 'create', '--owner', OWNER, '--max-devices', '0'], /--max-devices: At least 1/, 2],
      [['license', 'create', '--owner', OWNER, '--expires-at', 'next week'], /--expires-at: not an ISO 8601 date/, 2],
      [['license', 'create'], /needs --owner/, 2],
      [['license', 'suspend', 'LM-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA'], /License not found/, 1],
      [['license', 'suspend'], /license suspend needs KEY/, 2],
      [['license', 'create', '--owner', OWNER, '--product', 'no-such-product'], /Product not found/, 1],
      [['license', 'create', '--owner', OWNER, '--product', 'Not A Slug'], /--product: A product id \(prd_…\) or slug/, 2],
      [['license', 'create', '--owner', OWNER, '--customer-email', 'nope'], /--customer-email: Enter a valid email address/, 2],
      [['license', 'create', '--owner', OWNER, '--external-id', 'x'.repeat(201)], /--external-id: At most 200 characters/, 2],
      [['license', 'list', '--customer-email'], /--customer-email needs a value/, 2],
      [['product', 'create', '--owner', OWNER, '--name', 'X'], /product create needs --slug/, 2],
      [['product', 'create', '--owner', OWNER, '--name', 'X', '--slug', 'x', '--max-devices', '0'], /--max-devices: At least 1/, 2],
      [['product', 'create', '--owner', 'nobody@example.com', '--name', 'X', '--slug', 'x'], /No user with email/, 1],
      [['product', 'delete', 'photo-pro'], /not a product id/, 2],
      [['product', 'delete', 'prd_doesnotexist'], /Product not found/, 1],
      // License policies (docs/policies.md).
      [['license', 'create', '--owner', OWNER, '--lease', '30s'], /--lease: A lease is at least 1 minute/, 2],
      [['license', 'create', '--owner', OWNER, '--lease', '99d'], /--lease: At most 30 days/, 2],
      [['license', 'create', '--owner', OWNER, '--max-activations', '0/30d'], /--max-activations: At least 1/, 2],
      [['license', 'create', '--owner', OWNER, '--max-activations', 'three'], /--max-activations: Write it as COUNT\/PERIOD/, 2],
      [['license', 'create', '--owner', OWNER, '--max-activations', '3/forever'], /--max-activations: Use a duration like/, 2],
      [['license', 'create', '--owner', OWNER, '--grace', '7d'], /--grace: A perpetual license has no expiry/, 2],
      [['license', 'create', '--owner', OWNER, '--grace', '-1d', '--expires-in', '1y'], /--grace: Use a duration like/, 2],
      [['license', 'create', '--owner', OWNER, '--grace', '2y', '--expires-in', '1y'], /--grace: At most 1 year/, 2],
      [['license', 'create', '--owner', OWNER, '--expires-after-activation', '14d', '--expires-in', '30d'], /--expires-after-activation: Give an expiry or an expiry after first activation, not both/, 2],
      [['license', 'update', 'LM-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA'], /license update needs at least one of/, 2],
      [['product', 'create', '--owner', OWNER, '--name', 'X', '--slug', 'x', '--lease', '0min'], /--lease: A lease is at least 1 minute/, 2],
      [['product', 'create', '--owner', OWNER, '--name', 'X', '--slug', 'x', '--grace', '7d'], /--grace: A perpetual license/, 2],
    ]
    const results = await Promise.all(cases.map(([args]) => lm(...args)))
    results.forEach((r, i) => {
      const [args, message, code] = cases[i]!
      const label = JSON.stringify(args)
      expect(r.code, label).toBe(code)
      expect(r.stdout, label).toBe('')
      const errors = r.stderr.split('\n').filter(l => l.startsWith('lm:'))
      expect(errors, `${label}\n${r.stderr}`).toHaveLength(1)
      expect(errors[0], label).toMatch(message)
    })
  })
})

describe('lm webhook (local D1 shared with a running server)', { timeout: 240_000 }, () => {
  it('add --json prints id and secret; a CLI change is delivered by the cron; list and remove', async () => {
    const receiver = await new WebhookReceiver().start()
    try {
      const added = await lmJson('webhook', 'add', '--owner', OWNER, '--url', `${receiver.url}/cli`, '--events', 'license.created,license.deleted')
      expect(added).toMatchObject({ ownerEmail: OWNER, url: `${receiver.url}/cli`, allEvents: false, eventTypes: ['license.created', 'license.deleted'], enabled: true })
      expect(added.id).toMatch(/^whk_/)
      expect(added.secret).toMatch(/^whsec_/)
      const created = await lmJson('license', 'create', '--owner', OWNER, '--label', 'via CLI')
      // The CLI leaves delivery to the every-minute cron (fired here as npm start's scheduler does).
      expect(receiver.received).toHaveLength(0)
      await server!.scheduled('* * * * *')
      await receiver.waitFor(r => r.length >= 1, 30_000)
      const got = receiver.received[0]!
      expect(verifyWith(added.secret, got)).toMatchObject({ type: 'license.created', data: { license: { label: 'via CLI' } } })
      expect(got.body).not.toContain(created.key.slice(3, 14))

      const listed = await lmJson('webhook', 'list', '--owner', OWNER)
      expect(listed.items.map((w: { id: string }) => w.id)).toContain(added.id)
      expect(JSON.stringify(listed)).not.toContain(added.secret)
      const text = await lm('webhook', 'list')
      expect(text.stdout).toContain(added.id)
      expect(await lmJson('webhook', 'remove', added.id)).toEqual({ id: added.id, removed: true })
      expect((await lmJson('webhook', 'list')).items.map((w: { id: string }) => w.id)).not.toContain(added.id)
    }
    finally {
      await receiver.close()
    }
  })

  it('bad arguments: one line on stderr, a non-zero exit', async () => {
    const cases = await Promise.all([
      lm('webhook', 'add', '--owner', OWNER),
      lm('webhook', 'add', '--url', 'https://example.com/h'),
      lm('webhook', 'add', '--owner', OWNER, '--url', 'https://example.com/h', '--events', 'license.exploded'),
      lm('webhook', 'add', '--owner', OWNER, '--url', 'not a url'),
      lm('webhook', 'remove', 'lic_notawebhook'),
      lm('webhook', 'remove', 'whk_doesnotexist'),
      lm('webhook', 'add', '--owner', 'nobody@example.com', '--url', 'https://example.com/h'),
    ])
    for (const r of cases) {
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr.split('\n').filter(l => l.startsWith('lm:'))).toHaveLength(1)
    }
  })
})

describe('lm token (local D1 shared with a running server)', { timeout: 240_000 }, () => {
  it('create --json prints token and id; the server accepts it at once; list shows it masked; revoke → 401', async () => {
    const call = (token: string, method = 'GET', path = '/licenses', body?: unknown) => fetch(`${baseUrl}/api/v1${path}`, {
      method, headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    })
    const created = await lmJson('token', 'create', '--owner', OWNER, '--name', 'Checkout', '--expires-in', '90d')
    expect(created).toMatchObject({ id: expect.stringMatching(/^tok_/), name: 'Checkout', readOnly: false, status: 'active', ownerEmail: OWNER })
    expect(created.token).toMatch(/^lm_[0-9A-Z]{40}$/)
    expect(Date.parse(created.expiresAt)).toBeGreaterThan(Date.now() + 89 * 86_400_000)
    const made = await call(created.token, 'POST', '/licenses', { label: 'from the CLI token', customerEmail: 'cli@example.com' })
    expect(made.status).toBe(201)
    const { key } = await made.json() as { key: string }
    expect(await verify(key)).toBe('VALID')
    const readOnly = await lmJson('token', 'create', '--owner', OWNER, '--read-only')
    expect(readOnly).toMatchObject({ name: 'CLI token', readOnly: true })
    expect((await call(readOnly.token)).status).toBe(200)
    expect((await call(readOnly.token, 'POST', '/licenses', {})).status).toBe(403)

    const listed = await lmJson('token', 'list', '--owner', OWNER)
    expect(listed.items.map((t: { id: string }) => t.id)).toEqual([readOnly.id, created.id])
    expect(JSON.stringify(listed)).not.toContain(created.token)
    const human = await lm('token', 'list')
    expect(human.stdout).toContain(`lm_••••••••${created.token.slice(-4)}`)
    expect(human.stdout).not.toContain(created.token)

    const revoked = await lm('token', 'revoke', created.id)
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stdout).toContain(`Revoked API token ${created.id}`)
    const refused = await call(created.token)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/)
  })

  it('bad arguments: one line on stderr, a non-zero exit', async () => {
    for (const args of [['token', 'create'], ['token', 'create', '--owner', OWNER, '--expires-in', 'soon'], ['token', 'revoke', 'lic_abc'], ['token', 'revoke'], ['token', 'create', '--owner', 'nobody@example.com']]) {
      const r = await lm(...args)
      expect(r.code, args.join(' ')).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr.split('\n').filter(l => l.startsWith('lm:'))).toHaveLength(1)
    }
  })
})

// The local CLI opens the D1 itself (cli/platform.ts, Miniflare without the app), the server through
// the lean D1 (scripts/lib/lean-d1.ts): both must land on the one SQLite file of the state folder.
describe('lm and a running server: one database file', { timeout: 240_000 }, () => {
  it('a license the server creates (management API) and a device it activates are what lm list and show read', async () => {
    const { token } = await lmJson('token', 'create', '--owner', OWNER, '--name', 'Same file')
    const post = (path: string, body: unknown, auth?: string) => fetch(`${baseUrl}/api/v1${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify(body),
    })
    const made = await post('/licenses', { label: 'made by the server', externalId: 'same-file-1', maxDevices: 2 }, token)
    expect(made.status).toBe(201)
    const { license, key } = await made.json() as { license: { id: string }, key: string }
    const activated = await post('/licenses/activate', { key, fingerprint: 'same-file-pc' })
    expect(activated.status).toBe(200)
    const [listed, shown] = await Promise.all([lmJson('license', 'list', '--external-id', 'same-file-1'), lmJson('license', 'show', key)])
    expect(listed.licenses.map((l: { id: string }) => l.id)).toEqual([license.id])
    expect(shown).toMatchObject({ id: license.id, label: 'made by the server', externalId: 'same-file-1', devicesUsed: 1, maxDevices: 2 })
    expect(shown.devices.map((d: { fingerprint: string }) => d.fingerprint)).toEqual(['same-file-pc'])
    // Exactly one D1 file in the state folder: the CLI opened the server's, it made no other.
    expect(readdirSync(join(state, 'v3/d1/miniflare-D1DatabaseObject')).filter(f => f.endsWith('.sqlite') && f !== 'metadata.sqlite')).toHaveLength(1)
  })
})
