/**
 * Where the client keeps the last good token per key, the JWKS it fetched and the last time it saw.
 * Values are strings (JSON); names are short ASCII. Implementations may be sync or async.
 * Nothing stored is the license key itself (entries are named by its hash).
 */
export interface LicenseStorage {
  get(name: string): Promise<string | null> | string | null
  set(name: string, value: string): Promise<void> | void
  delete(name: string): Promise<void> | void
}

/** In memory: lost when the process ends (tests, or apps that never run offline after a restart). */
export class MemoryStorage implements LicenseStorage {
  private readonly values = new Map<string, string>()
  get(name: string): string | null {
    return this.values.get(name) ?? null
  }

  set(name: string, value: string): void {
    this.values.set(name, value)
  }

  delete(name: string): void {
    this.values.delete(name)
  }
}

/** The Web Storage API (`localStorage` in browsers and Electron renderers, Deno's localStorage). */
export class WebStorage implements LicenseStorage {
  constructor(private readonly store: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>, private readonly prefix = 'license-manager:') {}
  get(name: string): string | null {
    return this.store.getItem(this.prefix + name)
  }

  set(name: string, value: string): void {
    this.store.setItem(this.prefix + name, value)
  }

  delete(name: string): void {
    this.store.removeItem(this.prefix + name)
  }
}
