import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Caller } from '../support/client'
import { ROOT } from '../support/worker'

const state = mkdtempSync(join(tmpdir(), 'lm-start-'))
afterAll(() => rmSync(state, { recursive: true, force: true }))

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** Run `npm start` (scripts/start.ts) until it serves, then stop it; returns what it printed. */
async function start(port: number, check: (url: string, output: string) => Promise<void>) {
  const child = spawn('npx', ['tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), LM_PERSIST_TO: state, WRANGLER_SEND_METRICS: 'false' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const started = Date.now()
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/Serving on http:\/\/localhost:\d+/.test(output)) { clearInterval(timer); resolve() }
        else if (child.exitCode !== null || Date.now() - started > 90_000) { clearInterval(timer); reject(new Error(`npm start did not get ready:\n${output}`)) }
      }, 200)
    })
    console.log(`npm start ready in ${((Date.now() - started) / 1000).toFixed(1)} s (build already fresh)`)
    await check(`http://localhost:${port}`, output)
  }
  finally {
    process.kill(-child.pid!, 'SIGTERM')
    await new Promise(r => child.once('exit', r))
  }
  return output
}

describe('npm start', () => {
  // Two real `npm start`s (wrangler dev + migrations + scrypt sign-ins): ~40–60 s each on a busy two-core machine.
  it('first run prints an admin login that works; later runs keep the data and print none', { timeout: 240_000 }, async () => {
    let password = ''
    const first = await start(await freePort(), async (url, out) => {
      const m = /email:\s+(\S+)\s+password:\s+(\S+)/.exec(out)
      expect(m, out).not.toBeNull()
      expect(m![1]).toBe('admin@example.com')
      password = m![2]!
      const c = new Caller(url)
      await c.login('admin@example.com', password)
      await c.trpc.users.create.mutate({ email: 'kept@example.com', password: 'kept-password-1' })
      const page = await c.fetch(`${url}/admin/users`)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('kept@example.com') // SSR through tRPC keeps the D1 binding
      // The first start generated TOKEN_SIGNING_KEY: signed answers have a key to verify with.
      expect((await (await fetch(`${url}/.well-known/jwks.json`)).json()).keys).toHaveLength(1)
      // …and API_TOKEN_SECRET: an API token made in the web app drives the management API.
      const { token } = await c.trpc.tokens.create.mutate({ name: 'start' })
      expect((await fetch(`${url}/api/v1/licenses`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    })
    expect(first).toMatch(/applying migrations/i)

    const second = await start(await freePort(), async (url) => {
      await expect(new Caller(url).login('admin@example.com', password)).resolves.toMatchObject({ role: 'admin' })
      await expect(new Caller(url).login('kept@example.com', 'kept-password-1')).resolves.toMatchObject({ role: 'user' })
    })
    expect(second).not.toMatch(/First run/)
  })
})
