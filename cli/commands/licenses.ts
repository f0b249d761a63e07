import type { z } from 'zod'
import { createLicenseSchema, durationSchema, listLicensesSchema, renewLicenseSchema } from '../../shared/schemas/licenses'
import type { ServiceContext } from '../../server/services/context'
import { ServiceError } from '../../server/services/errors'
import {
  createLicense, deleteLicense, findLicenseByKey, listLicenses, reinstateLicense, renewLicense, suspendLicense,
  type LicenseScope, type LicenseView,
} from '../../server/services/licenses'
import { namedOwner, ownerForCreate } from '../../server/services/authz'
import { findUserByEmail } from '../../server/services/users'
import { str, UsageError, type Parsed } from '../args'
import { principalOf, scopeOfCommand, table, when, type Command } from '../command'

/** Schema fields → the options that set them, so errors name what the user typed. */
const OPTION_OF: Record<string, string> = {
  label: '--label', expiresAt: '--expires-at', expiresIn: '--expires-in', renewalPeriod: '--renewal', maxDevices: '--max-devices', metadata: '--metadata',
}

function validate<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const option = OPTION_OF[String(issue.path[0])]
  throw new UsageError(option ? `${option}: ${issue.message}` : issue.message)
}

// Option values, checked before the shared schemas see them (which then apply the web app's rules).

function duration(flags: Parsed['flags'], name: string): string | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  const d = durationSchema.safeParse(value)
  if (!d.success) throw new UsageError(`--${name}: ${d.error.issues[0]!.message}`)
  return d.data
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i

function isoDate(flags: Parsed['flags'], name: string): string | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  if (!ISO_DATE.test(value.trim()) || Number.isNaN(Date.parse(value.trim()))) {
    throw new UsageError(`--${name}: not an ISO 8601 date (e.g. 2027-01-31 or 2027-01-31T12:00:00Z)`)
  }
  return value.trim()
}

/** --expires-in D | --expires-at ISO (create and renew). */
function expiry(flags: Parsed['flags']) {
  if (flags['expires-in'] !== undefined && flags['expires-at'] !== undefined) {
    throw new UsageError('give --expires-in or --expires-at, not both')
  }
  return { expiresIn: duration(flags, 'expires-in'), expiresAt: isoDate(flags, 'expires-at') }
}

function wholeNumber(flags: Parsed['flags'], name: string): number | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value.trim())) throw new UsageError(`--${name}: a whole number`)
  return Number(value)
}

function jsonObject(flags: Parsed['flags'], name: string): Record<string, unknown> | undefined {
  const value = str(flags, name)
  if (value === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  }
  catch {
    throw new UsageError(`--${name}: not valid JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--${name}: must be a JSON object, like {"tier":"pro"}`)
  }
  return parsed as Record<string, unknown>
}

/** Keys are hashed and encrypted with these: without them nothing could be found (e.g. --remote without --secrets-file). */
function needKeySecrets(ctx: ServiceContext) {
  if (!ctx.env.KEY_HMAC_SECRET || !ctx.env.KEY_ENC_SECRET) {
    throw new Error('KEY_HMAC_SECRET and KEY_ENC_SECRET are not set: add them to .dev.vars (npm start does) or give --secrets-file FILE')
  }
}

/** A licence by its key as a customer types it (the service normalises it). */
async function byKey(ctx: ServiceContext, key: string) {
  needKeySecrets(ctx)
  return await findLicenseByKey(ctx, scopeOfCommand(ctx), key)
}

async function ownerByEmail(ctx: ServiceContext, email: string) {
  const owner = await findUserByEmail(ctx, email)
  if (!owner) throw new ServiceError('NOT_FOUND', `No user with email ${email.trim().toLowerCase()}`)
  return owner
}

// Human output.

const devices = (l: LicenseView) => `${l.devicesUsed}/${l.maxDevices ?? '∞'}`

function summary(l: LicenseView): string {
  return `${l.maskedKey} (${l.id}) · ${l.displayStatus} · expires ${when(l.expiresAt)} · devices ${devices(l)}`
}

function details(l: Awaited<ReturnType<typeof findLicenseByKey>>): string {
  const lines = table([
    ['Licence', l.id],
    ['Key', l.maskedKey],
    ['Owner', l.ownerEmail ?? l.ownerId],
    ['Label', l.label || '—'],
    ['Status', l.displayStatus],
    ['Expires', when(l.expiresAt)],
    ['Renewal', l.renewalPeriod ?? 'none'],
    ['Devices', devices(l)],
    ['Metadata', JSON.stringify(l.metadata)],
    ['Created', when(l.createdAt)],
  ])
  if (l.devices.length === 0) return lines
  const rows = l.devices.map(d => [d.fingerprint, d.name ?? '', d.ip ?? '', when(d.lastSeenAt)])
  return `${lines}\n\n${table([['FINGERPRINT', 'NAME', 'IP', 'LAST SEEN'], ...rows]).replace(/^/gm, '  ')}`
}

