// The matcher `decide` and the IP-literal reader behind it: examples, and properties over
// generated names, ports and every notation a client could write an address in.
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { dottedQuad, formatIpv6, parseIpLiteral, specialRange } from '../../src/egress/address.js'
import { type AllowEntry, decide, formatEntry, parseEntry, publicSuffixes } from '../../src/egress/policy.js'

const entries = (...texts: string[]): AllowEntry[] =>
  texts.map((t) => {
    const e = parseEntry(t)
    if (E.isLeft(e)) throw new Error(e.left)
    return e.right
  })

const allow = entries('github.com', '*.githubusercontent.com', 'registry.npmjs.org:8443', '10.1.2.3:5432', '[2001:db8::7]:443', 'db.internal:5432/private')
const PUBLIC = '140.82.112.3'

describe('decide, examples', () => {
  it.each([
    ['an exact name', 'github.com', 443, [PUBLIC], { ok: true, address: PUBLIC }],
    ['an exact name, upper case and a trailing dot', 'GitHub.COM.', 443, [PUBLIC], { ok: true, address: PUBLIC }],
    ['a subdomain of a wildcard', 'raw.githubusercontent.com', 443, [PUBLIC], { ok: true, address: PUBLIC }],
    ['a deeper subdomain of a wildcard', 'a.b.githubusercontent.com', 443, [PUBLIC], { ok: true, address: PUBLIC }],
    ['the port the entry names', 'registry.npmjs.org', 8443, [PUBLIC], { ok: true, address: PUBLIC }],
    ['an address an entry names', '10.1.2.3', 5432, [], { ok: true, address: '10.1.2.3' }],
    ['that address as a decimal number', '167838211', 5432, [], { ok: true, address: '10.1.2.3' }],
    ['that address IPv4-mapped', '[::ffff:10.1.2.3]', 5432, [], { ok: true, address: '10.1.2.3' }],
    ['an IPv6 address an entry names, another spelling', '[2001:DB8:0:0:0:0:0:7]', 443, [], { ok: true, address: '2001:db8::7' }],
    ['a /private name resolving to a private address', 'db.internal', 5432, ['10.9.8.7'], { ok: true, address: '10.9.8.7' }],
    ['the first of several public addresses', 'github.com', 443, ['140.82.112.4', '2606:50c0:8000::153'], { ok: true, address: '140.82.112.4' }],
  ] as const)('allows %s', (_label, host, port, resolved, expected) => {
    expect(decide(allow, { host, port }, resolved)).toStrictEqual(expected)
  })

  it.each([
    ['a host not on the list', 'evil.example', 443, [PUBLIC], 'evil.example:443 is not on the allow-list'],
    ['a wildcard’s own domain', 'githubusercontent.com', 443, [PUBLIC], 'githubusercontent.com:443 is not on the allow-list'],
    ['a name that only ends like the domain', 'evilgithubusercontent.com', 443, [PUBLIC], 'evilgithubusercontent.com:443 is not on the allow-list'],
    ['a name with the allowed one as a prefix', 'github.com.evil.example', 443, [PUBLIC], 'github.com.evil.example:443 is not on the allow-list'],
    ['another port', 'github.com', 22, [PUBLIC], 'github.com:22 is not on the allow-list'],
    ['an IP literal no entry names', '140.82.112.3', 443, [], 'IP address 140.82.112.3:443 is not on the allow-list (an entry must name the address)'],
    ['loopback in hex', '0x7f.1', 443, [], 'IP address 127.0.0.1:443 is not on the allow-list (an entry must name the address)'],
    ['the metadata address, IPv4-mapped', '[::ffff:a9fe:a9fe]', 80, [], 'IP address 169.254.169.254:80 is not on the allow-list (an entry must name the address)'],
    ['a named address on another port', '10.1.2.3', 22, [], 'IP address 10.1.2.3:22 is not on the allow-list (an entry must name the address)'],
    ['a name resolving to loopback', 'github.com', 443, ['127.0.0.1'], 'github.com:443 resolves to 127.0.0.1, a loopback address: allow it with the entry github.com:443/private'],
    ['a name resolving to metadata', 'x.githubusercontent.com', 443, ['169.254.169.254'], 'x.githubusercontent.com:443 resolves to 169.254.169.254, a cloud metadata address: allow it with the entry *.githubusercontent.com:443/private'],
    ['a name resolving to IPv6 metadata', 'github.com', 443, ['fd00:ec2::254'], 'github.com:443 resolves to fd00:ec2::254, a cloud metadata address: allow it with the entry github.com:443/private'],
    ['a name resolving to a mapped private address', 'github.com', 443, ['::ffff:192.168.1.1'], 'github.com:443 resolves to 192.168.1.1, a private address: allow it with the entry github.com:443/private'],
    ['a name with one private address among public ones', 'github.com', 443, [PUBLIC, '10.0.0.1'], 'github.com:443 resolves to 10.0.0.1, a private address: allow it with the entry github.com:443/private'],
    ['a name resolving to CGNAT', 'github.com', 443, ['100.64.1.1'], 'github.com:443 resolves to 100.64.1.1, a CGNAT address: allow it with the entry github.com:443/private'],
    ['a name resolving to link-local IPv6', 'github.com', 443, ['fe80::1'], 'github.com:443 resolves to fe80::1, a link-local address: allow it with the entry github.com:443/private'],
    ['a name resolving to the unspecified address', 'github.com', 443, ['0.0.0.0'], 'github.com:443 resolves to 0.0.0.0, an unspecified address: allow it with the entry github.com:443/private'],
    ['a name that did not resolve', 'github.com', 443, [], 'github.com:443 did not resolve to any address'],
    ['a host with a bad number tail', '1.2.3.4.5', 443, [], 'not a host: 1.2.3.4.5 ends in a number but has more than four parts'],
    ['a host with a zone id', '[fe80::1%25eth0]', 443, [], 'not a host: [fe80::1%25eth0] is not an IPv6 address in brackets'],
    ['a host with a space', 'github.com evil', 443, [PUBLIC], 'not a host: "github.com evil" is not a host name (letters, digits and \'-\' in dot-separated labels)'],
    ['port 0', 'github.com', 0, [PUBLIC], 'port 0 is out of range'],
  ] as const)('refuses %s, naming the rule', (_label, host, port, resolved, rule) => {
    expect(decide(allow, { host, port }, resolved)).toStrictEqual({ ok: false, rule })
  })
})

