import { webcrypto } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { LicenseStorage } from './storage.js'

// Node 18 has WebCrypto but not as a global (jose and the client need globalThis.crypto): install it.
if (!(globalThis as { crypto?: unknown }).crypto) (globalThis as { crypto?: unknown }).crypto = webcrypto

/**
 * One JSON file (Node, Electron's main process, Bun, Deno with --allow-read/--allow-write).
 * Written atomically (a temporary file renamed over it) with mode 0600; writes are serialized.
 * A missing or unreadable file is an empty store.
 */
export class FileStorage implements LicenseStorage {
  private cache: Record<string, string> | null = null
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly path: string) {}

  private async load(): Promise<Record<string, string>> {
    if (this.cache) return this.cache
    try {
      const data = JSON.parse(await readFile(this.path, 'utf8')) as unknown
      this.cache = data && typeof data === 'object' && !Array.isArray(data) ? data as Record<string, string> : {}
    }
    catch {
      this.cache = {}
    }
    return this.cache
  }

  private save(change: (values: Record<string, string>) => void): Promise<void> {
    const run = this.queue.then(async () => {
      const values = { ...await this.load() }
      change(values)
      await mkdir(dirname(this.path), { recursive: true })
      const tmp = `${this.path}.${process.pid}.tmp`
      await writeFile(tmp, JSON.stringify(values), { mode: 0o600 })
      await rename(tmp, this.path)
      this.cache = values
    })
    this.queue = run.catch(() => {})
    return run
  }

  async get(name: string): Promise<string | null> {
    await this.queue
    const v = (await this.load())[name]
    return typeof v === 'string' ? v : null
  }

  set(name: string, value: string): Promise<void> {
    return this.save((values) => { values[name] = value })
  }

  delete(name: string): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the store is a plain name → value record
    return this.save((values) => { delete values[name] })
  }
}
