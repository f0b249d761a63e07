/**
 * Apply the D1 migrations (db/migrations, wrangler.toml `migrations_dir`) through a D1 binding, the
 * way `wrangler d1 migrations apply --local` does: the same `d1_migrations` table and rows, each
 * migration and its row in one batch — so wrangler and this agree on what is applied.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

interface Statement { run: () => Promise<unknown>, all: <T>() => Promise<{ results: T[] }> }

export async function applyD1Migrations<S extends Statement>(db: { prepare: (sql: string) => S, batch: (statements: S[]) => Promise<unknown> }, dir: string): Promise<string[]> {
  const { unstable_splitSqlQuery: splitSqlQuery } = await import('wrangler')
  await db.prepare(`CREATE TABLE IF NOT EXISTS "d1_migrations"(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`).run()
  const applied = new Set((await db.prepare('SELECT name FROM "d1_migrations" ORDER BY id').all<{ name: string }>()).results.map(r => r.name))
  const names = readdirSync(dir).filter(f => f.endsWith('.sql')).sort()
  const done: string[] = []
  for (const name of names.filter(n => !applied.has(n))) {
    const sql = `${readFileSync(join(dir, name), 'utf8')}\nINSERT INTO "d1_migrations" (name)\nvalues ('${name.replace(/'/g, "''")}');`
    await db.batch(splitSqlQuery(sql).map(part => db.prepare(part)))
    done.push(name)
  }
  return done
}
