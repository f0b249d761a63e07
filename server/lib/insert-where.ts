import { getTableColumns, is, or, SQL, sql } from 'drizzle-orm'
import type { SQLiteInsertSelectQueryBuilder, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { DB } from '../../db/client'

/**
 * `INSERT INTO t (every column, by name) SELECT <the row's values> WHERE <condition>`: one statement
 * that writes the row only if the condition holds when it runs. D1 runs each statement atomically
 * and a batch as one transaction, so a count in the condition cannot be raced, and a condition on
 * the rows a batch is about to change states the coupling in the SQL itself. Values are matched to
 * columns by name (drizzle checks the selection against the table's columns); a column the row
 * leaves out gets its schema default.
 */
export function insertRowWhere<T extends SQLiteTable>(db: DB, table: T, row: T['$inferInsert'], where: SQL) {
  const values = row as Record<string, unknown>
  const fields: Record<string, SQL> = {}
  for (const [name, column] of Object.entries(getTableColumns(table))) {
    let value = values[name]
    if (value === undefined) value = column.defaultFn ? column.defaultFn() : column.default ?? null
    fields[name] = is(value, SQL) ? value : sql`${sql.param(value, column)}`
  }
  // The selection has the table's column names in the table's order: what insert…select requires.
  const select = db.select(fields).from(sql`(select 1)`).where(where)
  return db.insert(table).select(select as unknown as SQLiteInsertSelectQueryBuilder<T>)
}

/**
 * SQL: at least one of `changes` differs from the row (`IS NOT`: null-safe), i.e. writing them
 * changes something — the condition that keeps a no-op update (suspending a suspended license,
 * saving the same values) from writing an event. Values are bound as the column maps them (JSON,
 * booleans, dates), so they compare with what is stored.
 */
export function changesAnything<T extends SQLiteTable>(table: T, changes: Partial<T['$inferInsert']>): SQL | undefined {
  const columns = getTableColumns(table) as Record<string, T['_']['columns'][string]>
  return or(...Object.entries(changes).map(([k, v]) => {
    const column = columns[k]!
    return sql`${column} is not ${sql.param(v ?? null, column)}`
  }))
}
