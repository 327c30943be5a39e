/**
 * BottleSpec: one bottle, validated, with every default filled in. Built from the manifest entry
 * (if any) with CLI flags on top; the compilers take nothing else about the bottle.
 *
 *   resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: {}, cwd: '/src/app' })
 *   // right({ name: 'demo', image: null, user: 'node', workdir: '/src/app', agent: claude, … })
 *   // (image null: the backend's default image)
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { compileError, show } from '../plan/errors.js'
import type { BackendName } from '../plan/types.js'
import { type AllowEntry, type NetworkSetting, mergeEntries } from '../egress/policy.js'
import { type AgentProfile, agentHosts, checkProfile, defaultAgent } from './agent.js'
import { type Limits, type LimitsLayer, mergeLimits } from './limits.js'
import { type Provision, type ProvisionLayer, mergeProvision } from './provision.js'
import { type AuthMode, defaultAuth } from '../auth.js'
import type { WorkspaceMode } from '../workspace.js'
import {
  type Checked,
  absolutePath,
  bottleName,
  envKey,
  envValue,
  imageRef,
  kubeContext,
  kubeNamespace,
  quantity,
  resourceName,
  userName,
} from './validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * The network (src/egress/policy.ts): `open` is the backend's own (docker: a bridge; smolvm and
 * bwrap: none), `none`, `host`, or `egress`: no route out but the bottle's proxy, which lets
 * through the hosts in `allow`.
 */
export type { NetworkSetting } from '../egress/policy.js'

export interface BottleSpec {
  readonly name: string
  /** An image reference (smolvm, docker) or a rootfs directory (bwrap); null: the backend's default. */
  readonly image: string | null
  readonly user: string
  /** A host directory, bound into the bottle at the same absolute path and used as the cwd. */
  readonly workdir: string
  readonly env: readonly (readonly [string, string])[]
  readonly secrets: readonly string[]
  /** A host file, copied in at launch and passed to the agent as its system-prompt file. */
  readonly prompt: string | null
  readonly agent: AgentProfile
  /** Root may run an agent that refuses it (the sandbox is the boundary); claude then gets IS_SANDBOX=1. */
  readonly allowRoot: boolean
  /** Absent from every layer: egress with the agent profile's hosts. `egress.allow` is the effective list. */
  readonly network: NetworkSetting
  /** kubernetes only: the kubeconfig context; null: kubectl's current context. */
  readonly context: string | null
  /** kubernetes only: null: the context's namespace. */
  readonly namespace: string | null
  /** kubernetes only: the container's resource requests and limits. */
  readonly resources: Resources
  /** CPUs, memory and processes, on every backend that can enforce them (src/bottle-spec/limits.ts). */
  readonly limits: Limits
  /** What launch runs as root in the guest before the agent's first use (src/bottle-spec/provision.ts). */
  readonly provision: Provision
  /** How the agent signs in: `token` (a secret), or `shared` (a host directory as its config directory; src/auth.ts). */
  readonly auth: AuthMode
  /**
   * How the workdir is filled (src/workspace.ts): `bind` the host directory, or `copy` its git
   * repository in at launch; null when no layer says: the backend's default (kubernetes: copy,
   * the others: bind).
   */
  readonly workspace: WorkspaceMode | null
}

/** Container resources by name (cpu, memory, nvidia.com/gpu), each a Kubernetes quantity, in the order given. */
export interface Resources {
  readonly requests: readonly (readonly [string, string])[]
  readonly limits: readonly (readonly [string, string])[]
}

export const noResources: Resources = { requests: [], limits: [] }

/** What a manifest entry or the CLI may set; unset fields fall through to the next layer. */
export interface SpecLayer {
  readonly image?: string
  readonly user?: string
  readonly workdir?: string
  readonly env?: readonly (readonly [string, string])[]
  readonly secrets?: readonly string[]
  readonly prompt?: string
  readonly agent?: AgentProfile
  readonly allowRoot?: boolean
  /** An egress layer's `allow` is added to the agent profile's hosts (unless networkFromRecord). */
  readonly network?: NetworkSetting
  /** `--allow`: added to the egress allow-list of the layers below. */
  readonly allow?: readonly AllowEntry[]
  /** The network is a launch record's: its list is already the effective one; no profile hosts are added. */
  readonly networkFromRecord?: boolean
  readonly backend?: BackendName
  readonly context?: string
  readonly namespace?: string
  readonly resources?: Resources
  readonly limits?: LimitsLayer
  readonly provision?: ProvisionLayer
  readonly auth?: AuthMode
  readonly workspace?: WorkspaceMode
}

export const defaultUser = 'node'

// -------------------------------------------------------------------------------------------------
// validation of a layer's values (shared by the manifest and the CLI, each with its own context)
// -------------------------------------------------------------------------------------------------

