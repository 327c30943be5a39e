/**
 * The egress policy: which hosts an agent may reach through the bottle's one door (the proxy).
 *
 *   parseEntry('github.com')            // right({ host: 'github.com', port: 443, private: false })
 *   parseEntry('db.internal:5432/private') // right({ host: 'db.internal', port: 5432, private: true })
 *   parseEntry('*.com')                 // left('"*.com" is too broad: com is a public suffix')
 *   formatEntry({ host: '::1', port: 8080, private: true })   // '[::1]:8080'
 *   decide(allow, { host: 'github.com', port: 443 }, ['140.82.112.3'])  // { ok: true, address: '140.82.112.3' }
 *
 * Entry syntax (manifest `network: {allow: […]}` and `--allow`): an exact host name, `*.domain`
 * (subdomains only, not the domain itself), an IPv4 dotted quad or an IPv6 address in brackets,
 * each with an optional `:PORT` (443 without one). A `/private` suffix lets a NAME that resolves
 * to a loopback, private, link-local, CGNAT or cloud-metadata address through; an entry that IS
 * such an address names it on purpose and needs no suffix.
 */
import * as E from 'fp-ts/lib/Either.js'
import { type SpecialRange, parseIpLiteral, specialRange } from './address.js'

// -------------------------------------------------------------------------------------------------
// model (the contract between the spec, the plan compiler and the proxy)
// -------------------------------------------------------------------------------------------------

export interface AllowEntry {
  /** Lower case: a DNS name, `*.domain`, a dotted quad, or a canonical IPv6 address (no brackets). */
  readonly host: string
  /** 1–65535; 443 when the entry gave none. */
  readonly port: number
  /** A name may resolve to a loopback/private/link-local/CGNAT/metadata address; true for such an address itself. */
  readonly private: boolean
}

/** What `BottleSpec.network` is; `egress.allow` is the effective list (profile hosts + manifest + `--allow`). */
export type NetworkSetting =
  | { readonly mode: 'open' }
  | { readonly mode: 'none' }
  | { readonly mode: 'host' }
  | { readonly mode: 'egress'; readonly allow: readonly AllowEntry[] }

export type NetworkMode = NetworkSetting['mode']

/** The words the manifest's `network` and `--network` take (`default` is the old name of `open`). */
export const networkWords = ['open', 'none', 'host', 'default'] as const
export type NetworkWord = (typeof networkWords)[number]

export const defaultPort = 443
export const privateSuffix = '/private'

export type Decision = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly rule: string }

// -------------------------------------------------------------------------------------------------
// entries
// -------------------------------------------------------------------------------------------------

/**
 * Suffixes under which anyone can register a name, so `*.SUFFIX` or SUFFIX alone allows the
 * world. A small built-in list of the common ones (not the whole Public Suffix List): any single
 * label is refused as a wildcard base anyway, so this list matters for the two-label ones.
 */
export const publicSuffixes: ReadonlySet<string> = new Set([
  'com', 'net', 'org', 'io', 'dev', 'app', 'ai', 'co', 'me', 'info', 'biz', 'xyz', 'cloud', 'sh', 'edu', 'gov',
  'uk', 'de', 'fr', 'nl', 'eu', 'us', 'ca', 'au', 'jp', 'cn', 'in', 'br', 'ru', 'ch', 'se', 'it', 'es', 'pl',
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'ltd.uk', 'plc.uk', 'com.au', 'net.au', 'org.au', 'co.jp',
  'ne.jp', 'or.jp', 'com.cn', 'net.cn', 'org.cn', 'com.br', 'co.in', 'co.nz', 'co.za', 'com.mx', 'com.tr', 'co.kr',
  'com.tw', 'com.hk', 'com.sg',
  // Hosting suffixes where every subdomain is someone else's.
  'github.io', 'gitlab.io', 'herokuapp.com', 'vercel.app', 'netlify.app', 'pages.dev', 'workers.dev',
  'web.app', 'firebaseapp.com', 'appspot.com', 'azurewebsites.net', 'cloudfront.net', 'ngrok.io', 'ngrok-free.app',
])

const labelRule = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** A DNS name as HTTP clients send it: LDH labels, 253 characters at most; a trailing dot is dropped. */
export const hostName = (raw: string): E.Either<string, string> => {
  const name = raw.toLowerCase().replace(/\.$/, '')
  if (name === '') return E.left('the host name is empty')
  if (name.length > 253) return E.left(`${JSON.stringify(raw)} is longer than 253 characters`)
  if (!name.split('.').every((l) => labelRule.test(l)))
    return E.left(`${JSON.stringify(raw)} is not a host name (letters, digits and '-' in dot-separated labels)`)
  return E.right(name)
}

