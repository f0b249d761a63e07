import { describe, expect, it } from 'vitest'
import { EVENT_GROUP_SQL } from '../../db/schema/events'
import { eventName, outcomeLabel } from '../../shared/event-names'
import { groupOfType, LOG_GROUP_NAMES, LOG_GROUPS } from '../../shared/schemas/log'

describe('log groups, defined once', () => {
  it('the indexed SQL expression names every group and every prefix, in one line without commas', () => {
    for (const g of LOG_GROUP_NAMES) {
      expect(EVENT_GROUP_SQL).toContain(`then '${g}'`)
      for (const p of LOG_GROUPS[g].prefixes) expect(EVENT_GROUP_SQL).toContain(`"type" glob '${p}*'`)
    }
    expect(EVENT_GROUP_SQL).not.toMatch(/[,\n]/)
  })
  it('has a Webhooks and a Products group; groupOfType follows the same prefixes', () => {
    expect(groupOfType('webhook.secret_rotated')).toBe('webhooks')
    expect(groupOfType('product.created')).toBe('products')
    expect(groupOfType('session.ended')).toBe('auth')
    expect(groupOfType('nothing.here')).toBeNull()
  })
})

describe('event names', () => {
  it('reads in plain words, failures included', () => {
    expect(eventName('license.key_revealed').label).toBe('Key revealed')
    expect(eventName('validation.verify', 'VALID').label).toBe('Key verified')
    expect(eventName('validation.verify', 'NOT_FOUND').label).toBe('Verify refused')
    expect(outcomeLabel('NOT_FOUND')).toBe('Unknown key')
  })
  it('an unknown type still reads well, with its group icon', () => {
    expect(eventName('webhook.paused')).toEqual({ label: 'Webhook paused', icon: 'i-lucide-webhook' })
    expect(eventName('token.created').label).toBe('Token created')
  })
})
