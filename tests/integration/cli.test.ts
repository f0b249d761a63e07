import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../support/worker'

const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' }
let state: string

function lm(...args: string[]) {
  const r = spawnSync('npx', ['tsx', 'cli/lm.ts', ...args, '--persist-to', state], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  state = mkdtempSync(join(tmpdir(), 'lm-cli-'))
  const r = spawnSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state], { cwd: ROOT, env, encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
})
afterAll(() => rmSync(state, { recursive: true, force: true }))

describe('lm CLI (local D1, same service code)', () => {
  it('user add --json prints exactly one JSON object, with a generated password', () => {
    const r = lm('user', 'add', '--email', 'Cli@Example.com', '--name', 'Cli User', '--json')
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(out).toMatchObject({ email: 'cli@example.com', name: 'Cli User', role: 'user', disabled: false })
    expect(out.password).toMatch(/^[A-Za-z0-9]{20}$/)
    expect(out.id).toMatch(/^usr_/)
    expect(JSON.stringify(out)).not.toMatch(/scrypt|passwordHash/)
  })

  it('user list shows what was added, as text and as JSON', () => {
    expect(lm('user', 'add', '--email', 'second@example.com', '--role', 'admin', '--password', 'a-long-password').code).toBe(0)
    const text = lm('user', 'list')
    expect(text.stdout).toMatch(/second@example\.com\s+admin\s+active/)
    const json = JSON.parse(lm('user', 'list', '--json').stdout)
    expect(json.users.map((u: { email: string }) => u.email)).toEqual(['cli@example.com', 'second@example.com'])
  })

  it('keys rotate without previous secrets does nothing, and says so', () => {
    const r = lm('keys', 'rotate', '--json')
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ rewritten: 0 })
  })

  it.each([
    [['user', 'add'], /needs --email/],
    [['user', 'add', '--email', 'not-an-email'], /valid email/],
    [['user', 'add', '--email', 'cli@example.com'], /already exists/],
    [['user', 'add', '--email', 'x@example.com', '--role', 'root'], /--role/],
    [['user', 'add', '--email', 'x@example.com', '--password', 'short'], /--password: At least 10/],
    [['user', 'add', '--email'], /--email needs a value/],
    [['user', 'frobnicate'], /unknown command/],
    [['user', 'list', '--bogus'], /unknown option --bogus/],
  ])('%j fails with a one-line error and a non-zero exit', (args, message) => {
    const r = lm(...args)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n').filter(l => l.startsWith('lm:'))).toHaveLength(1)
    expect(r.stdout).toBe('')
  })
})