// The commands.

const create: Command = {
  flags: { 'owner': 'string', 'label': 'string', 'expires-in': 'string', 'expires-at': 'string', 'renewal': 'string', 'max-devices': 'string', 'metadata': 'string' },
  prepare({ flags }) {
    const email = str(flags, 'owner')
    if (!email) throw new UsageError('license create needs --owner EMAIL')
    const input = validate(createLicenseSchema, {
      label: str(flags, 'label'),
      ...expiry(flags),
      renewalPeriod: duration(flags, 'renewal'),
      maxDevices: wholeNumber(flags, 'max-devices'),
      metadata: jsonObject(flags, 'metadata'),
    })
    return async (ctx) => {
      needKeySecrets(ctx)
      const owner = await ownerByEmail(ctx, email)
      const { license, key } = await createLicense(ctx, ownerForCreate(principalOf(ctx), owner.id), input)
      const view = { ...license, ownerEmail: owner.email }
      return {
        output: { key, ...view },
        human: `Created licence for ${owner.email}: ${summary(view)}\nKey (shown once): ${key}`,
      }
    }
  },
}

const list: Command = {
  flags: { owner: 'string' },
  prepare: ({ flags }) => async (ctx) => {
    const email = str(flags, 'owner')
    const ownerId = namedOwner(principalOf(ctx), email === undefined ? undefined : (await ownerByEmail(ctx, email)).id)
    const all: LicenseView[] = []
    let cursor: string | undefined
    do {
      const page = await listLicenses(ctx, scopeOfCommand(ctx), validate(listLicensesSchema, { ownerId, limit: 100, cursor }))
      all.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    const rows = all.map(l => [l.maskedKey, l.displayStatus, when(l.expiresAt), devices(l), l.ownerEmail ?? l.ownerId, l.label])
    return {
      output: { licenses: all },
      human: all.length === 0 ? 'No licences.' : table([['KEY', 'STATUS', 'EXPIRES', 'DEVICES', 'OWNER', 'LABEL'], ...rows]),
    }
  },
}

const show: Command = {
  flags: {},
  positionals: ['KEY'],
  prepare: ({ positionals: [key] }) => async (ctx) => {
    const license = await byKey(ctx, key!)
    return { output: license, human: details(license) }
  },
}

/** suspend / reinstate: resolve KEY, then the service call by id. */
function lifecycle(verb: string, change: (ctx: ServiceContext, scope: LicenseScope, id: string) => Promise<LicenseView>): Command {
  return {
    flags: {},
    positionals: ['KEY'],
    prepare: ({ positionals: [key] }) => async (ctx) => {
      const found = await byKey(ctx, key!)
      const view = { ...await change(ctx, scopeOfCommand(ctx), found.id), ownerEmail: found.ownerEmail }
      return { output: view, human: `${verb} ${summary(view)}` }
    },
  }
}

const renew: Command = {
  flags: { 'expires-in': 'string', 'expires-at': 'string' },
  positionals: ['KEY'],
  prepare({ flags, positionals: [key] }) {
    // Checked now with a stand-in id; the licence's own id is filled in once KEY is resolved.
    const input = validate(renewLicenseSchema, { id: 'lic_0', ...expiry(flags) })
    return async (ctx) => {
      const found = await byKey(ctx, key!)
      const view = { ...await renewLicense(ctx, scopeOfCommand(ctx), { ...input, id: found.id }), ownerEmail: found.ownerEmail }
      return { output: view, human: `Renewed ${summary(view)} (was ${when(found.expiresAt)})` }
    }
  },
}

const remove: Command = {
  flags: {},
  positionals: ['KEY'],
  prepare: ({ positionals: [key] }) => async (ctx) => {
    const found = await byKey(ctx, key!)
    await deleteLicense(ctx, scopeOfCommand(ctx), found.id)
    return { output: { ok: true, id: found.id }, human: `Deleted ${found.maskedKey} (${found.id})` }
  },
}

export const licenseCommands: Record<string, Command> = {
  'license create': create,
  'license list': list,
  'license show': show,
  'license suspend': lifecycle('Suspended', suspendLicense),
  'license reinstate': lifecycle('Reinstated', reinstateLicense),
  'license renew': renew,
  'license delete': remove,
}
