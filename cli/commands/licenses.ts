import type { z } from 'zod'
import { createLicenseSchema, listLicensesSchema, renewLicenseSchema, updateLicenseSchema } from '../../shared/schemas/licenses'
import { leaseInWords } from '../../shared/schemas/policies'
import { namedOwner, ownerForCreate } from '../../server/services/authz'
import type { ServiceContext } from '../../server/services/context'
import {
  createLicense, deleteLicense, findLicenseByKey, listLicenses, reinstateLicense, renewLicense, suspendLicense, updateLicense,
  type LicenseScope, type LicenseView,
} from '../../server/services/licenses'
import { str, UsageError } from '../args'
import { principalOf, scopeOfCommand, table, when, type Command } from '../command'
import { duration, expiry, jsonObject, ownerByEmail, POLICY_FLAGS, POLICY_OPTIONS, policyOptions, validator, wholeNumber } from '../options'

/** Schema fields → the options that set them, so errors name what the user typed. */
const validate = validator({
  label: '--label', expiresAt: '--expires-at', expiresIn: '--expires-in', renewalPeriod: '--renewal', maxDevices: '--max-devices', metadata: '--metadata',
  product: '--product', customerEmail: '--customer-email', customerName: '--customer-name', externalId: '--external-id',
  ...POLICY_OPTIONS,
})

/** Keys are hashed and encrypted with these: without them nothing could be found (e.g. --remote without --secrets-file). */
function needKeySecrets(ctx: ServiceContext) {
  if (!ctx.env.KEY_HMAC_SECRET || !ctx.env.KEY_ENC_SECRET) {
    throw new Error('KEY_HMAC_SECRET and KEY_ENC_SECRET are not set: add them to .dev.vars (npm start does) or give --secrets-file FILE')
  }
}

/** A license by its key as a customer types it (the service normalises it). */
async function byKey(ctx: ServiceContext, key: string) {
  needKeySecrets(ctx)
  return await findLicenseByKey(ctx, scopeOfCommand(ctx), key)
}

// Human output.

const devices = (l: LicenseView) => `${l.devicesUsed}/${l.maxDevices ?? '∞'}`

/** The license's policies in a few words ("grace 7d · trial 14d from first activation · …"), or "none". */
function policies(l: LicenseView): string {
  const parts = [
    l.grace && `grace ${l.grace}${l.inGrace ? ` (in grace until ${when(l.graceEndsAt)})` : ''}`,
    l.expiresAfterActivation && (l.trialPending ? `trial ${l.expiresAfterActivation}, starts on first activation` : `trial ${l.expiresAfterActivation}`),
    l.maxActivationsPerPeriod && `at most ${l.maxActivationsPerPeriod.count} activations per ${l.maxActivationsPerPeriod.period}`,
    l.leaseDuration && `floating, ${leaseInWords(l.leaseDuration)} lease`,
  ].filter(Boolean)
  return parts.length ? parts.join(' · ') : 'none'
}

function summary(l: LicenseView): string {
  return `${l.maskedKey} (${l.id}) · ${l.displayStatus} · expires ${when(l.expiresAt)} · devices ${devices(l)}${l.inGrace ? ` · in grace until ${when(l.graceEndsAt)}` : ''}`
}

function details(l: Awaited<ReturnType<typeof findLicenseByKey>>): string {
  const lines = table([
    ['License', l.id],
    ['Key', l.maskedKey],
    ['Owner', l.ownerEmail ?? l.ownerId],
    ['Product', l.product ? `${l.product.name} (${l.product.slug})` : 'none'],
    ['Label', l.label || '—'],
    ['Status', l.displayStatus],
    ['Expires', when(l.expiresAt)],
    ['Renewal', l.renewalPeriod ?? 'none'],
    ['Devices', devices(l)],
    ['Policies', policies(l)],
    ...(l.deviceLimitReachedAt ? [['Device limit reached', when(l.deviceLimitReachedAt)]] : []),
    ...(l.anomaly ? [['Anomaly', `${l.anomaly.distinctIps} distinct IPs in 24 h (${when(l.anomaly.at)})`]] : []),
    ['Metadata', JSON.stringify(l.metadata)],
    ['Customer', [l.customerName, l.customerEmail].filter(Boolean).join(' · ') || '—'],
    ['External id', l.externalId ?? '—'],
    ['Created', when(l.createdAt)],
  ])
  if (l.devices.length === 0) return lines
  const rows = l.devices.map(d => [d.fingerprint, d.name ?? '', d.ip ?? '', when(d.lastSeenAt), d.leaseExpiresAt ? `${d.holdsSeat ? 'until' : 'lapsed'} ${when(d.leaseExpiresAt)}` : '—'])
  return `${lines}\n\n${table([['FINGERPRINT', 'NAME', 'IP', 'LAST SEEN', 'LEASE'], ...rows]).replace(/^/gm, '  ')}`
}

