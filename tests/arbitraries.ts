/**
 * Generators for the property suites: hostile strings, and valid inputs built from them.
 *
 *   fc.sample(nastyStringArb, 3)   // [`$(id)'"😀`, '-u', 'claude\n--é']
 *   fc.sample(scenarioArb, 1)      // [{ spec: BottleSpec, op: BottleOperation, host: HostFacts }]
 *
 * fc.string() is printable ASCII and almost never yields a quote, so everything user-controlled
 * here is built from fragments that break naive quoting, argv searching and flag parsing.
 */
import { fc } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import type { BwrapFacts, HostFacts, Ids } from '../src/backends/backend.js'
import { paneModes } from '../src/attach.js'
import type { BottleOperation } from '../src/plan/operation.js'
import { type AgentProfile, agentProfiles, customProfile } from '../src/bottle-spec/agent.js'
import { type BottleSpec, resolveSpec } from '../src/bottle-spec/spec.js'
import type { NetworkSetting } from '../src/egress/policy.js'

// -------------------------------------------------------------------------------------------------
// nasty strings
// -------------------------------------------------------------------------------------------------

/** Characters and words that break shells, flag parsers, `SRC:DST` splitting and `indexOf('claude')` tricks. */
const nastyFragments = [
  "'", '"', '\\', '$', '$(id)', '`', ';', '|', '&', '*', '~', '!', '#',
  ' ', '\n', '\t', 'é', '😀', '--', '-u', 'claude', '=', ':',
] as const

/** Any one code point except NUL and lone surrogates: shifting past the surrogate block keeps it a generator option. */
const anyCodePointArb = fc
  .integer({ min: 1, max: 0x10ffff - 0x800 })
  .map((n) => String.fromCodePoint(n >= 0xd800 ? n + 0x800 : n))

const fragmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...nastyFragments) },
  { weight: 2, arbitrary: anyCodePointArb },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 4 }) },
)

/** A hostile string of at least `minLength` UTF-16 units (every fragment is at least one). */
export const nastyString = ({ minLength = 0, maxFragments = 8 } = {}): fc.Arbitrary<string> =>
  fc.array(fragmentArb, { minLength, maxLength: Math.max(minLength, maxFragments) }).map((parts) => parts.join(''))

/** The exact troublemakers, often, plus fragment soup. */
export const nastyStringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('claude', '--', '-u', ';', '') },
  { weight: 4, arbitrary: nastyString() },
)

// -------------------------------------------------------------------------------------------------
// names
// -------------------------------------------------------------------------------------------------

// HOME and USER belong to the user switch; the spec rejects them as env keys.
const reservedKeys = new Set(['HOME', 'USER'])

export const envKeyArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom('claude', 'CLAUDE', 'CLAUDE_CODE_OAUTH_TOKEN', '_', 'u', 'PATH', 'SHELL'),
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/),
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{40,80}$/),
  )
  .map((k) => (reservedKeys.has(k) ? `${k}_` : k))

/** A secret's name: an env key, but not `_`, which shells overwrite, nor `bottle_…`, a sh script's own (the spec rejects both). */
export const secretNameArb: fc.Arbitrary<string> = envKeyArb.map((k) => (k === '_' ? '_S' : k.startsWith('bottle_') ? `S${k}` : k))

/** Env entries with nasty values, and secret names; no key is both (the spec forbids it). */
export const envAndSecretsArb = fc
  .record({
    keys: fc.uniqueArray(envKeyArb, { maxLength: 8 }),
    split: fc.nat(),
    values: fc.array(nastyStringArb, { minLength: 8, maxLength: 8 }),
  })
  .map(({ keys, split, values }) => {
    const n = split % (keys.length + 1)
    return {
      env: keys.slice(0, n).map((k, i): readonly [string, string] => [k, values[i] ?? '']),
      // `_` is a fine env key but no secret name; dropping it keeps the keys disjoint.
      secrets: keys.slice(n).filter((k) => k !== '_'),
    }
  })

export const userArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('claude', 'root', 'node', '_'),
  fc.stringMatching(/^[a-z_][a-z0-9_-]{0,31}$/),
)