/** Prefixes a Left's message with where the value came from: a key path or a flag. */
export const within =
  (where: string) =>
  <A>(c: Checked<A>): Checked<A> =>
    pipe(
      c,
      E.mapLeft((e) => compileError(`${where}: ${e.message}`)),
    )

const reservedEnv = new Set(['HOME', 'USER'])

/** Checks one env entry; HOME and USER belong to the user switch. */
export const envEntry = (key: string, value: string): Checked<readonly [string, string]> =>
  pipe(
    envKey(key),
    E.chain((k) =>
      reservedEnv.has(k)
        ? E.left(compileError(`env ${k} is set by bottle from the user (set user instead)`))
        : E.right(k),
    ),
    E.chain((k) => pipe(envValue(k, value), E.map((v) => [k, v] as const))),
  )

/** Right(key) the first time a key is seen (and now it is), else the message. */
const firstTime = (seen: Set<string>, key: string, message: string): Checked<string> =>
  seen.has(key) ? E.left(compileError(message)) : (seen.add(key), E.right(key))

/** Checks a whole env list: each entry, and no key twice (the first problem, in list order). */
export const envList = (
  entries: readonly (readonly [string, string])[],
): Checked<readonly (readonly [string, string])[]> => {
  const seen = new Set<string>()
  return pipe(
    entries,
    E.traverseArray(([k, v]) => pipe(envEntry(k, v), E.chainFirst(() => firstTime(seen, k, `env ${k} is given twice`)))),
  )
}

/** The prefix of the names a `--format sh` script uses for itself (src/plan/render.ts). */
export const reservedSecretPrefix = 'bottle_'

export const secretList = (names: readonly string[]): Checked<readonly string[]> => {
  const out: string[] = []
  for (const n of names) {
    const checked = envKey(n)
    if (E.isLeft(checked))
      return E.left(compileError(`secret name ${show(n)} must match [A-Za-z_][A-Za-z0-9_]*`))
    // Shells set `_` to the path of the command they run, in its env: the value bottle (and a
    // `--format sh` script) would read is that path, never the user's secret.
    if (n === '_') return E.left(compileError('secret name "_" cannot be used: shells set $_ to the path of the command they run'))
    // A `--format sh` script keeps its own state in variables named bottle_… (bottle_err,
    // bottle_undo, …); a secret reaches it as a variable of the same name, which the script
    // would overwrite. The prefix is bottle's (sh names are case-sensitive: BOTTLE_ is free).
    if (n.startsWith(reservedSecretPrefix))
      return E.left(compileError(`secret name ${show(n)} is reserved: names starting with ${reservedSecretPrefix} are the --format sh script's own variables`))
    if (!out.includes(n)) out.push(n)
  }
  return E.right(out)
}

/**
 * `limits.cpus` and `resources.limits.cpu` (memory and memory) would both say how much the
 * container may use: one bottle says it once. The first clash, or null.
 */
export const limitClash = (limits: LimitsLayer | Limits | undefined, resources: Resources | undefined): string | null => {
  const pairs = [['cpus', 'cpu'], ['memory', 'memory']] as const
  for (const [limit, resource] of pairs)
    if (limits?.[limit] !== undefined && limits[limit] !== null && (resources?.limits ?? []).some(([n]) => n === resource))
      return `limits.${limit} and resources.limits.${resource} both limit the ${resource === 'cpu' ? 'CPUs' : 'memory'}: keep one (resources stays for requests)`
  return null
}

/** Checks one list of resources: each name and quantity, and no name twice. */
export const resourceList = (
  kind: 'requests' | 'limits',
  entries: readonly (readonly [string, string])[],
): Checked<readonly (readonly [string, string])[]> => {
  const seen = new Set<string>()
  return pipe(
    entries,
    E.traverseArray(([name, value]) =>
      pipe(
        resourceName(name),
        E.chain((n) => quantity(`${kind} ${n}`, value)),
        E.chain(() => firstTime(seen, name, `${kind} ${name} is given twice`)),
      ),
    ),
    E.map(() => entries),
  )
}

// -------------------------------------------------------------------------------------------------
// resolution
// -------------------------------------------------------------------------------------------------

/** Later env layers override earlier ones key by key, keeping the first layer's order. */
const mergeEnv = (
  base: readonly (readonly [string, string])[],
  top: readonly (readonly [string, string])[],
): (readonly [string, string])[] => {
  const topMap = new Map(top)
  const merged = base.map(([k, v]) => [k, topMap.get(k) ?? v] as const)
  for (const [k, v] of top) if (!base.some(([b]) => b === k)) merged.push([k, v])
  return merged
}

/** Env names a client takes as its proxy: with an allow-list, the bottle's proxy is the only way out. */
const proxyEnv = /^(https?|all)_proxy$/i

