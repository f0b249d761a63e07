import { idSchema } from '../../shared/schemas/common'
import { createProductSchema, type ProductDefaults } from '../../shared/schemas/products'
import { namedOwner, ownerForCreate } from '../../server/services/authz'
import { createProduct, deleteProduct, listProducts, type ProductView } from '../../server/services/products'
import { str, UsageError } from '../args'
import { principalOf, scopeOfCommand, table, when, type Command } from '../command'
import { duration, jsonObject, ownerByEmail, POLICY_FLAGS, POLICY_OPTIONS, policyOptions, validator, wholeNumber } from '../options'

const validate = validator({
  'name': '--name', 'slug': '--slug', 'ownerId': '--owner',
  'defaults.expiresIn': '--expires-in', 'defaults.renewalPeriod': '--renewal', 'defaults.maxDevices': '--max-devices', 'defaults.metadata': '--metadata',
  ...Object.fromEntries(Object.entries(POLICY_OPTIONS).map(([k, v]) => [`defaults.${k}`, v])),
})

/** Defaults as people read them: "1y · renews 1y · 3 devices · metadata". */
export function defaultsSummary(d: ProductDefaults): string {
  const parts = [
    d.expiresIn ? `expires in ${d.expiresIn}` : null,
    d.renewalPeriod ? `renews ${d.renewalPeriod}` : null,
    d.maxDevices ? `${d.maxDevices} device${d.maxDevices === 1 ? '' : 's'}` : null,
    d.metadata && Object.keys(d.metadata).length ? `metadata ${JSON.stringify(d.metadata)}` : null,
    d.grace ? `grace ${d.grace}` : null,
    d.expiresAfterActivation ? `trial ${d.expiresAfterActivation} from first activation` : null,
    d.maxActivationsPerPeriod ? `≤ ${d.maxActivationsPerPeriod.count} activations/${d.maxActivationsPerPeriod.period}` : null,
    d.leaseDuration ? `floating, ${d.leaseDuration} lease` : null,
  ].filter(Boolean)
  return parts.length ? parts.join(' · ') : 'no defaults'
}

const summary = (p: ProductView) => `${p.name} (${p.slug}, ${p.id}) · ${defaultsSummary(p.defaults)}`

export const productCommands: Record<string, Command> = {
  'product create': {
    flags: { 'owner': 'string', 'name': 'string', 'slug': 'string', 'expires-in': 'string', 'renewal': 'string', 'max-devices': 'string', 'metadata': 'string', ...POLICY_FLAGS },
    prepare({ flags }) {
      const email = str(flags, 'owner')
      if (!email) throw new UsageError('product create needs --owner EMAIL')
      if (!str(flags, 'name')) throw new UsageError('product create needs --name NAME')
      if (!str(flags, 'slug')) throw new UsageError('product create needs --slug SLUG')
      const input = validate(createProductSchema, {
        name: str(flags, 'name'),
        slug: str(flags, 'slug'),
        defaults: {
          expiresIn: duration(flags, 'expires-in'),
          renewalPeriod: duration(flags, 'renewal'),
          maxDevices: wholeNumber(flags, 'max-devices'),
          metadata: jsonObject(flags, 'metadata'),
          ...policyOptions(flags),
        },
      })
      return async (ctx) => {
        const owner = await ownerByEmail(ctx, email)
        const product = await createProduct(ctx, ownerForCreate(principalOf(ctx), owner.id), input)
        return { output: product, human: `Created product for ${owner.email}: ${summary(product)}` }
      }
    },
  },
  'product list': {
    flags: { owner: 'string' },
    prepare: ({ flags }) => async (ctx) => {
      const email = str(flags, 'owner')
      const ownerId = namedOwner(principalOf(ctx), email === undefined ? undefined : (await ownerByEmail(ctx, email)).id)
      const all: ProductView[] = []
      let cursor: string | undefined
      do {
        const page = await listProducts(ctx, scopeOfCommand(ctx), { ownerId, limit: 100, cursor })
        all.push(...page.items)
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      const rows = all.map(p => [p.id, p.slug, p.name, String(p.licenseCount), p.ownerEmail ?? p.ownerId, when(p.createdAt), defaultsSummary(p.defaults)])
      return {
        output: { products: all },
        human: all.length === 0 ? 'No products.' : table([['ID', 'SLUG', 'NAME', 'LICENSES', 'OWNER', 'CREATED', 'DEFAULTS'], ...rows]),
      }
    },
  },
  'product delete': {
    flags: {},
    positionals: ['ID'],
    prepare: ({ positionals }) => {
      const id = idSchema.safeParse(positionals[0])
      if (!id.success || !id.data.startsWith('prd_')) throw new UsageError(`not a product id: ${positionals[0]} (see: product list)`)
      return async (ctx) => {
        await deleteProduct(ctx, scopeOfCommand(ctx), id.data)
        return { output: { ok: true, id: id.data }, human: `Deleted product ${id.data}.` }
      }
    },
  },
}