/**
 * Valid for smolvm (no `--`, no trailing `-`), docker (at least two characters) and kubernetes
 * (a DNS-1123 label: no `_`) alike.
 */
export const bottleNameArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('claude', 'demo'),
  fc.stringMatching(/^[a-z0-9][a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}$/),
)

// -------------------------------------------------------------------------------------------------
// kubernetes fields (the other backends ignore them)
// -------------------------------------------------------------------------------------------------

/** Kubeconfig context names are free text (EKS uses ARNs): anything but control characters. */
export const kubeContextArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('lab', 'kind-kind', 'arn:aws:eks:eu-west-1:123456789012:cluster/agents', 'alice@prod', '-n', '--context'),
  nastyString({ minLength: 1 }).map((s) => s.replace(/[\u0000-\u001f\u007f]/g, '_')),
)

export const kubeNamespaceArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('default', 'agents', 'claude'),
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/),
)

const resourceListArb = fc.uniqueArray(
  fc.tuple(
    fc.constantFrom('cpu', 'memory', 'ephemeral-storage', 'nvidia.com/gpu'),
    fc.constantFrom('500m', '2', '0.5', '.5', '1Gi', '512Mi', '1e3', '1E'),
  ),
  { selector: ([name]) => name, maxLength: 3 },
)

export const resourcesArb = fc.record({ requests: resourceListArb, limits: resourceListArb })

// -------------------------------------------------------------------------------------------------
// paths
// -------------------------------------------------------------------------------------------------

// Host directories smolvm refuses to share (src/backends/smolvm.ts); never a workdir.
const systemDirs = new Set(['/', '/etc', '/usr', '/proc', '/sys', '/dev', '/boot', '/bin', '/sbin', '/lib'])

/**
 * An absolute path of nasty segments, already in the spec's normal form (no empty, `.` or `..`
 * segment, no trailing `/`), so the spec keeps it as generated. `colons: false` for paths a
 * backend binds with `-v SRC:DST`.
 */