/**
 * The network a bottle gets: the top layer's mode; for egress (also when no layer says), the
 * agent profile's hosts, then the manifest's `allow`, then `--allow`. `--allow` with another mode
 * is refused rather than ignored, and so is a proxy variable in the env with an allow-list.
 */
const resolveNetwork = (
  m: SpecLayer,
  f: SpecLayer,
  agent: AgentProfile,
  envKeys: readonly string[],
): Checked<NetworkSetting> => {
  const chosen = f.network ?? m.network
  const extra = [...(m.allow ?? []), ...(f.allow ?? [])]
  if (chosen !== undefined && chosen.mode !== 'egress') {
    if (extra.length > 0)
      return E.left(compileError(`--allow needs the egress allow-list, but the network is ${chosen.mode} (leave out network, or give network: {allow: […]})`))
    return E.right(chosen)
  }
  const fromRecord = chosen !== undefined && (f.network === undefined ? m.networkFromRecord : f.networkFromRecord) === true
  const allow = mergeEntries([fromRecord ? [] : agentHosts(agent), chosen?.allow ?? [], extra])
  const proxy = envKeys.find((k) => proxyEnv.test(k))
  if (proxy !== undefined)
    return E.left(compileError(`env ${proxy} cannot be set in a bottle with an egress allow-list: the bottle's proxy is its only way out (network: open keeps your own proxy)`))
  return E.right({ mode: 'egress', allow })
}

export interface ResolveInput {
  readonly name: string
  /** The manifest's entry for this bottle, already checked with key paths; {} if none. */
  readonly fromManifest: SpecLayer
  /** CLI flags, already checked with flag names. */
  readonly fromFlags: SpecLayer
  /** Where relative defaults come from: the workdir defaults to the current directory. */
  readonly cwd: string
}

/** Merges manifest and flags over the defaults; every field is validated once more here. */
export const resolveSpec = (input: ResolveInput): Checked<BottleSpec> => {
  const { fromManifest: m, fromFlags: f } = input
  const env = mergeEnv(m.env ?? [], f.env ?? [])
  const secrets = [...(m.secrets ?? []), ...(f.secrets ?? [])]
  const clash = env.find(([k]) => secrets.includes(k))
  if (clash !== undefined)
    return E.left(compileError(`${clash[0]} is both a plain env entry and a secret`))
  const image = f.image ?? m.image ?? null
  const prompt = f.prompt ?? m.prompt ?? null
  const context = f.context ?? m.context
  const namespace = f.namespace ?? m.namespace
  const resources = f.resources ?? m.resources ?? noResources
  const limits = mergeLimits(m.limits, f.limits)
  const limitsClash = limitClash(limits, resources)
  if (limitsClash !== null) return E.left(compileError(limitsClash))
  const orNull = <A>(v: A | null | undefined, check: (v: A) => Checked<A>): Checked<A | null> =>
    v === null || v === undefined ? E.right(null) : check(v)
  // Checked in this order; the first failure is the one reported.
  return pipe(
    E.Do,
    E.bind('name', () => bottleName(input.name)),
    E.bind('image', () => orNull(image, imageRef)),
    E.bind('user', () => userName(f.user ?? m.user ?? defaultUser)),
    E.bind('workdir', () => absolutePath('workdir', f.workdir ?? m.workdir ?? input.cwd)),
    E.bind('env', () => envList(env)),
    E.bind('secrets', () => secretList(secrets)),
    E.bind('prompt', () => orNull(prompt, (p) => absolutePath('prompt file', p))),
    // A profile is one unit: the flag's replaces the manifest's whole, never field by field.
    E.bind('agent', () => checkProfile(f.agent ?? m.agent ?? defaultAgent)),
    E.bind('network', ({ agent, env, secrets }) => resolveNetwork(m, f, agent, [...env.map(([k]) => k), ...secrets])),
    E.bind('context', () => orNull(context, kubeContext)),
    E.bind('namespace', () => orNull(namespace, kubeNamespace)),
    E.bind('requests', () => resourceList('requests', resources.requests)),
    E.bind('limits', () => resourceList('limits', resources.limits)),
    E.map((c) => ({
      name: c.name,
      image: c.image,
      user: c.user,
      workdir: c.workdir,
      env: c.env,
      secrets: c.secrets,
      prompt: c.prompt,
      agent: c.agent,
      allowRoot: f.allowRoot ?? m.allowRoot ?? false,
      network: c.network,
      context: c.context,
      namespace: c.namespace,
      resources: { requests: c.requests, limits: c.limits },
      limits,
      provision: mergeProvision(m.provision, f.provision),
      auth: f.auth ?? m.auth ?? defaultAuth,
      workspace: f.workspace ?? m.workspace ?? null,
    })),
  )
}
