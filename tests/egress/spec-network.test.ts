// The network policy as the spec reads it: the manifest's `network`, `--allow`, the agent's
// hosts, the refusals (one line with the key path or the flag), and the launch record.
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { agentHosts, agentProfiles } from '../../src/bottle-spec/agent.js'
import { parseManifest } from '../../src/bottle-spec/manifest.js'
import { decodeLaunchRecord, launchRecordJson, recordOf, specHash } from '../../src/bottle-spec/record.js'
import { type BottleSpec, type SpecLayer, resolveSpec } from '../../src/bottle-spec/spec.js'
import { flagLayer } from '../../src/cli/spec-layers.js'
import { formatEntry } from '../../src/egress/policy.js'
import type { Flags } from '../../src/cli/request.js'

const manifestEntry = (yaml: string): E.Either<string, SpecLayer> => {
  const m = parseManifest('bottle.yaml', `bottles:\n  demo:\n${yaml.replace(/^/gm, '    ')}\n`, '/src/app')
  return E.isLeft(m) ? E.left(m.left.message) : E.right(m.right.bottles.demo ?? {})
}

const flags = (more: Partial<Flags>): Flags => ({ env: [], secret: [], format: 'text', pane: 'split', ...more })

const specOf = (yaml: string, more: Partial<Flags> = {}): E.Either<string, BottleSpec> => {
  const m = manifestEntry(yaml)
  if (E.isLeft(m)) return m
  const f = flagLayer(flags(more), '/src/app')
  if (E.isLeft(f)) return E.left(f.left.message)
  const s = resolveSpec({ name: 'demo', fromManifest: m.right, fromFlags: f.right, cwd: '/src/app' })
  return E.isLeft(s) ? E.left(s.left.message) : E.right(s.right)
}

const allowOf = (s: E.Either<string, BottleSpec>): string[] | string => {
  if (E.isLeft(s)) return `error: ${s.left}`
  return s.right.network.mode === 'egress' ? s.right.network.allow.map(formatEntry) : s.right.network.mode
}

const claudeHosts = ['api.anthropic.com:443', 'claude.ai:443', 'platform.claude.com:443']

