import { describe, expect, it } from 'vitest'
import { canonicalIp, formatIpv6, ipLimitKey, parseIp, UNKNOWN_IP_KEY } from '../../server/lib/ip'

describe('client IPs', () => {
  it('read every IPv6 notation as the same address', () => {
    const spellings = [
      '2001:db8::1', '2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0:0:0:0:1',
      '[2001:db8::1]', '2001:db8::1%eth0', '[2001:db8::1%25en0]', ' 2001:db8::1 ', '2001:db8::0.0.0.1',
    ]
    for (const s of spellings) expect(canonicalIp(s), s).toBe('2001:db8::1')
  })

  it('treat IPv4-mapped IPv6 as the IPv4 client, and print RFC 5952 text', () => {
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(canonicalIp('::FFFF:c000:0201')).toBe('192.0.2.1')
    expect(formatIpv6([0x2001, 0xDB8, 0, 0, 1, 0, 0, 1])).toBe('2001:db8::1:0:0:1')
    expect(formatIpv6([0x2001, 0xDB8, 0, 1, 1, 1, 1, 1])).toBe('2001:db8:0:1:1:1:1:1')
    expect(formatIpv6([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::')
    expect(formatIpv6([0, 0, 0, 0, 0, 0, 0, 1])).toBe('::1')
  })

  it('refuse what is not an address', () => {
    for (const s of ['', '   ', 'not-an-ip', '1.2.3', '1.2.3.256', '1::2::3', '12345::1', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'g::1', '1.2.3.4.5', '0x7f.0.0.1']) {
      expect(parseIp(s), s).toBeNull()
    }
    expect(canonicalIp('not-an-ip')).toBe('not-an-ip')
    expect(canonicalIp(null)).toBe('')
  })

  it('key IPv6 limits per /64, IPv4 per address, and everything unreadable into one bucket', () => {
    const net = ['2001:db8:aa:1::1', '2001:DB8:AA:1:ffff:ffff:ffff:ffff', '[2001:db8:aa:1::5%eth1]', '2001:0db8:00aa:0001::1.2.3.4']
    for (const s of net) expect(ipLimitKey(s), s).toBe('2001:db8:aa:1::/64')
    expect(ipLimitKey('2001:db8:aa:2::1')).toBe('2001:db8:aa:2::/64')
    expect(ipLimitKey('2001:db8::1')).toBe('2001:db8::/64')
    expect(ipLimitKey('203.0.113.9')).toBe('203.0.113.9')
    expect(ipLimitKey('::ffff:203.0.113.9')).toBe('203.0.113.9')
    for (const s of ['', undefined, null, 'unknown', 'garbage', '999.1.1.1']) expect(ipLimitKey(s)).toBe(UNKNOWN_IP_KEY)
  })
})
