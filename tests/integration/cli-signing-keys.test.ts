import { spawnSync } from 'node:child_process'
import { createHash, createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSecretsFile, readDotenv } from '../../scripts/lib/dev-vars'
import { api, seedLicense, seedOwner } from '../support/licenses'
import { ROOT, startWorker, type TestWorker } from '../support/worker'

/** `keys rotate-signing` (docs/offline.md): production steps, and a local rotation the real worker then serves. */
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' }
let dir: string
let w: TestWorker | undefined

function lm(...args: string[]) {
  const r = spawnSync('npx', ['tsx', 'cli/lm.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const kidOf = (value: string) => {
  const key = value.startsWith('-----') ? createPrivateKey(value) : createPrivateKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'pkcs8' })
  const x = key.export({ format: 'jwk' }).x
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url')
}

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'lm-signing-')) })
afterAll(async () => {
  await w?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('keys rotate-signing', () => {
  it('production: writes the new key to --out (0600), prints its kid and the wrangler steps, never the key', () => {
    const out = join(dir, 'new-key.pem')
    const r = lm('keys', 'rotate-signing', '--out', out, '--json')
    expect(r.code, r.stderr).toBe(0)
    const pem = readFileSync(out, 'utf8')
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const json = JSON.parse(r.stdout)
    expect(json.kid).toBe(kidOf(pem))
    expect(json.steps.join('\n')).toMatch(/wrangler secret put TOKEN_SIGNING_KEY_PREVIOUS[\s\S]*wrangler secret put TOKEN_SIGNING_KEY < /)
    const body = pem.split('\n')[1]!
    expect(r.stdout + r.stderr).not.toContain(body)
    // Human output, and never overwriting a key file.
    const again = lm('keys', 'rotate-signing', '--out', out)
    expect(again.code).not.toBe(0)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toMatch(/exists/)
    expect(readFileSync(out, 'utf8')).toBe(pem)
    expect(lm('keys', 'rotate-signing', '--finish').stdout).toMatch(/wrangler secret delete TOKEN_SIGNING_KEY_PREVIOUS/)
  })

  it('--local moves the current key to TOKEN_SIGNING_KEY_PREVIOUS; the worker then signs with the new key and publishes both; --finish ends the overlap', async () => {
    const file = join(dir, 'dev.vars')
    ensureSecretsFile(file)
    writeFileSync(file, `${readFileSync(file, 'utf8')}# a comment that stays\n`)
    const before = readDotenv(file)
    const r = lm('keys', 'rotate-signing', '--local', '--secrets-file', file, '--json')
    expect(r.code, r.stderr).toBe(0)
    const after = readDotenv(file)
    expect(after.get('TOKEN_SIGNING_KEY_PREVIOUS')).toBe(before.get('TOKEN_SIGNING_KEY'))
    expect(after.get('TOKEN_SIGNING_KEY')).not.toBe(before.get('TOKEN_SIGNING_KEY'))
    for (const name of ['SESSION_SECRET', 'KEY_HMAC_SECRET', 'KEY_ENC_SECRET']) expect(after.get(name)).toBe(before.get(name))
    expect(readFileSync(file, 'utf8')).toContain('# a comment that stays')
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ kid: kidOf(after.get('TOKEN_SIGNING_KEY')!), previousKid: kidOf(before.get('TOKEN_SIGNING_KEY')!) })

    w = await startWorker({ secrets: Object.fromEntries(after) })
    const jwks = await (await fetch(`${w.url}/.well-known/jwks.json`)).json() as { keys: { kid: string }[] }
    expect(jwks.keys.map(k => k.kid)).toEqual([out.kid, out.previousKid])
    const owner = await seedOwner(w)
    const { key } = await seedLicense(w, owner.id)
    const token = (await api(w, 'verify', { key, signed: true })).json.token as string
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(out.kid)

    const fin = lm('keys', 'rotate-signing', '--local', '--finish', '--secrets-file', file, '--json')
    expect(fin.code, fin.stderr).toBe(0)
    expect(JSON.parse(fin.stdout)).toMatchObject({ kid: out.kid, removedKid: out.previousKid })
    expect(readDotenv(file).has('TOKEN_SIGNING_KEY_PREVIOUS')).toBe(false)
    expect(readDotenv(file).get('TOKEN_SIGNING_KEY')).toBe(after.get('TOKEN_SIGNING_KEY'))
  })

  it.each([
    [['--local', '--out', 'x.pem'], /--out is for a production rotation/],
    [['--remote'], /uses no database/],
    [['--local', '--secrets-file', '/nonexistent/dev.vars'], /no such secrets file/],
    [['--bogus'], /unknown option --bogus/],
  ])('%j fails with a one-line error and a non-zero exit', (args, message) => {
    const r = lm('keys', 'rotate-signing', ...args)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(message)
  })
})
