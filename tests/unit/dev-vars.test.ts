import { createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ensureSecretsFile, readDotenv, readSecretsFile, setDotenvValues } from '../../scripts/lib/dev-vars'
import { signingKey } from '../../server/lib/token-signing'

const dir = mkdtempSync(join(tmpdir(), 'lm-devvars-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('.dev.vars secrets', () => {
  it('a new file gets every secret, TOKEN_SIGNING_KEY as an Ed25519 PKCS#8 key the worker accepts, mode 0600', async () => {
    const file = join(dir, 'fresh.vars')
    expect(ensureSecretsFile(file)).toEqual({ created: true, added: ['SESSION_SECRET', 'KEY_HMAC_SECRET', 'KEY_ENC_SECRET', 'TOKEN_SIGNING_KEY', 'API_TOKEN_SECRET'] })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const secrets = readSecretsFile(file)
    expect(createPrivateKey({ key: Buffer.from(secrets.TOKEN_SIGNING_KEY, 'base64'), format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('ed25519')
    expect((await signingKey(secrets.TOKEN_SIGNING_KEY)).kid).toMatch(/^[\w-]{43}$/)
  })

  it('an older file gains TOKEN_SIGNING_KEY and keeps every other value', () => {
    const file = join(dir, 'old.vars')
    writeFileSync(file, 'SESSION_SECRET=s1\nKEY_HMAC_SECRET=h1\nKEY_ENC_SECRET=e1\n')
    expect(ensureSecretsFile(file)).toEqual({ created: false, added: ['TOKEN_SIGNING_KEY', 'API_TOKEN_SECRET'] })
    const values = readDotenv(file)
    expect([values.get('SESSION_SECRET'), values.get('KEY_HMAC_SECRET'), values.get('KEY_ENC_SECRET')]).toEqual(['s1', 'h1', 'e1'])
    const key = values.get('TOKEN_SIGNING_KEY')!
    expect(ensureSecretsFile(file).added).toEqual([])
    expect(readDotenv(file).get('TOKEN_SIGNING_KEY')).toBe(key)
  })

  it('setDotenvValues replaces, adds and removes lines, keeps comments, drops later duplicates', () => {
    const file = join(dir, 'edit.vars')
    writeFileSync(file, '# keep me\nA=1\nB=2\nA=old-duplicate\n')
    setDotenvValues(file, { A: 'x', B: null, C: '3' })
    expect(readFileSync(file, 'utf8')).toBe('# keep me\nA=x\nC=3\n')
  })
})
