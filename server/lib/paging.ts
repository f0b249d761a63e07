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