// -------------------------------------------------------------------------------------------------
// generators
// -------------------------------------------------------------------------------------------------

const labelArb = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/).filter((l) => !/^[0-9]+$/.test(l) && !/^0x[0-9a-f]*$/.test(l))
const nameArb = fc.array(labelArb, { minLength: 2, maxLength: 4 }).map((ls) => ls.join('.')).filter((n) => !publicSuffixes.has(n))
const portArb = fc.integer({ min: 1, max: 65535 })
const v4Arb = fc.integer({ min: 0, max: 0xffffffff })
const v6Arb = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })

/** Every way a client could write one IPv4 address (WHATWG URL host parser). */
const v4Spellings = (n: number): string[] => {
  const [a, b, c, d] = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  const oct = (x: number) => `0${x.toString(8)}`
  const hex = (x: number) => `0x${x.toString(16)}`
  return [
    `${a}.${b}.${c}.${d}`,
    String(n),
    hex(n),
    `0${n.toString(8)}`,
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${(c << 8) | d}`,
    `${hex(a)}.${hex(b)}.${hex(c)}.${hex(d)}`,
    `${oct(a)}.${oct(b)}.${oct(c)}.${oct(d)}`,
    `${a}.${b}.${c}.${d}.`,
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `[::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}]`,
    `[0:0:0:0:0:FFFF:${a}.${b}.${c}.${d}]`,
  ]
}

const v6Spellings = (g: number[]): string[] => {
  const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':')
  return [`[${full}]`, `[${full.toUpperCase()}]`, `[${formatIpv6(g)}]`, `[${g.map((x) => x.toString(16)).join(':')}]`, full]
}

// -------------------------------------------------------------------------------------------------
// properties
// -------------------------------------------------------------------------------------------------

describe('IP literals', () => {
  test.prop([v4Arb])('every spelling of an IPv4 address reads as that address', (n) => {
    for (const s of v4Spellings(n)) expect(parseIpLiteral(s)).toStrictEqual({ _tag: 'ip', family: 4, address: dottedQuad(n) })
  })

  test.prop([v4Arb, fc.integer({ min: 0, max: 11 })])('reads IPv4 as Node’s WHATWG URL parser does', (n, i) => {
    const s = v4Spellings(n)[i] as string
    const url = new URL(`http://${s}/`).hostname
    const k = parseIpLiteral(s)
    // URL keeps an IPv4-mapped address in IPv6 form; bottle reads it as the IPv4 it reaches.
    const viaUrl = url.startsWith('[') ? parseIpLiteral(url) : { _tag: 'ip', family: 4, address: url }
    expect(k).toStrictEqual(viaUrl)
  })

  test.prop([v6Arb, fc.integer({ min: 0, max: 4 })])('every spelling of an IPv6 address reads as one canonical form, as URL writes it', (g, i) => {
    const k = parseIpLiteral(v6Spellings(g)[i] as string)
    const url = new URL(`http://[${formatIpv6(g)}]/`).hostname.slice(1, -1)
    const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff
    expect(k).toStrictEqual(mapped ? { _tag: 'ip', family: 4, address: dottedQuad((g[6] as number) * 65536 + (g[7] as number)) } : { _tag: 'ip', family: 6, address: url })
  })

  test.prop([nameArb])('a generated host name is a name', (name) => {
    expect(parseIpLiteral(name)).toStrictEqual({ _tag: 'name' })
  })
})

