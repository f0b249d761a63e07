import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { webhookEndpoints } from '../../db/schema'
import { Caller, errorOf, uniqueEmail } from '../support/client'
import { DohServer } from '../support/doh-server'
import { startWorker, type TestWorker } from '../support/worker'

/**
 * Which webhook URLs production accepts (docs/webhooks.md, "Which URLs are allowed"): the built worker
 * with production's rules, its host-name lookups answered by a DNS-over-HTTPS resolver on loopback.
 * Endpoints here are created disabled and nothing is ever sent: no test connects to these addresses.
 */
let w: TestWorker
let doh: DohServer
let user: Caller
let userId = ''

beforeAll(async () => {
  doh = await new DohServer().start()
  w = await startWorker({ vars: { WEBHOOK_DNS_RESOLVER: doh.url } })
  const admin = new Caller(w.url)
  await admin.login(w.admin.email, w.admin.password)
  const email = uniqueEmail('targets')
  userId = (await admin.trpc.users.create.mutate({ email, password: 'targets-password-1' })).user.id
  user = new Caller(w.url)
  await user.login(email, 'targets-password-1')
})
afterAll(async () => {
  await w?.close()
  await doh?.close()
})

async function endpointsOfUser() {
  const { ctx } = w.context()
  return await ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.ownerId, userId))
}

const refusal = async (url: string) => {
  const e = await errorOf(user.trpc.webhooks.create.mutate({ url, enabled: false }))
  return { code: e.code, field: e.fieldErrors?.url?.[0] ?? '' }
}

describe('production webhook targets', () => {
  it('refuses every special-purpose address in every notation, and local names; nothing is created', async () => {
    const urls = [
      'https://127.0.0.1/h', 'https://127.8.9.10/h', 'https://10.0.0.1/h', 'https://172.16.5.4/h', 'https://192.168.1.1/h', 'https://169.254.169.254/latest/meta-data',
      'https://100.100.100.200/h', 'https://0.0.0.0/h', 'https://224.0.0.251/h', 'https://255.255.255.255/h', 'https://192.0.2.1/h', 'https://198.18.0.1/h',
      // decimal, hex, octal and short IPv4
      'https://2130706433/h', 'https://0x7f000001/h', 'https://0x7f.1/h', 'https://0177.0.0.1/h', 'https://127.1/h', 'https://3232235777/h', 'https://0xA9FEA9FE/h',
      // IPv4-mapped / -compatible IPv6, NAT64, 6to4, Teredo, ULA, link-local, site-local, multicast, documentation, benchmarking
      'https://[::1]/h', 'https://[::]/h', 'https://[::ffff:127.0.0.1]/h', 'https://[::ffff:a9fe:a9fe]/h', 'https://[::ffff:8.8.8.8]/h', 'https://[::127.0.0.1]/h',
      'https://[64:ff9b::7f00:1]/h', 'https://[64:ff9b:1::a00:1]/h', 'https://[2002:7f00:1::]/h', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/h',
      'https://[fd00:ec2::254]/h', 'https://[fe80::1]/h', 'https://[fec0::1]/h', 'https://[ff02::1]/h', 'https://[2001:db8::1]/h', 'https://[2001:2::1]/h', 'https://[100::1]/h',
      // names
      'https://localhost/h', 'https://api.localhost/h', 'https://metadata.internal/h', 'https://printer.local/h', 'https://intranet/h', 'https://nas.home.arpa/h',
      // http and credentials
      'http://hooks.example.com/h', 'https://user:pass@hooks.example.com/h',
    ]
    for (const url of urls) expect(await refusal(url), url).toMatchObject({ code: 'BAD_REQUEST', field: expect.any(String) })
    expect(await endpointsOfUser()).toHaveLength(0)
  })

  it('refuses host names that resolve to a private, loopback or reserved address (A or AAAA), or to none', async () => {
    doh.records.set('internal-alias.example.com', ['10.1.2.3'])
    doh.records.set('mapped.example.com', ['::ffff:192.168.0.10'])
    doh.records.set('metadata-alias.example.com', ['169.254.169.254'])
    doh.records.set('mixed.example.com', ['93.184.215.14', 'fd12:3456::1'])
    doh.records.set('empty.example.com', [])
    for (const host of ['internal-alias.example.com', 'mapped.example.com', 'metadata-alias.example.com', 'mixed.example.com']) {
      expect((await refusal(`https://${host}/hook`)).field, host).toMatch(/resolves to a private, loopback or reserved address/)
    }
    expect((await refusal('https://empty.example.com/hook')).field).toMatch(/does not resolve/)
    expect((await refusal('https://never-registered.example.com/hook')).field).toMatch(/does not resolve/)
    expect(doh.queries).toEqual(expect.arrayContaining(['internal-alias.example.com A', 'internal-alias.example.com AAAA']))
    expect(await endpointsOfUser()).toHaveLength(0)
  })

  it('accepts a name that resolves to public addresses only, and re-checks a changed URL', async () => {
    doh.records.set('hooks.example.com', ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])
    const { webhook } = await user.trpc.webhooks.create.mutate({ url: 'https://hooks.example.com/lm?token=abc', enabled: false })
    expect(webhook.url).toBe('https://hooks.example.com/lm?token=abc')
    // The same name now points inside: a new URL on it is refused, the stored one is unchanged.
    doh.records.set('hooks.example.com', ['192.168.7.7'])
    const e = await errorOf(user.trpc.webhooks.update.mutate({ id: webhook.id, url: 'https://hooks.example.com/other' }))
    expect(e.fieldErrors?.url?.[0]).toMatch(/resolves to a private/)
    expect((await endpointsOfUser()).map(x => x.url)).toEqual(['https://hooks.example.com/lm?token=abc'])
  })

  it('refuses to save a name it could not look up (resolver down), rather than skip the check', async () => {
    doh.down = true
    try {
      expect((await refusal('https://other.example.org/hook')).field).toMatch(/Could not look up this host name/)
    }
    finally {
      doh.down = false
    }
  })
})
