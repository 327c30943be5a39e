/**
 * IP addresses as a client could spell them, and the ranges the egress proxy keeps the agent
 * away from. Pure: no DNS, no sockets.
 *
 *   parseIpLiteral('0x7f.1')            // { _tag: 'ip', family: 4, address: '127.0.0.1' }
 *   parseIpLiteral('[::ffff:7f00:1]')   // { _tag: 'ip', family: 4, address: '127.0.0.1' } (IPv4-mapped)
 *   parseIpLiteral('github.com')        // { _tag: 'name' }
 *   parseIpLiteral('1.2.3.4.5')         // { _tag: 'invalid', … }: ends in a number, yet no address
 *   specialRange('169.254.169.254')     // 'metadata'
 *
 * IPv4 follows the WHATWG URL host parser (what browsers, Node's URL and undici do): one to four
 * dot-separated parts, each decimal, octal (leading 0) or hex (0x), the last filling the
 * remaining bytes, so `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` are all 127.0.0.1. A host
 * whose last label is a number but is no valid address is an invalid host there, never a name.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export type HostKind =
  /** An address; `address` is canonical: dotted quad, or RFC 5952 IPv6 (an IPv4-mapped one as its IPv4). */
  | { readonly _tag: 'ip'; readonly family: 4 | 6; readonly address: string }
  | { readonly _tag: 'name' }
  | { readonly _tag: 'invalid'; readonly reason: string }

/** Why an address is not a public one. */
export type SpecialRange =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'CGNAT'
  | 'metadata'
  | 'multicast'
  | 'reserved'

// -------------------------------------------------------------------------------------------------
// IPv4
// -------------------------------------------------------------------------------------------------

/** One part of a WHATWG IPv4 address; null: not a number in any of its notations. */
const ipv4Number = (part: string): number | null => {
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16)
  if (/^0[0-7]+$/.test(part)) return parseInt(part.slice(1), 8)
  if (/^(0|[1-9][0-9]*)$/.test(part)) return Number(part)
  return null
}

const endsInNumber = (labels: readonly string[]): boolean => {
  const last = labels[labels.length - 1] ?? ''
  return /^[0-9]+$/.test(last) || ipv4Number(last) !== null
}

export const dottedQuad = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')

/** The uint32 of an IPv4 host in any WHATWG notation; 'name' when it is no IPv4 at all; a reason when invalid. */
const parseIpv4 = (host: string): number | 'name' | string => {
  const labels = host.split('.')
  if (labels[labels.length - 1] === '' && labels.length > 1) labels.pop()
  if (!endsInNumber(labels)) return 'name'
  if (labels.length > 4) return `${host} ends in a number but has more than four parts`
  const numbers = labels.map(ipv4Number)
  if (numbers.some((n) => n === null)) return `${host} ends in a number but is not an IPv4 address`
  const ns = numbers as number[]
  const last = ns[ns.length - 1] as number
  if (ns.slice(0, -1).some((n) => n > 255) || last >= 256 ** (5 - ns.length)) return `${host} is out of range for an IPv4 address`
  const value = ns.slice(0, -1).reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last
  return value
}

// -------------------------------------------------------------------------------------------------
// IPv6
// -------------------------------------------------------------------------------------------------

