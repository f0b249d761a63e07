/**
 * The local installation's files (docs/self-hosting.md): the D1 SQLite file Miniflare keeps under
 * <state>/v3/d1, and the lock a serving `npm start` holds (scripts/lib/server.ts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export const LOCK_FILE = 'lm-server.pid'

/** The D1 database file of a state folder, or null when there is none yet (npm start creates it). */
export function localD1File(persistTo: string): string | null {
  const dir = join(persistTo, 'v3/d1/miniflare-D1DatabaseObject')
  if (!existsSync(dir)) return null
  const files = readdirSync(dir).filter(f => f.endsWith('.sqlite') && f !== 'metadata.sqlite')
  if (files.length > 1) throw new Error(`more than one D1 database in ${dir}: ${files.join(', ')}`)
  return files.length ? join(dir, files[0]!) : null
}

/** The pid of a live server holding the state folder's lock, or null. */
export function servingPid(persistTo: string): number | null {
  const file = join(persistTo, LOCK_FILE)
  if (!existsSync(file)) return null
  const pid = Number(readFileSync(file, 'utf8').trim())
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null
  try {
    process.kill(pid, 0)
    return pid
  }
  catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null
  }
}