export const absolutePathArb = ({ colons }: { colons: boolean }): fc.Arbitrary<string> =>
  fc
    .array(
      nastyStringArb.map((s) => {
        const seg = s.replace(colons ? /\//g : /[/:]/g, '_')
        return seg === '' || seg === '.' || seg === '..' ? `d${seg}` : seg
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((segs) => `/${segs.join('/')}`)

/**
 * Not a system directory, and not where bwrap mounts the bottle's own home and prompt (under
 * /home, /root and /tmp): a workdir covering those is refused (src/backends/bwrap.ts).
 */
export const workdirArb: fc.Arbitrary<string> = absolutePathArb({ colons: false })
  .map((p) => (systemDirs.has(p) ? `${p}_project` : p))
  .map((p) => (/^\/(home|root|tmp)(\/|$)/.test(p) ? `/src${p}` : p))

// -------------------------------------------------------------------------------------------------
// agent profiles
// -------------------------------------------------------------------------------------------------

/**
 * An agent command the spec accepts: any word but empty, `-…` or NUL. `slash: false` leaves `/`
 * out, for a command that must be a file name (the stand-ins of the shell round trip); `.` and
 * `..` are never file names.
 */
export const agentCommandArb = ({ slash }: { slash: boolean }): fc.Arbitrary<string> =>
  fc
    .oneof(
      // Shell builtins and reserved words: the resume script must still run the program.
      { weight: 1, arbitrary: fc.constantFrom('claude', 'codex', 'test', 'echo', 'exit', 'if', 'time', '[', 'x;', ';', 'a=b') },
      { weight: 3, arbitrary: nastyString({ minLength: 1 }) },
    )
    .map((s) => (slash ? s : s.replace(/\//g, '_')))
    .map((s) => (s.startsWith('-') || s === '.' || s === '..' ? `a${s}` : s))

/** A custom profile; it can always resume (a profile without continueArgs is an example test). */
export const customProfileArb = ({ slash }: { slash: boolean }): fc.Arbitrary<AgentProfile> =>
  fc
    .record({
      command: agentCommandArb({ slash }),
      promptFlag: fc.option(nastyString({ minLength: 1 }), { nil: null }),
      continueArgs: fc.array(nastyStringArb, { minLength: 1, maxLength: 3 }),
      refusesRoot: fc.boolean(),
    })
    .map((fields) => {
      const p = customProfile(fields)
      if (E.isLeft(p)) throw new Error(`customProfileArb made an invalid profile: ${p.left.message}`)
      return p.right
    })

/** Every built-in profile, and custom ones with hostile commands, flags and resume words. */
export const agentProfileArb: fc.Arbitrary<AgentProfile> = fc.oneof(
  fc.constantFrom(...Object.values(agentProfiles)),
  customProfileArb({ slash: true }),
)

// -------------------------------------------------------------------------------------------------
// spec, operation, host
// -------------------------------------------------------------------------------------------------

/** Throws: a Left here means the generator made invalid input, a bug in this file. */
const resolved = (input: Parameters<typeof resolveSpec>[0]): BottleSpec => {
  const spec = resolveSpec(input)
  if (E.isLeft(spec)) throw new Error(`specArb made an invalid spec: ${spec.left.message}`)
  return spec.right
}

/** A valid BottleSpec for every backend, through the same resolveSpec the CLI uses. */
export const specArb: fc.Arbitrary<BottleSpec> = fc
  .record({
    name: bottleNameArb,
    image: fc.option(fc.constantFrom('node:22', 'ghcr.io/acme/agent:1.2', 'debian@sha256:0123abcd'), { nil: undefined }),
    user: fc.option(userArb, { nil: undefined }),
    workdir: workdirArb,
    envAndSecrets: envAndSecretsArb,
    prompt: fc.option(absolutePathArb({ colons: true }), { nil: undefined }),
    agent: fc.option(agentProfileArb, { nil: undefined }),
    allowRoot: fc.option(fc.boolean(), { nil: undefined }),
    network: fc.option(
      fc.constantFrom<NetworkSetting>(
        { mode: 'open' },
        { mode: 'none' },
        { mode: 'host' },
        { mode: 'egress', allow: [] },
        { mode: 'egress', allow: [{ host: 'registry.npmjs.org', port: 443, private: false }, { host: '10.1.2.3', port: 5432, private: true }] },
      ),
      { nil: undefined },
    ),
    context: fc.option(kubeContextArb, { nil: undefined }),
    namespace: fc.option(kubeNamespaceArb, { nil: undefined }),
    resources: fc.option(resourcesArb, { nil: undefined }),
  })
  .map(({ name, user, workdir, envAndSecrets, prompt, agent, allowRoot, ...manifest }) => {
    const profile = agent ?? agentProfiles.claude
    // The two profile rules that are compile errors (tested as examples): a prompt needs a
    // prompt flag, and root needs allow_root for an agent that refuses it.
    const rootRefused = profile.refusesRoot && user === 'root' && allowRoot !== true
    return resolved({
      name,
      fromManifest: {
        ...manifest,
        ...envAndSecrets,
        ...(agent === undefined ? {} : { agent }),
        ...(prompt === undefined || profile.promptFlag === null ? {} : { prompt }),
        ...(allowRoot === undefined && !rootRefused ? {} : { allowRoot: allowRoot === true || rootRefused }),
      },
      fromFlags: { user },
      // The workdir defaults to the current directory: the CLI's usual case.
      cwd: workdir,
    })
  })

const ttyArb = fc.option(fc.boolean(), { nil: null })
const agentArgsArb = fc.array(nastyStringArb, { maxLength: 5 })

/** attach: every pane mode, targets tmux may or may not know, with or without resume. */
export const attachOpArb = fc.record({
  _tag: fc.constant('attach' as const),
  pane: fc.constantFrom(...paneModes),
  // A pane id, a session:window, or anything else (tmux decides whether it names a pane).
  target: fc.option(fc.oneof(fc.constantFrom('%3', 'main:1.0', 'x;'), nastyString({ minLength: 1 })), { nil: null }),
  resume: fc.boolean(),
  args: agentArgsArb,
})

/** Every operation on one bottle (`ls` names none and has its own compiler). */
export const operationArb: fc.Arbitrary<BottleOperation> = fc.oneof(
  fc.constant({ _tag: 'launch' as const }),
  fc.record({ _tag: fc.constant('agent' as const), args: agentArgsArb, tty: ttyArb }),
  fc.record({ _tag: fc.constant('exec' as const), script: nastyStringArb, user: fc.option(userArb, { nil: null }) }),
  fc.record({ _tag: fc.constant('shell' as const), tty: ttyArb }),
  fc.record({
    _tag: fc.constant('cp' as const),
    source: absolutePathArb({ colons: true }),
    dest: absolutePathArb({ colons: true }),
  }),
  fc.record({ _tag: fc.constant('resume' as const), args: agentArgsArb, tty: ttyArb }),
  attachOpArb,
  // What the manifest says today: any valid spec (update takes only its live fields), and the
  // record file as read (its hash is all the plan keeps of it).
  fc.record({ _tag: fc.constant('update' as const), declared: specArb, recordText: nastyStringArb }),
  fc.constant({ _tag: 'down' as const }),
)

/** What the host says about bwrap, beyond what follows from the operation. */
interface BwrapFactsDraw {
  readonly stateDir: string
  readonly binary: string
  readonly term: string | null
  /** The spec user's ids in the rootfs passwd; null: not listed there (so 1000:1000). */
  readonly ids: Ids | null
  /** A prompt file left in the state directory although the spec names none now. */
  readonly strayPrompt: boolean
}

const bwrapDrawArb: fc.Arbitrary<BwrapFactsDraw> = fc.record({
  stateDir: absolutePathArb({ colons: true }),
  binary: fc.constantFrom('/usr/bin/bwrap', 'bwrap'),
  term: fc.option(fc.constantFrom('xterm-256color', 'screen', 'dumb'), { nil: null }),
  ids: fc.option(fc.record({ uid: fc.nat(70000), gid: fc.nat(70000) }), { nil: null }),
  strayPrompt: fc.boolean(),
})

/** A Debian 12 host's root as bwrap facts see it: merged /usr, /opt present. */
export const debianSystem: BwrapFacts['system'] = [
  { path: '/usr', kind: 'dir' },
  { path: '/bin', kind: 'symlink', target: 'usr/bin' },
  { path: '/sbin', kind: 'symlink', target: 'usr/sbin' },
  { path: '/lib', kind: 'symlink', target: 'usr/lib' },
  { path: '/lib64', kind: 'symlink', target: 'usr/lib64' },
  { path: '/etc', kind: 'dir' },
  { path: '/opt', kind: 'dir' },
]

/** The facts that do not depend on the bottle: where bottle keeps state, the root's layout. */
export const bwrapBaseFacts = (stateDir: string, more: Partial<BwrapFacts> = {}): BwrapFacts => ({
  stateDir,
  binary: '/usr/bin/bwrap',
  term: null,
  script: '/usr/bin/script',
  stateRoot: stateDir.slice(0, Math.max(1, stateDir.lastIndexOf('/'))),
  hostHome: '/home/me',
  system: debianSystem,
  rootOnlyScan: [],
  resolvConf: null,
  bottle: null,
  ...more,
})

/**
 * bwrap's facts for an input: the bottle exists except for launch, with its prompt if it has one.
 * Every user the op names is in the rootfs passwd (with the drawn ids), except the default user
 * `node` when no ids are drawn, which bwrap runs as 1000:1000.
 */
export const bwrapFactsFor = (spec: BottleSpec, op: BottleOperation, draw: BwrapFactsDraw): BwrapFacts => {
  const launched = op._tag !== 'launch'
  const users = [spec.user, ...(op._tag === 'exec' && op.user !== null ? [op.user] : [])]
  const ids = draw.ids
  return bwrapBaseFacts(draw.stateDir, {
    binary: draw.binary,
    term: draw.term,
    bottle: {
      launched,
      promptInstalled: launched && (spec.prompt !== null || draw.strayPrompt),
      unsafe: null,
      users,
      accounts: Object.fromEntries(users.flatMap((u) => (ids !== null ? [[u, ids]] : u === 'node' || u === 'root' ? [] : [[u, { uid: 1000, gid: 1000 }]]))),
    },
  })
}

/** The host facts an input needs: the prompt is a file, the cp source a file or a directory. */
export const hostFor = (
  spec: BottleSpec,
  op: BottleOperation,
  facts: { stdinIsTTY: boolean; tmpdir: string; sourceKind: 'file' | 'dir'; uid: number; bwrap: BwrapFactsDraw },
): HostFacts => ({
  cwd: spec.workdir,
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: facts.stdinIsTTY,
  // The prompt wins a clash: a cp of the prompt's own path copies that file.
  pathKinds: {
    ...(op._tag === 'cp' ? { [op.source]: facts.sourceKind } : {}),
    ...(op._tag === 'update' && op.declared.prompt !== null ? { [op.declared.prompt]: 'file' as const } : {}),
    ...(spec.prompt === null ? {} : { [spec.prompt]: 'file' as const }),
  },
  tmpdir: facts.tmpdir,
  uid: facts.uid,
  bwrap: bwrapFactsFor(spec, op, facts.bwrap),
  // What the CLI passes for an op on one bottle: the spec's own cluster.
  cluster: { context: spec.context, namespace: spec.namespace },
})

const hostFactsArb = fc.record({
  stdinIsTTY: fc.boolean(),
  // smolvm stages files under tmpdir and refuses a tmpdir with ":" (a Left, tested on its own).
  tmpdir: fc.oneof(fc.constant('/tmp'), absolutePathArb({ colons: false })),
  sourceKind: fc.constantFrom('file' as const, 'dir' as const),
  // Root or not: podman adds --userns=keep-id only when rootless.
  uid: fc.constantFrom(0, 1000),
  bwrap: bwrapDrawArb,
})

/** HostFacts for a given spec and operation. */
export const hostArb = (spec: BottleSpec, op: BottleOperation): fc.Arbitrary<HostFacts> =>
  hostFactsArb.map((facts) => hostFor(spec, op, facts))

export interface Scenario {
  readonly spec: BottleSpec
  readonly op: BottleOperation
  readonly host: HostFacts
}

/** A valid (spec, op, host) triple; a record rather than a chain, so it shrinks well. */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ spec: specArb, op: operationArb, facts: hostFactsArb })
  .map(({ spec, op, facts }) => ({ spec, op, host: hostFor(spec, op, facts) }))

/** The same scenario with another operation: bwrap's bottle exists for every op but launch. */
export const withOp = (s: Scenario, op: BottleOperation): Scenario => {
  const facts = s.host.bwrap
  const bottle = facts?.bottle
  if (facts === null || bottle === null || bottle === undefined) return { ...s, op }
  const launched = op._tag !== 'launch'
  return {
    ...s,
    op,
    host: { ...s.host, bwrap: { ...facts, bottle: { ...bottle, launched, promptInstalled: launched && (bottle.promptInstalled || s.spec.prompt !== null) } } },
  }
}

/** Facts for tests that need a fixed host: no TTY, /tmp, a launched bwrap bottle with its prompt. */
export const fixedHost = (spec: BottleSpec, op: BottleOperation, stdinIsTTY = false): HostFacts =>
  hostFor(spec, op, {
    stdinIsTTY,
    tmpdir: '/tmp',
    sourceKind: 'file',
    uid: 1000,
    bwrap: { stateDir: '/home/me/.local/state/bottle/bwrap', binary: '/usr/bin/bwrap', term: 'xterm', ids: null, strayPrompt: false },
  })

/** Where a rootfs directory stands in for the image references the generators make. */
export const rootfsForBwrap = '/srv/rootfs'

/** Facts for listing (ls and down --all name no bottle): bwrap's state directory; kubectl's current context. */
export const listingHost: HostFacts = {
  cwd: '/home/me',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: false,
  pathKinds: {},
  tmpdir: '/tmp',
  uid: 1000,
  bwrap: bwrapBaseFacts('/home/me/.local/state/bottle/bwrap'),
  cluster: { context: null, namespace: null },
}
/** A valid scenario whose op is attach. */
export const attachScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ spec: specArb, op: attachOpArb, facts: hostFactsArb })
  .map(({ spec, op, facts }) => ({ spec, op, host: hostFor(spec, op, facts) }))