/** Eight 16-bit groups, or null when the text is no IPv6 address (zone ids are refused: a name in disguise). */
export const ipv6Groups = (text: string): number[] | null => {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null
  let s = text
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) is two groups written another way.
  const dotted = /^(.*:)([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)$/.exec(s)
  if (dotted !== null) {
    const parts = (dotted[2] as string).split('.')
    if (parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) return null
    const [a, b, c, d] = parts.map(Number) as [number, number, number, number]
    s = `${dotted[1] as string}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  if (s.includes('.')) return null
  const halves = s.split('::')
  if (halves.length > 2) return null
  const group = (g: string): number | null => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : null)
  const side = (h: string): number[] | null => {
    if (h === '') return []
    const gs = h.split(':').map(group)
    return gs.some((g) => g === null) ? null : (gs as number[])
  }
  const head = side(halves[0] as string)
  const rest = halves.length === 2 ? side(halves[1] as string) : []
  if (head === null || rest === null) return null
  if (halves.length === 1) return head.length === 8 ? head : null
  const fill = 8 - head.length - rest.length
  if (fill < 1) return null
  return [...head, ...new Array<number>(fill).fill(0), ...rest]
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (2+) of zero groups as `::`. */
export const formatIpv6 = (groups: readonly number[]): string => {
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestAt = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestAt < 0) return hex.join(':')
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`
}

/** The IPv4 inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else null. */
const mappedIpv4 = (g: readonly number[]): number | null =>
  g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff ? (g[6] as number) * 65536 + (g[7] as number) : null

// -------------------------------------------------------------------------------------------------
// any host
// -------------------------------------------------------------------------------------------------

/**
 * What a host in a request is: an address (brackets allowed around IPv6; a trailing dot allowed
 * after IPv4, as clients accept it), a name, or neither. The address is canonical, so the
 * notations of one address compare equal.
 */
export const parseIpLiteral = (raw: string): HostKind => {
  const host = raw.toLowerCase()
  if (host.startsWith('[') || host.endsWith(']')) {
    const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : null
    const g = inner === null ? null : ipv6Groups(inner)
    if (g === null) return { _tag: 'invalid', reason: `${raw} is not an IPv6 address in brackets` }
    return ipv6Kind(g)
  }
  if (host.includes(':')) {
    const g = ipv6Groups(host)
    return g === null ? { _tag: 'invalid', reason: `${raw} is not an IPv6 address` } : ipv6Kind(g)
  }
  const v4 = parseIpv4(host)
  if (v4 === 'name') return { _tag: 'name' }
  if (typeof v4 === 'string') return { _tag: 'invalid', reason: v4 }
  return { _tag: 'ip', family: 4, address: dottedQuad(v4) }
}

const ipv6Kind = (g: readonly number[]): HostKind => {
  const mapped = mappedIpv4(g)
  // An IPv4-mapped address reaches the IPv4 one on a dual-stack socket: it is that address.
  return mapped === null ? { _tag: 'ip', family: 6, address: formatIpv6(g) } : { _tag: 'ip', family: 4, address: dottedQuad(mapped) }
}

// -------------------------------------------------------------------------------------------------
// ranges
// -------------------------------------------------------------------------------------------------

const inV4 = (n: number, base: string, bits: number): boolean => {
  const b = base.split('.').reduce((acc, p) => acc * 256 + Number(p), 0)
  const size = 2 ** (32 - bits)
  return Math.floor(n / size) === Math.floor(b / size)
}

const v4Range = (n: number): SpecialRange | null => {
  // Cloud metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254); Alibaba (100.100.100.200).
  if (n === 0xa9fea9fe || n === 0x646464c8) return 'metadata'
  if (inV4(n, '0.0.0.0', 8)) return 'unspecified'
  if (inV4(n, '127.0.0.0', 8)) return 'loopback'
  if (inV4(n, '10.0.0.0', 8) || inV4(n, '172.16.0.0', 12) || inV4(n, '192.168.0.0', 16)) return 'private'
  if (inV4(n, '169.254.0.0', 16)) return 'link-local'
  if (inV4(n, '100.64.0.0', 10)) return 'CGNAT'
  if (inV4(n, '224.0.0.0', 4)) return 'multicast'
  // 240/4 (reserved, broadcast), 192.0.0/24 (protocol assignments), 198.18/15 (benchmarking).
  if (inV4(n, '240.0.0.0', 4) || inV4(n, '192.0.0.0', 24) || inV4(n, '198.18.0.0', 15)) return 'reserved'
  return null
}

const v6Range = (g: readonly number[]): SpecialRange | null => {
  const [a = 0, b = 0] = g
  if (g.every((x) => x === 0)) return 'unspecified'
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback'
  // AWS's IPv6 metadata address, inside fc00::/7 but named for what it is.
  if (formatIpv6(g) === 'fd00:ec2::254') return 'metadata'
  if ((a & 0xfe00) === 0xfc00) return 'private'
  if ((a & 0xffc0) === 0xfe80) return 'link-local'
  if ((a & 0xffc0) === 0xfec0) return 'private' // site-local, deprecated but still routed by some
  if ((a & 0xff00) === 0xff00) return 'multicast'
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address a gateway forwards to.
  if (a === 0x64 && b === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Range((g[6] as number) * 65536 + (g[7] as number))
  if (a === 0x2002) return v4Range(b * 65536 + (g[2] as number))
  // The rest of ::/96 (IPv4-compatible, deprecated) and 100::/64 (discard).
  if (g.slice(0, 6).every((x) => x === 0) || (a === 0x100 && g.slice(1, 4).every((x) => x === 0))) return 'reserved'
  return null
}

/** Which non-public range an address is in; null for a public one (or text that is no address). */
export const specialRange = (address: string): SpecialRange | null => {
  const k = parseIpLiteral(address)
  if (k._tag !== 'ip') return null
  if (k.family === 4) return v4Range(k.address.split('.').reduce((acc, p) => acc * 256 + Number(p), 0))
  const g = ipv6Groups(k.address)
  return g === null ? null : v6Range(g)
}
