/**
 * `lm db backup|restore|export|import` (cli/commands/db.ts, docs/self-hosting.md): a consistent copy
 * while the server serves, a restore only while it is stopped, and an export that a fresh D1 takes —
 * through `db import` and through `wrangler d1 execute --file` (the path to Workers + D1).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { wranglerEnv } from '../../scripts/lib/wrangler'
import { api, seedLicense, seedOwner } from '../support/licenses'
import { ROOT, startWorker } from '../support/worker'

const dirs: string[] = []
const temp = (name: string) => {
  const d = mkdtempSync(join(tmpdir(), `lm-db-${name}-`))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function lm(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/lm.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: wranglerEnv() })
  return { code: r.status, out: r.stdout, err: r.stderr, json: () => JSON.parse(r.stdout) as Record<string, unknown> }
}

describe('db backup and restore', () => {
  it('backs up while serving; refuses to restore while serving; restores when stopped, keeping the previous database', async () => {
    const state = temp('state')
    const w = await startWorker({ persistTo: state })
    const owner = await seedOwner(w)
    const before = await seedLicense(w, owner.id, { label: 'before-backup', maxDevices: 2 })
    expect((await api(w, 'activate', { key: before.key, fingerprint: 'fp-1' })).json.code).toBe('ACTIVATED')

    const file = join(temp('backup'), 'lm.sqlite')
    // While the server serves and writes (validations in flight): a consistent copy.
    const traffic = Promise.all(Array.from({ length: 20 }, () => api(w, 'verify', { key: before.key, fingerprint: 'fp-1' })))
    const b = lm('db', 'backup', file, '--persist-to', state, '--json')
    expect(b.code, b.err).toBe(0)
    expect(b.json()).toMatchObject({ file })
    await traffic
    expect(lm('db', 'backup', file, '--persist-to', state).err).toMatch(/exists: choose a new file name/)

    const after = await seedLicense(w, owner.id, { label: 'after-backup' })
    const refused = lm('db', 'restore', file, '--persist-to', state)
    expect(refused.code).not.toBe(0)
    expect(refused.err).toMatch(/^lm: a server \(pid \d+, .*\) is serving .*: stop it before restoring\n$/)
    await w.close()

    const junk = join(temp('junk'), 'not-a-db.sqlite')
    spawnSync('sh', ['-c', `printf 'hello' > ${junk}`])
    expect(lm('db', 'restore', junk, '--persist-to', state).err).toMatch(/is not an SQLite database/)

    const r = lm('db', 'restore', file, '--persist-to', state, '--json')
    expect(r.code, r.err).toBe(0)
    expect(String(r.json().previous)).toMatch(/d1-before-restore-.*\.sqlite$/)

    const w2 = await startWorker({ persistTo: state, seedAdmin: false })
    try {
      expect((await api(w2, 'verify', { key: before.key, fingerprint: 'fp-1' })).json.code).toBe('VALID')
      expect((await api(w2, 'verify', { key: after.key })).json.code).toBe('NOT_FOUND')
    }
    finally {
      await w2.close()
    }
  })
})

describe('db export and import', () => {
  it('exports while serving; a new local D1 takes it (db import and wrangler d1 execute --file) and answers the same keys', async () => {
    const w = await startWorker()
    const owner = await seedOwner(w)
    const lic = await seedLicense(w, owner.id, { label: 'exported "quoted" \'label\'', maxDevices: 3, metadata: { plan: 'pro' } })
    expect((await api(w, 'activate', { key: lic.key, fingerprint: 'fp-x' })).json.code).toBe('ACTIVATED')
    const file = join(temp('export'), 'lm.sql')
    const e = lm('db', 'export', file, '--persist-to', w.persistTo, '--json')
    expect(e.code, e.err).toBe(0)
    const tables = e.json().tables as Record<string, number>
    expect(tables.licenses).toBe(1)
    expect(tables.devices).toBe(1)
    expect(tables.users).toBe(2)
    expect(readFileSync(file, 'utf8')).not.toMatch(/d1_migrations|BEGIN TRANSACTION/i)
    await w.close()

    // db import into a new state folder; the server there answers with the same secrets.
    const fresh = temp('import')
    const i = lm('db', 'import', file, '--persist-to', fresh, '--json')
    expect(i.code, i.err).toBe(0)
    expect(lm('db', 'import', file, '--persist-to', fresh).err).toMatch(/already has data/)
    const w2 = await startWorker({ persistTo: fresh, seedAdmin: false })
    try {
      const v = await api(w2, 'verify', { key: lic.key, fingerprint: 'fp-x' })
      expect(v.json.code).toBe('VALID')
      expect(v.json.license.metadata).toEqual({ plan: 'pro' })
    }
    finally {
      await w2.close()
    }

    // What moving to Workers + D1 does (docs/self-hosting.md), on a local D1: migrations, then the file.
    const viaWrangler = temp('wrangler')
    const migrate = spawnSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', viaWrangler], { cwd: ROOT, env: wranglerEnv(), encoding: 'utf8' })
    expect(migrate.status, migrate.stderr).toBe(0)
    const exec = spawnSync('npx', ['wrangler', 'd1', 'execute', 'DB', '--local', '--persist-to', viaWrangler, '--file', file, '--yes'], { cwd: ROOT, env: wranglerEnv(), encoding: 'utf8' })
    expect(exec.status, exec.stdout + exec.stderr).toBe(0)
    const w3 = await startWorker({ persistTo: viaWrangler, seedAdmin: false })
    try {
      expect((await api(w3, 'verify', { key: lic.key, fingerprint: 'fp-x' })).json.code).toBe('VALID')
    }
    finally {
      await w3.close()
    }
  })
})
