/**
 * The recorded spec: what launch writes on a bottle (as labels) so that later `ls` and
 * `--check-drift` can say whether the spec has changed since, and what changed.
 *
 *   const r = recordOf(spec, 'node:22')
 *   // { v: 1, image: 'node:22', user: 'node', workdir: '/src/app', env: [['CI', '5d1b…']],
 *   //   secrets: ['CLAUDE_CODE_OAUTH_TOKEN'], prompt: null, network: 'allow api.anthropic.com:443 …', agent: 'claude' }
 *   specHash(r)                                   // 'c0ffee123456': sha256 of the canonical JSON, 12 hex digits
 *   diffRecords(r, { ...r, image: 'node:24' })    // [{ field: 'image', from: 'node:22', to: 'node:24', … }]
 *
 * It holds no secret value (secrets are names) and no plain env value either: each env entry is
 * kept as a digest of KEY=VALUE, so a changed value is noticed while neither the label nor `ls`
 * ever shows one. Plain env is not a secret channel, but people do put tokens in it by mistake,
 * and a label outlives the command line (anyone who can `docker inspect` reads it).
 */
import * as E from 'fp-ts/lib/Either.js'
import { oneLine } from '../plan/errors.js'
import { sha256 } from '../plan/hash.js'
import { type AllowEntry, type NetworkSetting, formatEntry, networkText, networkTextRule, parseEntry } from '../egress/policy.js'
import type { BottleSpec, SpecLayer } from './spec.js'
import { type LimitsLayer, cpusLimit, limitsText, memoryLimit, pidsLimit } from './limits.js'
import { type ProvisionLayer, provisionScript, provisionText } from './provision.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** The fields of a BottleSpec that shape a bottle, with every default filled in. */
export interface SpecRecord {
  /** The record's format; a bottle recorded by a later format is reported as unreadable, not guessed at. */
  readonly v: 1
  readonly image: string
  readonly user: string
  readonly workdir: string
  /** [KEY, digest of KEY=VALUE], sorted by key: pairs rather than an object, so `__proto__` is just a key. */
  readonly env: readonly (readonly [string, string])[]
  /** Names, sorted: the order secrets are given in does not shape anything. */
  readonly secrets: readonly string[]
  readonly prompt: string | null
  /** networkText: `open`, `none`, `host`, or `allow` and the sorted entries (so the list is in the hash). */
  readonly network: string
  readonly agent: string
  /**
   * `cpus=2 memory=512m pids=100`; null: none. Left out of the canonical JSON when null, so a
   * bottle without limits keeps the hash it had before limits existed.
   */
  readonly limits: string | null
  /** provisionText: null for the default (left out of the canonical JSON, as limits is); scripts as a digest. */
  readonly provision: string | null
  /**
   * `shared` for auth: shared; null for a token (the default). Left out of the canonical JSON when
   * null, like limits, so a bottle signed in by token keeps the hash it had before.
   */
  readonly auth: string | null
  /**
   * `copy` for workspace: copy; null for bind or the backend's default (left out of the canonical
   * JSON, so a bottle launched before the key existed keeps its hash and shows no drift). `bind` is
   * recorded as null: it is what no key meant on every backend that can bind, and kubernetes,
   * which cannot, refuses it.
   */
  readonly workspace: string | null
}

export type Field = 'image' | 'user' | 'workdir' | 'network' | 'agent' | 'prompt' | 'limits' | 'provision' | 'auth' | 'workspace' | 'env' | 'secret'

/** One way the current spec differs from the recorded one. */
export interface Difference {
  readonly field: Field
  /** The env or secret name; null for the other fields. */
  readonly key: string | null
  readonly change: 'changed' | 'added' | 'removed'
  /** Old and new values; always null for env and secrets, which are shown by name only. */
  readonly from: string | null
  readonly to: string | null
  /**
   * `launch`: fixed at launch (image, workdir, network, user); the bottle keeps the old value until
   * it is launched again. `exec`: handed to every command (env, secrets, agent) or copied in
   * (prompt), so `bottle run update` can record the new value for the next one. Neither is ever
   * taken from the manifest by itself.
   */
  readonly appliesAt: 'launch' | 'exec'
}