const tooBroad = (domain: string): boolean => publicSuffixes.has(domain) || !domain.includes('.')

/**
 * One allow-list entry, from its text. Left is a message without a location: the caller puts
 * the key path or the flag in front.
 */
export const parseEntry = (text: string): E.Either<string, AllowEntry> => {
  const shown = JSON.stringify(text)
  const marked = text.endsWith(privateSuffix)
  const body = marked ? text.slice(0, -privateSuffix.length) : text
  if (body.includes('/')) return E.left(`${shown} is a range or a path: an entry is one host (CIDR ranges are not supported)`)
  let hostText: string
  let portText: string | null = null
  if (body.startsWith('[')) {
    const close = body.indexOf(']')
    if (close < 0) return E.left(`${shown} has no closing ']'`)
    hostText = body.slice(0, close + 1)
    const rest = body.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return E.left(`${shown}: only :PORT may follow the address`)
      portText = rest.slice(1)
    }
  } else {
    const colons = body.split(':').length - 1
    if (colons > 1) return E.left(`${shown}: write an IPv6 address in brackets ([::1]:8080)`)
    const i = body.indexOf(':')
    hostText = i < 0 ? body : body.slice(0, i)
    portText = i < 0 ? null : body.slice(i + 1)
  }
  let port = defaultPort
  if (portText !== null) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      return E.left(`${shown}: the port must be a number from 1 to 65535`)
    port = Number(portText)
  }
  if (hostText === '') return E.left(`${shown}: the host name is empty`)
  if (hostText === '*') return E.left(`${shown} is too broad: it allows every host (use network: open for that)`)
  if (hostText.startsWith('*.')) {
    const domain = hostName(hostText.slice(2))
    if (E.isLeft(domain)) return E.left(`${shown}: ${domain.left}`)
    if (parseIpLiteral(domain.right)._tag !== 'name') return E.left(`${shown}: a wildcard needs a domain name, not an address`)
    if (tooBroad(domain.right))
      return E.left(`${shown} is too broad: ${domain.right} is ${publicSuffixes.has(domain.right) ? 'a public suffix' : 'a top-level name'}`)
    return E.right({ host: `*.${domain.right}`, port, private: marked })
  }
  if (hostText.includes('*')) return E.left(`${shown}: '*' may only stand alone as the first label (*.example.com)`)
  const kind = parseIpLiteral(hostText)
  if (kind._tag === 'invalid') return E.left(`${shown}: ${kind.reason}`)
  if (kind._tag === 'ip') {
    const bracketed = hostText.startsWith('[')
    if (kind.family === 6 && !bracketed) return E.left(`${shown}: write an IPv6 address in brackets ([::1]:8080)`)
    // An IPv4 entry is written as a dotted quad: `127.1` or `0x7f000001` would be a surprise to the reader.
    if (kind.family === 4 && (bracketed || kind.address !== hostText))
      return E.left(`${shown}: write an IPv4 address as a dotted quad (${kind.address})`)
    return E.right({ host: kind.address, port, private: specialRange(kind.address) !== null })
  }
  const name = hostName(hostText)
  if (E.isLeft(name)) return E.left(`${shown}: ${name.left}`)
  if (publicSuffixes.has(name.right)) return E.left(`${shown} is too broad: ${name.right} is a public suffix`)
  return E.right({ host: name.right, port, private: marked })
}

const isIpv6 = (host: string): boolean => host.includes(':')
const isIp = (host: string): boolean => parseIpLiteral(host)._tag === 'ip'

/** The entry's text, which parseEntry reads back to the same entry: `github.com:443`, `[::1]:8080`, `db:5432/private`. */
export const formatEntry = (e: AllowEntry): string =>
  `${isIpv6(e.host) ? `[${e.host}]` : e.host}:${e.port}${e.private && !isIp(e.host) ? privateSuffix : ''}`

/** Entries in their first order, each (host, port) once; a later `/private` widens an earlier plain one. */
export const mergeEntries = (lists: readonly (readonly AllowEntry[])[]): AllowEntry[] => {
  const out: AllowEntry[] = []
  for (const list of lists)
    for (const e of list) {
      const i = out.findIndex((o) => o.host === e.host && o.port === e.port)
      if (i < 0) out.push(e)
      else if (e.private && !(out[i] as AllowEntry).private) out[i] = { ...(out[i] as AllowEntry), private: true }
    }
  return out
}

/** `--network WORD` or `network: WORD`; `default` is the old name of `open`. */
export const settingOfWord = (word: NetworkWord): NetworkSetting => ({ mode: word === 'default' ? 'open' : word })

