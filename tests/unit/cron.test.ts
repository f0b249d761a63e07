import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cronMatches, cronsFromWranglerToml } from '../../scripts/lib/cron'

describe('local cron scheduler', () => {
  const at = (iso: string) => new Date(iso)
  it('matches steps, lists, ranges and wildcards in UTC', () => {
    expect(cronMatches('*/5 * * * *', at('2026-01-01T10:15:00Z'))).toBe(true)
    expect(cronMatches('*/5 * * * *', at('2026-01-01T10:16:00Z'))).toBe(false)
    expect(cronMatches('0 3 * * *', at('2026-01-01T03:00:00Z'))).toBe(true)
    expect(cronMatches('0 3 * * *', at('2026-01-01T04:00:00Z'))).toBe(false)
    expect(cronMatches('0,30 9-17 * * 1-5', at('2026-11-30T09:30:00Z'))).toBe(true) // Monday
    expect(cronMatches('0,30 9-17 * * 1-5', at('2026-11-29T09:30:00Z'))).toBe(false) // Sunday
    expect(cronMatches('not a cron', at('2026-01-01T00:00:00Z'))).toBe(false)
  })

  it('reads the crons of wrangler.toml', () => {
    expect(cronsFromWranglerToml('[triggers]\ncrons = ["*/5 * * * *", "0 3 * * *"]\n')).toEqual(['*/5 * * * *', '0 3 * * *'])
    expect(cronsFromWranglerToml('name = "x"')).toEqual([])
  })

  it('wrangler.toml and nitro.scheduledTasks name the same crons; webhooks run every minute (npm start fires each)', () => {
    const crons = cronsFromWranglerToml(readFileSync('wrangler.toml', 'utf8'))
    expect(crons).toEqual(['* * * * *', '*/5 * * * *'])
    const nuxt = readFileSync('nuxt.config.ts', 'utf8')
    const tasks = /scheduledTasks:\s*\{([^}]*)\}/.exec(nuxt)![1]!
    expect([...tasks.matchAll(/'([^']+)':/g)].map(m => m[1])).toEqual(crons)
    expect(tasks).toMatch(/'\* \* \* \* \*': \['webhooks'\]/)
    for (let minute = 0; minute < 3; minute++) expect(cronMatches('* * * * *', at(`2026-01-01T10:0${minute}:00Z`))).toBe(true)
  })
})