describe('the network a bottle gets', () => {
  it.each([
    ['no network key: the agent profile’s hosts', 'image: node:22', {}, claudeHosts],
    ['codex: its API host', 'agent: codex', {}, ['api.openai.com:443']],
    ['a custom agent: none of its own', 'agent: aider', {}, []],
    [
      'network: {allow}: the profile’s hosts, then these, once each',
      'network:\n  allow: [registry.npmjs.org, "*.githubusercontent.com", "github.com:443", "10.1.2.3:5432", api.anthropic.com]',
      {},
      [...claudeHosts, 'registry.npmjs.org:443', '*.githubusercontent.com:443', 'github.com:443', '10.1.2.3:5432'],
    ],
    ['--allow adds to the list', 'network:\n  allow: [github.com]', { allow: ['db.internal:5432/private', '[::1]:8080'] }, [...claudeHosts, 'github.com:443', 'db.internal:5432/private', '[::1]:8080']],
    ['--allow alone adds to the profile’s', 'image: node:22', { allow: ['github.com'] }, [...claudeHosts, 'github.com:443']],
    ['network: open', 'network: open', {}, 'open'],
    ['network: default is open', 'network: default', {}, 'open'],
    ['network: none', 'network: none', {}, 'none'],
    ['network: host', 'network: host', {}, 'host'],
    ['--network open over a manifest allow-list', 'network:\n  allow: [github.com]', { network: 'open' }, 'open'],
  ] as const)('%s', (_label, yaml, more, expected) => {
    expect(allowOf(specOf(yaml, more as Partial<Flags>))).toStrictEqual(expected)
  })

  it.each([
    ['"*"', 'bottles.demo.network.allow[0]: "*" is too broad: it allows every host (use network: open for that)'],
    ['"*.com"', 'bottles.demo.network.allow[0]: "*.com" is too broad: com is a public suffix'],
    ['"*.co.uk"', 'bottles.demo.network.allow[0]: "*.co.uk" is too broad: co.uk is a public suffix'],
    ['"*.github.io"', 'bottles.demo.network.allow[0]: "*.github.io" is too broad: github.io is a public suffix'],
    ['co.uk', 'bottles.demo.network.allow[0]: "co.uk" is too broad: co.uk is a public suffix'],
    ['"*.internal"', 'bottles.demo.network.allow[0]: "*.internal" is too broad: internal is a top-level name'],
    ['""', 'bottles.demo.network.allow[0]: "": the host name is empty'],
    ['":443"', 'bottles.demo.network.allow[0]: ":443": the host name is empty'],
    ['"github.com:0"', 'bottles.demo.network.allow[0]: "github.com:0": the port must be a number from 1 to 65535'],
    ['"github.com:65536"', 'bottles.demo.network.allow[0]: "github.com:65536": the port must be a number from 1 to 65535'],
    ['"github.com:https"', 'bottles.demo.network.allow[0]: "github.com:https": the port must be a number from 1 to 65535'],
    ['10.0.0.0/8', 'bottles.demo.network.allow[0]: "10.0.0.0/8" is a range or a path: an entry is one host (CIDR ranges are not supported)'],
    ['"under_score.com"', 'bottles.demo.network.allow[0]: "under_score.com": "under_score.com" is not a host name (letters, digits and \'-\' in dot-separated labels)'],
    ['"https://github.com"', 'bottles.demo.network.allow[0]: "https://github.com" is a range or a path: an entry is one host (CIDR ranges are not supported)'],
    ['"::1"', 'bottles.demo.network.allow[0]: "::1": write an IPv6 address in brackets ([::1]:8080)'],
    ['"127.1"', 'bottles.demo.network.allow[0]: "127.1": write an IPv4 address as a dotted quad (127.0.0.1)'],
    ['"1.2.3.256"', 'bottles.demo.network.allow[0]: "1.2.3.256": 1.2.3.256 is out of range for an IPv4 address'],
    ['"a.*.com"', 'bottles.demo.network.allow[0]: "a.*.com": \'*\' may only stand alone as the first label (*.example.com)'],
    ['5432', 'bottles.demo.network.allow[0]: must be a host name or address (a string), not a number'],
  ])('refuses the entry %s, naming the file and key path', (entry, message) => {
    expect(allowOf(specOf(`network:\n  allow: [github.com]\n`.replace('[github.com]', `[${entry}]`)))).toBe(`error: bottle.yaml: ${message}`)
  })

  it.each([
    ['network: bridge', 'error: bottle.yaml: bottles.demo.network: must be one of open, none, host, default, not "bridge"'],
    ['network:\n  deny: [x.com]', 'error: bottle.yaml: bottles.demo.network.deny: unknown key (known: allow)'],
    ['network:\n  allow: github.com', 'error: bottle.yaml: bottles.demo.network.allow: must be a list of hosts, not a string'],
  ])('refuses %j', (yaml, message) => {
    expect(allowOf(specOf(yaml))).toBe(message)
  })

  it.each([
    [{ allow: ['*'] }, 'error: --allow: "*" is too broad: it allows every host (use network: open for that)'],
    [{ allow: ['x.com:99999'] }, 'error: --allow: "x.com:99999": the port must be a number from 1 to 65535'],
    [{ network: 'bridge' }, 'error: --network "bridge" must be one of open, none, host, default'],
  ])('refuses the flags %j in one line', (more, message) => {
    expect(allowOf(specOf('image: node:22', more))).toBe(message)
  })

  it('refuses --allow when the network is not the allow-list, rather than ignoring it', () => {
    expect(allowOf(specOf('network: host', { allow: ['github.com'] }))).toBe(
      'error: --allow needs the egress allow-list, but the network is host (leave out network, or give network: {allow: […]})',
    )
  })

  it.each([
    ['env:\n  HTTPS_PROXY: http://evil:3128', 'HTTPS_PROXY'],
    ['env:\n  http_proxy: http://evil:3128', 'http_proxy'],
    ['env:\n  Https_Proxy: http://evil:3128', 'Https_Proxy'],
    ['env:\n  ALL_PROXY: socks5://evil:1080', 'ALL_PROXY'],
    ['secrets: [HTTP_PROXY]', 'HTTP_PROXY'],
  ])('refuses a proxy variable in the env with an allow-list: %j', (yaml, key) => {
    expect(allowOf(specOf(yaml))).toBe(
      `error: env ${key} cannot be set in a bottle with an egress allow-list: the bottle's proxy is its only way out (network: open keeps your own proxy)`,
    )
  })

  it('keeps a proxy variable with network: open (the user’s own proxy)', () => {
    expect(allowOf(specOf('network: open\nenv:\n  HTTPS_PROXY: http://proxy:3128'))).toBe('open')
  })

  it('puts the effective list in the spec hash: another host, another hash; another order, the same', () => {
    const hashOf = (yaml: string, more: Partial<Flags> = {}) => {
      const s = specOf(yaml, more)
      if (E.isLeft(s)) throw new Error(s.left)
      return specHash(recordOf(s.right, 'node:22'))
    }
    const base = hashOf('network:\n  allow: [github.com, registry.npmjs.org]')
    expect(hashOf('network:\n  allow: [registry.npmjs.org, github.com]')).toBe(base)
    expect(hashOf('network:\n  allow: [github.com]', { allow: ['registry.npmjs.org'] })).toBe(base)
    expect(hashOf('network:\n  allow: [github.com, registry.npmjs.org, x.dev]')).not.toBe(base)
    expect(hashOf('network:\n  allow: [github.com, "registry.npmjs.org:8443"]')).not.toBe(base)
    expect(hashOf('network:\n  allow: [github.com, "registry.npmjs.org/private"]')).not.toBe(base)
    expect(hashOf('network: open')).not.toBe(hashOf('image: node:22'))
  })
})