export const isNetworkWord = (s: string): s is NetworkWord => (networkWords as readonly string[]).includes(s)

/** What `network: open` (or its old name `default`) means, for the plan's notes. */
export const openNetworkNote =
  'network: open (default is its old name): the backend\'s own network (docker and podman: a bridge to anywhere; bwrap and smolvm: none), with no allow-list'

/** `egress: 4 allowed`-style text for ls and notes; `open`, `none`, `host` for the others. */
export const describeNetwork = (n: NetworkSetting): string =>
  n.mode === 'egress' ? `egress: ${n.allow.length} allowed` : n.mode

/**
 * One text per setting, for the spec record and its hash: the mode, or `allow` and the sorted
 * entries, so a changed list is drift and a reordered one is not.
 */
export const networkText = (n: NetworkSetting): string =>
  n.mode === 'egress' ? ['allow', ...n.allow.map(formatEntry).sort()].join(' ') : n.mode

/** What networkText writes: a mode, or `allow` and entries (checked again by parseEntry where it matters). */
export const networkTextRule = /^(open|none|host|default|allow( [^\s]+)*)$/

// -------------------------------------------------------------------------------------------------
// the matcher
// -------------------------------------------------------------------------------------------------

const matchesName = (entry: string, name: string): boolean =>
  entry.startsWith('*.') ? name.endsWith(entry.slice(1)) && name.length > entry.length - 1 : entry === name

const rangeWords: Readonly<Record<SpecialRange, string>> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private address',
  'link-local': 'a link-local address',
  CGNAT: 'a CGNAT address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
}

/**
 * Whether the proxy should resolve the request's host before deciding: only a name an entry
 * matches. A name off the list is refused without a lookup, so a DNS query carries nothing out.
 */
export const needsLookup = (allow: readonly AllowEntry[], request: { readonly host: string; readonly port: number }): string | null => {
  if (parseIpLiteral(request.host)._tag !== 'name') return null
  const name = hostName(request.host)
  if (E.isLeft(name)) return null
  return allow.some((e) => e.port === request.port && !isIp(e.host) && matchesName(e.host, name.right)) ? name.right : null
}

/**
 * Whether the proxy may connect for `request`, and to which address. Pure: the proxy resolves the
 * name and passes every address it got.
 *
 * - An IP literal (any notation, normalised first) passes only when an entry names that address
 *   and port; the name's resolution plays no part.
 * - A name passes when an entry matches it (exactly, or `*.domain` for a subdomain) with the port.
 *   Then EVERY resolved address must be public, unless a matching entry is `/private`: one
 *   refused address among public ones refuses the request, rather than quietly picking another
 *   (a name that mixes them is a rebinding trick or a misconfiguration, either worth seeing).
 *   The address returned is the first resolved one, and the only one the proxy may connect to.
 */
export const decide = (
  allow: readonly AllowEntry[],
  request: { readonly host: string; readonly port: number },
  resolved: readonly string[],
): Decision => {
  const { port } = request
  const kind = parseIpLiteral(request.host)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, rule: `port ${port} is out of range` }
  if (kind._tag === 'invalid') return { ok: false, rule: `not a host: ${kind.reason}` }
  if (kind._tag === 'ip') {
    const shown = formatEntry({ host: kind.address, port, private: true })
    return allow.some((e) => e.host === kind.address && e.port === port)
      ? { ok: true, address: kind.address }
      : { ok: false, rule: `IP address ${shown} is not on the allow-list (an entry must name the address)` }
  }
  const name = hostName(request.host)
  if (E.isLeft(name)) return { ok: false, rule: `not a host: ${name.left}` }
  const target = `${name.right}:${port}`
  const matching = allow.filter((e) => e.port === port && !isIp(e.host) && matchesName(e.host, name.right))
  if (matching.length === 0) return { ok: false, rule: `${target} is not on the allow-list` }
  const mayBePrivate = matching.some((e) => e.private)
  if (resolved.length === 0) return { ok: false, rule: `${target} did not resolve to any address` }
  const addresses: string[] = []
  for (const r of resolved) {
    const k = parseIpLiteral(r)
    if (k._tag !== 'ip') return { ok: false, rule: `${target} resolved to ${JSON.stringify(r)}, which is not an address` }
    const range = specialRange(k.address)
    if (range !== null && !mayBePrivate)
      return {
        ok: false,
        rule: `${target} resolves to ${k.address}, ${rangeWords[range]}: allow it with the entry ${formatEntry({ host: matching[0]?.host ?? name.right, port, private: true })}`,
      }
    addresses.push(k.address)
  }
  return { ok: true, address: addresses[0] as string }
}
