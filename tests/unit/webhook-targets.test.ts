import { describe, expect, it } from 'vitest'
import { classifyHost, isSpecialAddress, LOCAL_RECEIVER_HOSTS, parseIpv4Loose, redactUrl, webhookUrlProblem } from '../../server/lib/webhook-url'

const production = { allowLocalhost: false }
const local = { allowLocalhost: true }

/** Addresses outside the public unicast space, in the notations a URL may carry them. */
const SPECIAL = [
  // IPv4: private, loopback, link-local, CGNAT, "this network", protocol assignments, documentation, benchmarking, multicast, reserved
  '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '127.1.2.3', '169.254.169.254',
  '100.64.0.1', '100.100.100.200', '100.127.255.255', '0.0.0.0', '0.1.2.3', '192.0.0.8', '192.0.2.10', '198.51.100.7', '203.0.113.1',
  '198.18.0.1', '198.19.255.255', '192.88.99.1', '192.31.196.1', '192.52.193.1', '192.175.48.1', '224.0.0.1', '239.255.255.255',
  '240.0.0.1', '255.255.255.255',
  // IPv4 in decimal, octal, hex and short forms
  '2130706433', '0x7f000001', '0x7f.1', '0177.0.0.1', '0177.1', '127.1', '0xa.0.0.1', '3232235777', '0300.0250.1.1', '0xA9.0xFE.0xA9.0xFE',
  // IPv6: loopback, unspecified, IPv4-mapped and -compatible, NAT64 (well-known and local-use), discard, ULA, link-local, site-local, multicast
  '[::1]', '[::]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::ffff:8.8.8.8]', '[::ffff:0:0]', '[::127.0.0.1]', '[::8.8.8.8]', '[::a00:1]',
  '[64:ff9b::a00:1]', '[64:ff9b::808:808]', '[64:ff9b:1::1]', '[100::1]', '[fc00::1]', '[fd00:ec2::254]', '[fe80::1]', '[fe80::1%25eth0]',
  '[febf::1]', '[fec0::1]', '[feff::1]', '[ff02::1]', '[ff05::2]',
  // IPv6 special blocks inside 2000::/3: Teredo, benchmarking, ORCHID, documentation, 6to4, AS112
  '[2001::1]', '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', '[2001:2::1]', '[2001:10::1]', '[2001:20::1]', '[2001:1ff::1]',
  '[2001:db8::1]', '[2001:DB8:FFFF::1]', '[2002::1]', '[2002:7f00:1::1]', '[2002:c0a8:101::1]', '[2620:4f:8000::1]', '[3fff::1]', '[3fff:fff::1]',
  // Not in the allocated unicast space at all
  '[4000::1]', '[5f00::1]', '[e000::1]', '[::ffff:0:0:1]',
]

const PUBLIC = ['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '192.169.0.1', '223.255.255.254', '[2606:4700:4700::1111]', '[2a00:1450:4001::200e]', '[2001:200::1]', '[2003::1]', '[3ffe::1]']

describe('webhook targets without a lookup (docs/webhooks.md)', () => {
  it('refuse every special-purpose address in every notation, in production and locally', () => {
    for (const host of SPECIAL) {
      for (const scheme of ['https', 'http']) {
        const url = `${scheme}://${host}:8443/hook`
        expect(webhookUrlProblem(url, production), url).not.toBeNull()
        // A local install adds only localhost, 127.0.0.1 and [::1] (however the URL spells that address).
        if (!LOCAL_RECEIVER_HOSTS.has(URL.parse(url)?.hostname ?? '')) expect(webhookUrlProblem(url, local), `${url} (local)`).not.toBeNull()
      }
    }
  })

  it('read the loose IPv4 forms as the URL parser does', () => {
    const forms: [string, string][] = [['2130706433', '127.0.0.1'], ['0x7f.1', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['10.1', '10.0.0.1'], ['192.168.257', '192.168.1.1'], ['0xA9.0xFE.0xA9.0xFE', '169.254.169.254']]
    for (const [loose, quad] of forms) {
      expect(parseIpv4Loose(loose)!.join('.'), loose).toBe(quad)
      expect(new URL(`https://${loose}/`).hostname).toBe(quad)
    }
    for (const bad of ['1.2.3.4.5', '256.1.1.1', '1..2', '0xg', 'a.b', '4294967296']) expect(parseIpv4Loose(bad), bad).toBeNull()
  })

  it('allow public addresses and names over https', () => {
    for (const host of [...PUBLIC, 'hooks.example.com', 'billing.acme.io', 'xn--bcher-kva.de']) {
      expect(webhookUrlProblem(`https://${host}/hook?x=1`, production), host).toBeNull()
    }
    for (const a of PUBLIC) expect(isSpecialAddress(a), a).toBe(false)
    for (const a of SPECIAL.filter(h => h.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(h))) expect(isSpecialAddress(a), a).toBe(true)
  })

  it('refuse internal and special-use names, plain http and credentials', () => {
    for (const host of ['localhost', 'LOCALHOST', 'a.localhost', 'intranet', 'db.internal', 'nas.local', 'printer.lan', 'router.home.arpa', 'x.localdomain', 'svc.corp', 'a.test', 'a.invalid', 'hidden.onion', 'site.example', 'localhost.']) {
      expect(webhookUrlProblem(`https://${host}/h`, production), host).toMatch(/private|internal/)
      expect(classifyHost(host)).toMatchObject({ kind: 'name', internal: true })
    }
    expect(webhookUrlProblem('http://example.com/h', production)).toMatch(/https/)
    expect(webhookUrlProblem('http://example.com/h', local)).toMatch(/https/)
    expect(webhookUrlProblem('https://u:p@example.com/', local)).toMatch(/credentials/)
    expect(webhookUrlProblem('javascript:alert(1)', local)).not.toBeNull()
    expect(webhookUrlProblem('ftp://example.com/', production)).not.toBeNull()
  })

  it('a local install allows exactly localhost, 127.0.0.1 and [::1] (http or https, any port)', () => {
    for (const url of ['http://localhost:3000/h', 'http://127.0.0.1:8080/h', 'http://[::1]:9/h', 'https://localhost/h', 'http://LOCALHOST:1/']) {
      expect(webhookUrlProblem(url, local), url).toBeNull()
      expect(webhookUrlProblem(url, production), url).not.toBeNull()
    }
    for (const url of ['http://a.localhost/', 'http://127.0.0.2/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/', 'http://2130706434/', 'http://10.0.0.1/', 'http://[fe80::1]/', 'http://192.168.0.10/']) {
      expect(webhookUrlProblem(url, local), url).not.toBeNull()
    }
  })

  it('keep query strings and fragments out of what is shown', () => {
    expect(redactUrl('https://hooks.example.com/in/lm?token=s3cr3t&x=1')).toBe('https://hooks.example.com/in/lm?…')
    expect(redactUrl('https://hooks.example.com/in#frag')).toBe('https://hooks.example.com/in?…')
    expect(redactUrl('https://hooks.example.com/in')).toBe('https://hooks.example.com/in')
    expect(redactUrl('not a url?token=1')).toBe('not a url')
  })
})