describe('the launch record', () => {
  const launched = (yaml: string, more: Partial<Flags> = {}): BottleSpec => {
    const s = specOf(yaml, more)
    if (E.isLeft(s)) throw new Error(s.left)
    return s.right
  }

  it('keeps the effective list, and a later op compiles from it without adding profile hosts again', () => {
    const spec = launched('network:\n  allow: [github.com]', { allow: ['db.internal:5432/private'] })
    const layer = decodeLaunchRecord(launchRecordJson('bwrap', spec), 'bwrap', 'demo')
    if (E.isLeft(layer)) throw new Error(layer.left)
    expect(layer.right.network).toStrictEqual(spec.network)
    // Another agent now (a flag on exec): the record's list stays as launched.
    const again = resolveSpec({ name: 'demo', fromManifest: layer.right, fromFlags: { agent: agentProfiles.codex }, cwd: '/src/app' })
    if (E.isLeft(again)) throw new Error(again.left.message)
    expect(again.right.network).toStrictEqual(spec.network)
    expect(again.right.network.mode === 'egress' && again.right.network.allow.some((e) => e.host === 'api.openai.com')).toBe(false)
  })

  it.each([
    ['default', { mode: 'open' }],
    ['none', { mode: 'none' }],
    ['host', { mode: 'host' }],
  ])('reads the first format’s network word %s', (word, setting) => {
    const text = launchRecordJson('bwrap', launched('network: open')).replace('"network":{"mode":"open"}', `"network":"${word}"`)
    const layer = decodeLaunchRecord(text, 'bwrap', 'demo')
    expect(E.isRight(layer) && layer.right.network).toStrictEqual(setting)
  })

  it.each([
    ['a wildcard too broad', { host: '*.com', port: 443, private: false }],
    ['a port out of range', { host: 'github.com', port: 70000, private: false }],
    ['an upper-case host', { host: 'GitHub.com', port: 443, private: false }],
    ['an IP address not marked private', { host: '10.1.2.3', port: 443, private: false }],
  ])('refuses a record whose allow-list has %s (the file is read back from disk)', (_label, entry) => {
    const spec = launched('image: node:22')
    const text = launchRecordJson('bwrap', { ...spec, network: { mode: 'egress', allow: [...agentHosts(agentProfiles.claude), entry] } })
    const layer = decodeLaunchRecord(text, 'bwrap', 'demo')
    expect(E.isLeft(layer) && layer.left).toMatch(/^the launch record's allow-list has an entry bottle does not write: /)
  })
})