/** How a live bottle relates to the spec that would shape it today. */
export type Drift =
  /** No manifest declares this bottle (for its backend): nothing to compare with. */
  | { readonly _tag: 'undeclared' }
  /** Cannot tell: the bottle has no readable record (an older bottle launched it, labels were edited), or the manifest entry does not resolve. */
  | { readonly _tag: 'unknown'; readonly reason: string }
  | { readonly _tag: 'same' }
  /** `differences` is empty when only the hash was recorded: it differs, but not where. */
  | { readonly _tag: 'drifted'; readonly differences: readonly Difference[] }

// -------------------------------------------------------------------------------------------------
// recording
// -------------------------------------------------------------------------------------------------

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The record of a spec; `defaultImage` is the backend's, so "no image" and its default compare equal. */
export const recordOf = (spec: BottleSpec, defaultImage: string): SpecRecord => ({
  v: 1,
  image: spec.image ?? defaultImage,
  user: spec.user,
  workdir: spec.workdir,
  env: spec.env.map(([k, v]) => [k, sha256(`${k}=${v}`).slice(0, 16)] as const).sort(([a], [b]) => byCodeUnit(a, b)),
  secrets: [...spec.secrets].sort(byCodeUnit),
  prompt: spec.prompt,
  network: networkText(spec.network),
  // A built-in profile by its name; any other by its command (what a person would compare).
  agent: spec.agent.name === 'custom' ? spec.agent.command : spec.agent.name,
  limits: limitsText(spec.limits),
  provision: provisionText(spec.provision),
  auth: spec.auth === 'token' ? null : spec.auth,
  workspace: spec.workspace === 'copy' ? 'copy' : null,
})

/** One JSON text per record: fixed key order, sorted env and secrets. */
export const canonicalJson = (r: SpecRecord): string =>
  JSON.stringify({
    v: r.v,
    image: r.image,
    user: r.user,
    workdir: r.workdir,
    env: [...r.env].sort(([a], [b]) => byCodeUnit(a, b)),
    secrets: [...r.secrets].sort(byCodeUnit),
    prompt: r.prompt,
    network: r.network,
    agent: r.agent,
    ...(r.limits === null ? {} : { limits: r.limits }),
    ...(r.provision === null ? {} : { provision: r.provision }),
    ...(r.auth === null ? {} : { auth: r.auth }),
    ...(r.workspace === null ? {} : { workspace: r.workspace }),
  })

const hashOfJson = (json: string): string => sha256(json).slice(0, 12)
const encodeJson = (json: string): string => Buffer.from(json, 'utf8').toString('base64url')

export const specHash = (r: SpecRecord): string => hashOfJson(canonicalJson(r))

/**
 * The label value: base64url of the canonical JSON. JSON itself has quotes, commas and `=`, which
 * some label parsers split on (a comma-separated `--label a=b,c=d` list, a Kubernetes label's
 * charset); base64url's alphabet passes through every one of them unchanged.
 */
export const encodeRecord = (r: SpecRecord): string => encodeJson(canonicalJson(r))

/** specHash and encodeRecord together, from one canonical JSON text (launch needs both). */
export const hashAndEncode = (r: SpecRecord): { readonly hash: string; readonly encoded: string } => {
  const json = canonicalJson(r)
  return { hash: hashOfJson(json), encoded: encodeJson(json) }
}

// -------------------------------------------------------------------------------------------------
// reading a record back
// -------------------------------------------------------------------------------------------------

const isString = (x: unknown): x is string => typeof x === 'string'
const isStringPair = (x: unknown): x is [string, string] =>
  Array.isArray(x) && x.length === 2 && isString(x[0]) && isString(x[1])

