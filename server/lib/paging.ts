import { asc, desc, sql, type SQL } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { SortDirection } from '../../shared/schemas/common'
import { ServiceError } from '../services/errors'

/** A LIKE pattern matching `term` anywhere, with LIKE's wildcards escaped (use with `escape '\'`). */
export function containsPattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, c => `\\${c}`)}%`
}

/** An opaque keyset cursor: "<created_at ms>:<id>" of the last row of the previous page. */
export function encodeCursor(row: { createdAt: Date, id: string }): string {
  return `${row.createdAt.getTime()}:${row.id}`
}

export function decodeCursor(cursor: string): { ms: number, id: string } {
  const [ms, id] = cursor.split(':')
  const n = Number(ms)
  if (!id || !Number.isSafeInteger(n)) throw new ServiceError('BAD_REQUEST', 'Invalid cursor')
  return { ms: n, id }
}


/** A value a sort key can take in SQL (a lower-cased text, or epoch ms). */
type SortValue = string | number

/**
 * Cursor of a list sorted by another key than the default: "<key>.<dir>.<base64url JSON [value, id]>"
 * (the last row's sort value as SQL computed it, and its id). It names its sort, so a cursor from
 * one order used with another is refused rather than skipping or repeating rows.
 */
export function encodeSortCursor(key: string, dir: SortDirection, value: SortValue, id: string): string {
  const bytes = new TextEncoder().encode(JSON.stringify([value, id]))
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return `${key}.${dir}.${btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`
}

export function decodeSortCursor(cursor: string, key: string, dir: SortDirection): { value: SortValue, id: string } {
  const invalid = () => new ServiceError('BAD_REQUEST', 'Invalid cursor (it belongs to another sort order, or was not given by this list)')
  const prefix = `${key}.${dir}.`
  if (!cursor.startsWith(prefix)) throw invalid()
  let parsed: unknown
  try {
    const bin = atob(cursor.slice(prefix.length).replace(/-/g, '+').replace(/_/g, '/'))
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, c => c.charCodeAt(0))))
  }
  catch {
    throw invalid()
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid()
  const [value, id] = parsed as unknown[]
  if (typeof id !== 'string' || !id || !(typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value)))) throw invalid()
  return { value, id }
}

/**
 * One page of a list sorted by `expr` (ties broken by id), keyset-paged: the WHERE condition after
 * `cursor`, the ORDER BY, and the next page's cursor from the last row. `expr` is the very
 * expression of the list's index (db/schema/*), so the page is an index range, not a sort.
 */
export function sortedKeyset(key: string, expr: SQL, id: SQLiteColumn, dir: SortDirection, cursor: string | undefined) {
  const after = cursor ? decodeSortCursor(cursor, key, dir) : null
  return {
    where: after ? sql`(${expr}, ${id}) ${sql.raw(dir === 'asc' ? '>' : '<')} (${after.value}, ${after.id})` : undefined,
    orderBy: dir === 'asc' ? [asc(expr), asc(id)] : [desc(expr), desc(id)],
    cursorOf: (last: { sortValue: SortValue, id: string }) => encodeSortCursor(key, dir, last.sortValue, last.id),
  }
}
