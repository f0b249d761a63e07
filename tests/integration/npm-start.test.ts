/**
 * `npm start` as an operator runs it (scripts/start.ts, docs/self-hosting.md): a child process with
 * its own state folder and secrets file. Faults give a one-line error and a non-zero exit; a kill -9
 * during a load run loses no acknowledged write; SIGTERM lets answered requests' background work
 * (the batched validation events) finish.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Caller } from '../support/client'
import { ROOT } from '../support/worker'

const ADMIN_PASSWORD = 'npm-start-admin-password-1'
const dirs: string[] = []
const children = new Set<ChildProcess>()

function tempDir(name: string) {
  const d = mkdtempSync(join(tmpdir(), `lm-${name}-`))
  dirs.push(d)
  return d
}

interface Started { child: ChildProcess, url: string, output: () => string, exited: Promise<number | null> }

/** Run scripts/start.ts (what `npm start` runs) in its own process group, as a service manager would. */
function start(state: string, secrets: string, env: Record<string, string> = {}): Started & { ready: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LM_PERSIST_TO: state, LM_SECRETS_FILE: secrets, LM_ADMIN_PASSWORD: ADMIN_PASSWORD, WEBHOOK_DNS_RESOLVER: 'off', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let output = ''
  child.stdout!.on('data', (d) => { output += d })
  child.stderr!.on('data', (d) => { output += d })
  const exited = new Promise<number | null>(r => child.once('exit', (code) => {
    children.delete(child)
    r(code)
  }))
  const ready = new Promise<string>((resolveUrl, reject) => {
    const check = () => {
      const m = /Serving on (http:\/\/\S+?)\.? /.exec(output)
      if (m) return resolveUrl(m[1]!.replace('localhost', '127.0.0.1'))
      if (child.exitCode !== null) return reject(new Error(`npm start exited ${child.exitCode}: ${output}`))
      setTimeout(check, 50)
    }
    check()
  })
  const handle = { child, url: '', output: () => output, exited, ready }
  void ready.then((u) => { handle.url = u }, () => {})
  return handle
}

/** Start and wait until it serves. */
async function serve(state: string, secrets: string, env: Record<string, string> = {}) {
  const s = start(state, secrets, env)
  s.url = await s.ready
  return s
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal)
  }
  catch { /* gone */ }
}

afterAll(async () => {
  for (const c of children) killGroup(c, 'SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function adminCaller(url: string, ip = '198.18.7.1') {
  const c = new Caller(url, ip)
  await c.login('admin@example.com', ADMIN_PASSWORD)
  return c
}

describe('npm start: faults give one line and a non-zero exit', () => {
  it('a port in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1')
    await new Promise(r => blocker.once('listening', r))
    const port = (blocker.address() as { port: number }).port
    const s = start(tempDir('state'), join(tempDir('secrets'), '.dev.vars'), { PORT: String(port) })
    expect(await s.exited).not.toBe(0)
    expect(s.output()).toMatch(new RegExp(`npm start: port ${port} on 127.0.0.1 is already in use\\n`))
    blocker.close()
  })

  it('a corrupt secrets file is left as it was', async () => {
    const file = join(tempDir('secrets'), '.dev.vars')
    const corrupt = 'SESSION_SECRET=abc\n\u0000\u0001garbage\n'
    writeFileSync(file, corrupt)
    const s = start(tempDir('state'), file)
    expect(await s.exited).not.toBe(0)
    expect(s.output()).toMatch(/npm start: .*\.dev\.vars is not a text file of NAME=value lines/)
  })

  it('a state folder that cannot be created', async () => {
    const file = join(tempDir('state'), 'a-file')
    writeFileSync(file, 'x')
    const s = start(join(file, 'state'), join(tempDir('secrets'), '.dev.vars'))
    expect(await s.exited).not.toBe(0)
    expect(s.output()).toMatch(/npm start: the state folder .* is not writable/)
  })
})

describe('npm start: data survives', () => {
  it('a second npm start on the same state is refused while the first serves; kill -9 under load keeps every acknowledged write', async () => {
    const state = tempDir('state')
    const secrets = join(tempDir('secrets'), '.dev.vars')
    const first = await serve(state, secrets)
    expect(first.output()).toMatch(/First run: created a local admin/)

    const second = start(state, secrets)
    expect(await second.exited).not.toBe(0)
    expect(second.output()).toMatch(/npm start: another server \(pid \d+\) is already serving/)

    // Load: licenses created and devices activated by several clients at once, until the kill.
    const admin = await adminCaller(first.url)
    const created: { id: string, key: string }[] = []
    const activated: { key: string, fingerprint: string }[] = []
    let stop = false
    const worker = async (n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const { license, key } = await admin.trpc.licenses.create.mutate({ label: `load-${n}-${i}`, maxDevices: 5 })
          created.push({ id: license.id, key })
          const fingerprint = `fp-${n}-${i}`
          const res = await fetch(`${first.url}/api/v1/licenses/activate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, fingerprint }) })
          if (((await res.json()) as { code?: string }).code === 'ACTIVATED') activated.push({ key, fingerprint })
        }
        catch { /* the kill: unacknowledged */ }
      }
    }
    const load = [1, 2, 3, 4].map(worker)
    while (activated.length < 20) await new Promise(r => setTimeout(r, 20))
    killGroup(first.child, 'SIGKILL')
    stop = true
    await Promise.all(load)
    await first.exited
    expect(created.length).toBeGreaterThanOrEqual(20)

    // Restart on the same state (the dead server's lock is stale, not a refusal).
    const again = await serve(state, secrets)
    expect(again.output()).not.toMatch(/First run/)
    const admin2 = await adminCaller(again.url, '198.18.7.2')
    for (const { id } of created) expect((await admin2.trpc.licenses.get.query({ id })).id).toBe(id)
    for (const { key, fingerprint } of activated) {
      const res = await fetch(`${again.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, fingerprint }) })
      expect(((await res.json()) as { code: string }).code).toBe('VALID')
    }
    killGroup(again.child, 'SIGTERM')
    expect(await again.exited).toBe(0)
  })

  it('SIGTERM lets answered requests\' background work finish: their events are there after a restart', async () => {
    const state = tempDir('state')
    const secrets = join(tempDir('secrets'), '.dev.vars')
    const s = await serve(state, secrets)
    const agent = `sigterm-test-${Date.now()}`
    // Unknown keys: each answer's event is written in a batch after the answer (server/services/events.ts).
    const answers = await Promise.all(Array.from({ length: 5 }, () => fetch(`${s.url}/api/v1/licenses/verify`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': agent }, body: JSON.stringify({ key: 'LM-0000-0000-0000-0000-0000' }) }).then(r => r.json())))
    expect(answers.every(a => (a as { code: string }).code === 'NOT_FOUND')).toBe(true)
    killGroup(s.child, 'SIGTERM')
    expect(await s.exited).toBe(0)
    expect(s.output()).toMatch(/SIGTERM: finishing in-flight requests/)

    const again = await serve(state, secrets)
    const admin = await adminCaller(again.url)
    const page = await admin.trpc.log.list.query({ group: 'validations' })
    expect(page.items.filter(e => e.userAgent === agent).length).toBe(5)
    killGroup(again.child, 'SIGTERM')
    expect(await again.exited).toBe(0)
  })
})