describe('decide, properties', () => {
  test.prop([v4Arb, portArb, fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 11 })])(
    'two spellings of one IPv4 address decide the same, allowed or not',
    (n, port, i, j) => {
      const allowIt = entries(`${dottedQuad(n)}:${port}`)
      const [si, sj] = [v4Spellings(n)[i] as string, v4Spellings(n)[j] as string]
      expect(decide(allowIt, { host: si, port }, [])).toStrictEqual({ ok: true, address: dottedQuad(n) })
      expect(decide([], { host: si, port }, [])).toStrictEqual(decide([], { host: sj, port }, []))
    },
  )

  test.prop([v6Arb, portArb, fc.integer({ min: 0, max: 3 })])('an IPv6 address an entry names passes in any bracketed spelling', (g, port, i) => {
    const canonical = parseIpLiteral(`[${formatIpv6(g)}]`)
    if (canonical._tag !== 'ip') throw new Error('not an address')
    const entry: AllowEntry = { host: canonical.address, port, private: true }
    expect(decide([entry], { host: v6Spellings(g)[i] as string, port }, [])).toStrictEqual({ ok: true, address: canonical.address })
  })

  test.prop([fc.array(nameArb, { maxLength: 4 }), v4Arb, portArb, fc.integer({ min: 0, max: 11 })])(
    'an IP literal no entry names is refused, whatever names are allowed and whatever it resolves to',
    (names, n, port, i) => {
      const d = decide(entries(...names.map((x) => `${x}:${port}`)), { host: v4Spellings(n)[i] as string, port }, [dottedQuad(n)])
      expect(d.ok).toBe(false)
    },
  )

  test.prop([nameArb, portArb, fc.constantFrom('10.0.0.1', '127.0.0.1', '169.254.169.254', '172.20.1.1', '192.168.0.10', '100.100.100.200', '::1', 'fd00:ec2::254', 'fe80::1', 'fc00::5', '::ffff:10.0.0.1', '0.0.0.0', '::')])(
    'a name that resolves to a non-public address is refused unless its entry is /private',
    (name, port, address) => {
      expect(decide(entries(`${name}:${port}`), { host: name, port }, ['8.8.8.8', address]).ok).toBe(false)
      expect(decide(entries(`${name}:${port}/private`), { host: name, port }, [address]).ok).toBe(true)
    },
  )

  test.prop([nameArb, labelArb, portArb, portArb])('a wildcard passes its subdomains on its port, never the domain itself or another port', (domain, sub, port, other) => {
    const w = entries(`*.${domain}:${port}`)
    expect(decide(w, { host: `${sub}.${domain}`, port }, ['8.8.8.8'])).toStrictEqual({ ok: true, address: '8.8.8.8' })
    expect(decide(w, { host: domain, port }, ['8.8.8.8']).ok).toBe(false)
    expect(decide(w, { host: `${sub}${domain}`, port }, ['8.8.8.8']).ok).toBe(false)
    if (other !== port) expect(decide(w, { host: `${sub}.${domain}`, port: other }, ['8.8.8.8']).ok).toBe(false)
  })

  test.prop([fc.array(nameArb, { maxLength: 5 }), nameArb, portArb, v4Arb])(
    'an allowed name connects only to an address it resolved to, and only a public one',
    (names, name, port, n) => {
      const d = decide(entries(...[...names, name].map((x) => `${x}:${port}`)), { host: name, port }, [dottedQuad(n)])
      expect(d).toStrictEqual(specialRange(dottedQuad(n)) === null ? { ok: true, address: dottedQuad(n) } : { ok: false, rule: expect.any(String) })
    },
  )

  test.prop([nameArb, portArb, fc.boolean()])('formatEntry reads back to the same entry', (name, port, priv) => {
    for (const e of [{ host: name, port, private: priv }, { host: `*.${name}`, port, private: priv }]) {
      const back = parseEntry(formatEntry(e))
      expect(back).toStrictEqual(E.right(e))
    }
  })
})