// The commands.

const CUSTOMER_FLAGS = { 'customer-email': 'string', 'customer-name': 'string', 'external-id': 'string' } as const

const create: Command = {
  flags: {
    'owner': 'string', 'product': 'string', 'label': 'string', 'expires-in': 'string', 'expires-at': 'string', 'renewal': 'string',
    'max-devices': 'string', 'metadata': 'string', ...CUSTOMER_FLAGS, ...POLICY_FLAGS,
  },
  prepare({ flags }) {
    const email = str(flags, 'owner')
    if (!email) throw new UsageError('license create needs --owner EMAIL')
    // Unset options stay unset, so a --product's defaults fill them.
    const input = validate(createLicenseSchema, {
      product: str(flags, 'product'),
      label: str(flags, 'label'),
      ...expiry(flags),
      renewalPeriod: duration(flags, 'renewal'),
      maxDevices: wholeNumber(flags, 'max-devices'),
      metadata: jsonObject(flags, 'metadata'),
      customerEmail: str(flags, 'customer-email'),
      customerName: str(flags, 'customer-name'),
      externalId: str(flags, 'external-id'),
      ...policyOptions(flags),
    })
    return async (ctx) => {
      needKeySecrets(ctx)
      const owner = await ownerByEmail(ctx, email)
      const { license, key } = await createLicense(ctx, ownerForCreate(principalOf(ctx), owner.id), input)
      const view = { ...license, ownerEmail: owner.email }
      return {
        output: { key, ...view },
        human: `Created license for ${owner.email}: ${summary(view)}\nKey (shown once): ${key}`,
      }
    }
  },
}

const list: Command = {
  flags: { 'owner': 'string', 'product': 'string', 'customer-email': 'string', 'external-id': 'string', 'search': 'string' },
  prepare: ({ flags }) => {
    const filter = validate(listLicensesSchema, {
      product: str(flags, 'product'), customerEmail: str(flags, 'customer-email'), externalId: str(flags, 'external-id'), search: str(flags, 'search'),
    })
    return async (ctx) => {
      const email = str(flags, 'owner')
      const ownerId = namedOwner(principalOf(ctx), email === undefined ? undefined : (await ownerByEmail(ctx, email)).id)
      return await listAll(ctx, { ...filter, ownerId })
    }
  },
}

/** Every page of a filtered list, and its table. */
async function listAll(ctx: ServiceContext, filter: Omit<z.output<typeof listLicensesSchema>, 'limit' | 'cursor'>) {
  const all: LicenseView[] = []
  let cursor: string | undefined
  do {
    const page = await listLicenses(ctx, scopeOfCommand(ctx), { ...filter, limit: 100, cursor })
    all.push(...page.items)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  const rows = all.map(l => [l.maskedKey, l.displayStatus, when(l.expiresAt), devices(l), l.ownerEmail ?? l.ownerId, l.product?.slug ?? '—', l.customerEmail ?? '—', l.label])
  return {
    output: { licenses: all },
    human: all.length === 0 ? 'No licenses.' : table([['KEY', 'STATUS', 'EXPIRES', 'DEVICES', 'OWNER', 'PRODUCT', 'CUSTOMER', 'LABEL'], ...rows]),
  }
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
    // Checked now with a stand-in id; the license's own id is filled in once KEY is resolved.
    const input = validate(renewLicenseSchema, { id: 'lic_0', ...expiry(flags) })
    return async (ctx) => {
      const found = await byKey(ctx, key!)
      const view = { ...await renewLicense(ctx, scopeOfCommand(ctx), { ...input, id: found.id }), ownerEmail: found.ownerEmail }
      return { output: view, human: `Renewed ${summary(view)} (was ${when(found.expiresAt)})` }
    }
  },
}

/** Change a license's policies (`none` removes one); other fields stay as they are. */
const update: Command = {
  flags: { ...POLICY_FLAGS },
  positionals: ['KEY'],
  prepare({ flags, positionals: [key] }) {
    const changes = Object.fromEntries(Object.entries(policyOptions(flags, true)).filter(([, v]) => v !== undefined))
    if (Object.keys(changes).length === 0) throw new UsageError('license update needs at least one of --grace, --expires-after-activation, --max-activations, --lease')
    const input = validate(updateLicenseSchema, { id: 'lic_0', ...changes })
    return async (ctx) => {
      const found = await byKey(ctx, key!)
      const view = { ...await updateLicense(ctx, scopeOfCommand(ctx), { ...input, id: found.id }), ownerEmail: found.ownerEmail }
      return { output: view, human: `Updated ${summary(view)}\nPolicies: ${policies(view)}` }
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
  'license update': update,
  'license delete': remove,
}