/** Reads a label value back; Left is a short reason (the value came from outside, so check it all). */
export const decodeRecord = (label: string): E.Either<string, SpecRecord> => {
  // Buffer.from(…, 'base64url') skips characters outside the alphabet instead of failing.
  if (!/^[A-Za-z0-9_-]*$/.test(label)) return E.left('the recorded spec is not base64url')
  let data: unknown
  try {
    data = JSON.parse(Buffer.from(label, 'base64url').toString('utf8'))
  } catch {
    return E.left('the recorded spec is not JSON')
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return E.left('the recorded spec is not an object')
  const o = data as Record<string, unknown>
  if (o.v !== 1) return E.left(`the recorded spec has format ${oneLine(JSON.stringify(o.v) ?? 'undefined')}, not 1 (a newer bottle wrote it?)`)
  const { image, user, workdir, env, secrets, prompt, network, agent } = o
  const limits = Object.hasOwn(o, 'limits') ? o.limits : null
  const provision = Object.hasOwn(o, 'provision') ? o.provision : null
  const auth = Object.hasOwn(o, 'auth') ? o.auth : null
  const workspace = Object.hasOwn(o, 'workspace') ? o.workspace : null
  if (
    !(limits === null || isString(limits)) || !(auth === null || isString(auth)) || !(workspace === null || isString(workspace)) ||
    !(provision === null || isString(provision)) ||
    !isString(image) || !isString(user) || !isString(workdir) || !isString(agent) ||
    !(prompt === null || isString(prompt)) ||
    !(isString(network) && networkTextRule.test(network)) ||
    !(Array.isArray(env) && env.every(isStringPair)) ||
    !(Array.isArray(secrets) && secrets.every(isString))
  )
    return E.left('the recorded spec is missing a field or has one of the wrong type')
  return E.right({ v: 1, image, user, workdir, env, secrets, prompt, network, agent, limits, provision, auth, workspace })
}

// -------------------------------------------------------------------------------------------------
// comparing
// -------------------------------------------------------------------------------------------------

const scalarFields = ['image', 'workdir', 'workspace', 'network', 'user', 'limits', 'provision', 'auth', 'prompt', 'agent'] as const

/**
 * What `bottle run update` can record on a live bottle: the agent, its prompt file (update copies
 * it in, as launch does), env and secret names, all handed to each command. The rest is baked in
 * at launch on every backend: a container's image, bind and network; on bwrap too, where a
 * sandbox is built per command, because the workdir and network are what the agent could try to
 * widen by editing the manifest, and a relaunch is the explicit way to change them.
 */
export const liveFields: ReadonlySet<Field> = new Set(['agent', 'prompt', 'env', 'secret'])

/**
 * Which of the live fields a backend cannot change on a live bottle: on kubernetes the secrets
 * reach commands from the Pod's env, made at launch (kubectl exec has no `-e`).
 */
export interface LaunchBaked {
  readonly secrets: boolean
}

export const nothingElseBaked: LaunchBaked = { secrets: false }

const appliesAtOf = (field: Field, baked: LaunchBaked): Difference['appliesAt'] =>
  liveFields.has(field) && !(field === 'secret' && baked.secrets) ? 'exec' : 'launch'

/** Every way `now` differs from `recorded`, in a fixed order: launch-time fields first. */
export const diffRecords = (recorded: SpecRecord, now: SpecRecord, baked: LaunchBaked = nothingElseBaked): Difference[] => {
  const out: Difference[] = []
  for (const field of scalarFields) {
    const appliesAt = appliesAtOf(field, baked)
    const from = recorded[field]
    const to = now[field]
    if (from !== to)
      out.push({ field, key: null, change: from === null ? 'added' : to === null ? 'removed' : 'changed', from, to, appliesAt })
  }
  const named = (field: 'env' | 'secret', before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): void => {
    const keys = [...new Set([...before.keys(), ...after.keys()])].sort(byCodeUnit)
    for (const key of keys) {
      const a = before.get(key)
      const b = after.get(key)
      if (a === b) continue
      out.push({ field, key, change: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed', from: null, to: null, appliesAt: appliesAtOf(field, baked) })
    }
  }
  named('env', new Map(recorded.env), new Map(now.env))
  named('secret', new Map(recorded.secrets.map((s) => [s, s])), new Map(now.secrets.map((s) => [s, s])))
  return out
}

/** What a bottle's labels say, next to the spec that would shape it today. */
export const driftOf = (
  recorded: { readonly hash: string | null; readonly spec: string | null },
  now: SpecRecord,
  baked: LaunchBaked = nothingElseBaked,
): Drift => {
  const nowHash = specHash(now)
  if (recorded.spec === null) {
    if (recorded.hash === null) return { _tag: 'unknown', reason: 'it was launched without a recorded spec' }
    return recorded.hash === nowHash ? { _tag: 'same' } : { _tag: 'drifted', differences: [] }
  }
  const decoded = decodeRecord(recorded.spec)
  if (E.isLeft(decoded)) return { _tag: 'unknown', reason: decoded.left }
  // A hash that does not match its own record means the labels were edited: trust neither.
  if (recorded.hash !== null && recorded.hash !== specHash(decoded.right))
    return { _tag: 'unknown', reason: 'the recorded spec does not match its recorded hash' }
  const differences = diffRecords(decoded.right, now, baked)
  return differences.length === 0 ? { _tag: 'same' } : { _tag: 'drifted', differences }
}

// -------------------------------------------------------------------------------------------------
// words
// -------------------------------------------------------------------------------------------------

const valueText = (v: string | null): string => (v === null ? '(none)' : oneLine(v))

/** `image node:22 → node:24`, `env FOO changed`, `secret TOKEN added`: names only for env and secrets. */
export const describeDifference = (d: Difference): string =>
  d.key === null ? `${d.field} ${valueText(d.from)} → ${valueText(d.to)}` : `${d.field} ${oneLine(d.key)} ${d.change}`

/** A field list for a table cell: `image,env FOO`. */
export const driftFields = (ds: readonly Difference[]): string =>
  ds.map((d) => (d.key === null ? d.field : `${d.field} ${oneLine(d.key)}`)).join(',')

/** One clause per kind: what needs a relaunch, and what the next command picks up by itself. */
export const describeDifferences = (ds: readonly Difference[]): string => {
  if (ds.length === 0) return 'its recorded spec hash differs (the bottle recorded no details)'
  const atLaunch = ds.filter((d) => d.appliesAt === 'launch').map(describeDifference)
  const atExec = ds.filter((d) => d.appliesAt === 'exec').map(describeDifference)
  return [
    ...(atLaunch.length === 0 ? [] : [`${atLaunch.join(', ')} (relaunch to apply)`]),
    ...(atExec.length === 0 ? [] : [`${atExec.join(', ')} (bottle run update applies it)`]),
  ].join('; ')
}

// -------------------------------------------------------------------------------------------------
// the launch record: the whole spec a bottle was launched with, in a host file
// -------------------------------------------------------------------------------------------------

/**
 * What launch writes to `STATE_ROOT/BACKEND/NAME/record.json` (mode 600, outside every bind) and
 * every later op on the bottle compiles from: the manifest lives in the workdir, which the agent
 * can write, so it is never read again for a launched bottle except to warn about drift.
 * Plain env values are kept (the file is the user's own, like their shell history); secrets by
 * name only.
 */
export interface LaunchRecord {
  /** The file's format; another one is refused rather than guessed at. */
  readonly v: 2
  readonly backend: string
  readonly spec: BottleSpec
}

/** The record file's text: one JSON object, fixed key order, so equal specs write equal files. */
export const launchRecordJson = (backend: string, spec: BottleSpec): string =>
  `${JSON.stringify({
    v: 2,
    backend,
    spec: {
      name: spec.name,
      image: spec.image,
      user: spec.user,
      workdir: spec.workdir,
      env: spec.env,
      secrets: spec.secrets,
      prompt: spec.prompt,
      agent: {
        name: spec.agent.name,
        command: spec.agent.command,
        promptFlag: spec.agent.promptFlag,
        continueArgs: spec.agent.continueArgs,
        refusesRoot: spec.agent.refusesRoot,
        rootEnv: spec.agent.rootEnv,
      },
      allowRoot: spec.allowRoot,
      network: spec.network,
      context: spec.context,
      namespace: spec.namespace,
      resources: spec.resources,
      limits: spec.limits,
      provision: { run: spec.provision.install ? spec.provision.scripts : false, allow: spec.provision.allow },
      auth: spec.auth,
      workspace: spec.workspace,
    },
  })}\n`

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const isStringList = (x: unknown): x is string[] => Array.isArray(x) && x.every(isString)
const isPairList = (x: unknown): x is [string, string][] => Array.isArray(x) && x.every(isStringPair)
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined)

/**
 * The layer a record gives resolveSpec, which checks every value again as it would a manifest's:
 * the file is ours, but it is read back from disk. Left: a short reason.
 */
export const decodeLaunchRecord = (text: string, backend: string, name: string): E.Either<string, SpecLayer> => {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return E.left('the launch record is not JSON')
  }
  if (!isObject(data)) return E.left('the launch record is not a JSON object')
  if (own(data, 'v') !== 2) return E.left(`the launch record has format ${oneLine(JSON.stringify(own(data, 'v')) ?? 'undefined')}, not 2`)
  if (own(data, 'backend') !== backend) return E.left(`the launch record is for another backend (${oneLine(String(own(data, 'backend')))})`)
  const s = own(data, 'spec')
  if (!isObject(s)) return E.left('the launch record has no spec')
  if (own(s, 'name') !== name) return E.left('the launch record names another bottle')
  const [image, user, workdir, env, secrets, prompt, agent, allowRoot, network, context, namespace, resources] = (
    ['image', 'user', 'workdir', 'env', 'secrets', 'prompt', 'agent', 'allowRoot', 'network', 'context', 'namespace', 'resources'] as const
  ).map((k) => own(s, k))
  const a = isObject(agent) ? agent : {}
  const r = isObject(resources) ? resources : {}
  const [aName, command, promptFlag, continueArgs, refusesRoot, rootEnv] = (
    ['name', 'command', 'promptFlag', 'continueArgs', 'refusesRoot', 'rootEnv'] as const
  ).map((k) => own(a, k))
  const requests = own(r, 'requests')
  const limits = own(r, 'limits')
  // A record written before limits existed has none: no limits.
  const bottleLimits = recordedLimits(own(s, 'limits'))
  if (E.isLeft(bottleLimits)) return bottleLimits
  // A record written before provisioning existed has none: the default (it ran nothing then, and launch is over).
  const bottleProvision = recordedProvision(own(s, 'provision'))
  if (E.isLeft(bottleProvision)) return bottleProvision
  // A record written before sign-in modes existed has none: a token, the default.
  const auth = own(s, 'auth')
  if (!(auth === undefined || auth === 'token' || auth === 'shared')) return E.left('the launch record has an auth that is not token or shared')
  // A record written before workspaces existed has none (null: the backend's default, which it was then).
  const workspace = own(s, 'workspace')
  if (!(workspace === undefined || workspace === null || workspace === 'bind' || workspace === 'copy'))
    return E.left('the launch record has a workspace that is not bind or copy')
  if (
    !(image === null || isString(image)) || !isString(user) || !isString(workdir) ||
    !isPairList(env) || !isStringList(secrets) || !(prompt === null || isString(prompt)) ||
    !(aName === 'claude' || aName === 'codex' || aName === 'custom') || !isString(command) ||
    !(promptFlag === null || isString(promptFlag)) || !isStringList(continueArgs) ||
    typeof refusesRoot !== 'boolean' || !isPairList(rootEnv) || typeof allowRoot !== 'boolean' ||
    !(isString(network) || isObject(network)) ||
    !(context === null || isString(context)) || !(namespace === null || isString(namespace)) ||
    !isPairList(requests) || !isPairList(limits)
  )
    return E.left('the launch record is missing a field or has one of the wrong type')
  const net = recordedNetwork(network)
  if (E.isLeft(net)) return net
  return E.right({
    ...(image === null ? {} : { image }),
    user,
    workdir,
    env,
    secrets,
    ...(prompt === null ? {} : { prompt }),
    agent: { name: aName, command, promptFlag, continueArgs, refusesRoot, rootEnv },
    allowRoot,
    network: net.right,
    networkFromRecord: true,
    ...(context === null ? {} : { context }),
    ...(namespace === null ? {} : { namespace }),
    resources: { requests, limits },
    limits: bottleLimits.right,
    provision: bottleProvision.right,
    ...(auth === undefined ? {} : { auth }),
    ...(workspace === undefined || workspace === null ? {} : { workspace }),
  })
}

/**
 * The recorded network: `{mode}` or `{mode: 'egress', allow: [{host, port, private}]}`; each
 * entry must read back through parseEntry unchanged. The mode words of the record's first
 * format (`default`, `none`, `host`) are read as the modes they meant.
 */
const recordedNetwork = (n: unknown): E.Either<string, NetworkSetting> => {
  const bad = E.left('the launch record has a network that is not one bottle writes')
  if (n === 'default' || n === 'open') return E.right({ mode: 'open' })
  if (n === 'none' || n === 'host') return E.right({ mode: n })
  if (!isObject(n)) return bad
  const mode = own(n, 'mode')
  if (mode === 'open' || mode === 'none' || mode === 'host') return Object.keys(n).length === 1 ? E.right({ mode }) : bad
  const allow = own(n, 'allow')
  if (mode !== 'egress' || !Array.isArray(allow)) return bad
  const entries: AllowEntry[] = []
  for (const e of allow as unknown[]) {
    if (!isObject(e)) return bad
    const [host, port, priv] = [own(e, 'host'), own(e, 'port'), own(e, 'private')]
    if (!isString(host) || typeof port !== 'number' || typeof priv !== 'boolean') return bad
    const entry: AllowEntry = { host, port, private: priv }
    const again = parseEntry(formatEntry(entry))
    if (E.isLeft(again) || JSON.stringify(again.right) !== JSON.stringify(entry))
      return E.left(`the launch record's allow-list has an entry bottle does not write: ${oneLine(formatEntry(entry))}`)
    entries.push(entry)
  }
  return E.right({ mode: 'egress', allow: entries })
}

/** The `provision` of a launch record: `{run: false | [script…], allow: [{host, port, private}]}`, checked again. */
const recordedProvision = (v: unknown): E.Either<string, ProvisionLayer> => {
  if (v === undefined) return E.right({})
  const bad = E.left('the launch record has a provision bottle does not write')
  if (!isObject(v)) return bad
  const run = own(v, 'run')
  if (!(run === false || (isStringList(run) && run.every((r) => E.isRight(provisionScript(r)))))) return bad
  const allow = recordedNetwork({ mode: 'egress', allow: own(v, 'allow') })
  if (E.isLeft(allow) || allow.right.mode !== 'egress') return bad
  return E.right({ run, allow: allow.right.allow })
}

/** The `limits` of a launch record, each checked again as the manifest's would be. */
const recordedLimits = (v: unknown): E.Either<string, LimitsLayer> => {
  if (v === undefined) return E.right({})
  if (!isObject(v)) return E.left('the launch record\'s limits are not an object')
  const out: LimitsLayer = {}
  const cpus = own(v, 'cpus')
  const memory = own(v, 'memory')
  const pids = own(v, 'pids')
  const bad = E.left('the launch record has a limit of the wrong type')
  if (cpus !== null && cpus !== undefined) {
    if (!isString(cpus) || E.isLeft(cpusLimit(cpus))) return bad
    out.cpus = cpus
  }
  if (memory !== null && memory !== undefined) {
    if (typeof memory !== 'number' || !Number.isSafeInteger(memory) || E.isLeft(memoryLimit(String(memory)))) return bad
    out.memory = memory
  }
  if (pids !== null && pids !== undefined) {
    if (typeof pids !== 'number' || E.isLeft(pidsLimit(String(pids)))) return bad
    out.pids = pids
  }
  return E.right(out)
}

/** A bottle's directory under the state root: its launch record, and bwrap's home beside it. */
export const bottleStateDir = (stateRoot: string, backend: string, name: string): string => `${stateRoot}/${backend}/${name}`
export const recordFile = 'record.json'
