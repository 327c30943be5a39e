/**
 * The manifest: `bottle.yaml` text → one SpecLayer per bottle. Every value goes through the same
 * smart constructor as the matching CLI flag; every error is one line naming the file and key path.
 *
 *   parseManifest('bottle.yaml', 'bottles:\n  demo:\n    workdir: ./app\n', '/src')
 *   // right({ file: 'bottle.yaml', bottles: { demo: { workdir: '/src/app' } } })
 *   parseManifest('bottle.yaml', 'bottles: { demo: { colour: red } }', '/src')
 *   // left({ message: 'bottle.yaml: bottles.demo.colour: unknown key (known: image, user, …)' })
 */
import { posix } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { compileError, show } from '../plan/errors.js'
import { type BackendName, absurd, backendNames } from '../plan/types.js'
import { type AgentProfile, customProfile, profileNamed } from './agent.js'
import { type YamlDoc, parseYaml } from './manifest-yaml.js'
import { type AllowEntry, type NetworkSetting, mergeEntries, networkWords, parseEntry, settingOfWord } from '../egress/policy.js'
import { type Resources, type SpecLayer, envEntry, limitClash, resourceList, secretList, within } from './spec.js'
import { authModes } from '../auth.js'
import { workspaceModes } from '../workspace.js'
import { type LimitsLayer, cpusLimit, limitNames, memoryLimit, pidsLimit } from './limits.js'
import { provisionScript } from './provision.js'
import {
  type Checked,
  absolutePath,
  agentArg,
  agentCommand,
  bottleName,
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

export interface Manifest {
  /** The manifest's name as the user gave it: every error message starts with it. */
  readonly file: string
  /** The default backend for every bottle in the file. */
  readonly backend?: BackendName
  readonly bottles: Readonly<Record<string, SpecLayer>>
}

const manifestKeys = ['backend', 'bottles'] as const
const bottleKeys = [
  'image', 'user', 'workdir', 'env', 'secrets', 'prompt', 'agent', 'allow_root', 'network', 'backend',
  'context', 'namespace', 'resources', 'limits', 'auth', 'provision', 'provision_allow', 'workspace',
] as const
const agentKeys = ['command', 'promptFlag', 'continueArgs', 'refusesRoot'] as const
const resourceKinds = ['requests', 'limits'] as const
type BottleKey = (typeof bottleKeys)[number]

/** Where a value sits: `['bottles', 'demo', 'secrets', 0]` reads `bottles.demo.secrets[0]`. */
type KeyPath = readonly (string | number)[]

interface Context {
  readonly file: string
  readonly baseDir: string
  /** A number's source text: `1.10` stays "1.10", not "1.1". */
  readonly numberText: YamlDoc['numberText']
}

// -------------------------------------------------------------------------------------------------
// messages
// -------------------------------------------------------------------------------------------------

// Keys that would make the path ambiguous (a dot, a space, a bracket, empty) are quoted.
const showKeyPath = (path: KeyPath): string =>
  path
    .map((k, i) =>
      typeof k === 'number'
        ? `[${k}]`
        : /^[^\s.[\]"']+$/.test(k)
          ? `${i === 0 ? '' : '.'}${k}`
          : `[${show(k)}]`,
    )
    .join('')

const where = (ctx: Context, path: KeyPath): string =>
  path.length === 0 ? ctx.file : `${ctx.file}: ${showKeyPath(path)}`

const fail = <A>(ctx: Context, path: KeyPath, message: string): Checked<A> =>
  E.left(compileError(`${where(ctx, path)}: ${message}`))

// A plain object: not a list, and not the Buffer, Set or Map some YAML tags make.
const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype

const kindOf = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'a list'
      : isMapping(v)
        ? 'a mapping'
        : `a ${typeof v}`

// -------------------------------------------------------------------------------------------------
// shapes
// -------------------------------------------------------------------------------------------------

/** The entries of a mapping whose keys are all in `known`, in document order. */
const mapping = <K extends string>(
  ctx: Context,
  path: KeyPath,
  v: unknown,
  known: readonly K[],
): Checked<[K, unknown][]> => {
  if (!isMapping(v)) return fail(ctx, path, `must be a mapping, not ${kindOf(v)}`)
  const entries = Object.entries(v)
  const unknown = entries.find(([k]) => !(known as readonly string[]).includes(k))
  if (unknown !== undefined)
    return fail(ctx, [...path, unknown[0]], `unknown key (known: ${known.join(', ')})`)
  return E.right(entries as [K, unknown][])
}

const string = (ctx: Context, path: KeyPath, v: unknown): Checked<string> =>
  typeof v === 'string' ? E.right(v) : fail(ctx, path, `must be a string, not ${kindOf(v)}`)

const oneOf = <A extends string>(ctx: Context, path: KeyPath, v: unknown, values: readonly A[]): Checked<A> =>
  typeof v === 'string' && (values as readonly string[]).includes(v)
    ? E.right(v as A)
    : fail(ctx, path, `must be one of ${values.join(', ')}, not ${typeof v === 'string' ? show(v) : kindOf(v)}`)

/** A host path; a relative one is joined to the manifest's directory, lexically like the CLI does. */
const hostPath = (ctx: Context, path: KeyPath, what: string, v: unknown): Checked<string> =>
  pipe(
    string(ctx, path, v),
    E.chain((p) => (p === '' ? fail<string>(ctx, path, `${what} must not be empty`) : E.right(p))),
    E.map((p) => (posix.isAbsolute(p) ? posix.normalize(p) : posix.join(ctx.baseDir, p))),
    E.chain((p) => within(where(ctx, path))(absolutePath(what, p))),
  )

// -------------------------------------------------------------------------------------------------
// bottles
// -------------------------------------------------------------------------------------------------

/** Env values may be any scalar; a number keeps the text it was written as. */
const envValueText = (ctx: Context, path: KeyPath, container: object, key: string, v: unknown): Checked<string> => {
  if (typeof v === 'string') return E.right(v)
  if (typeof v === 'boolean') return E.right(String(v))
  if (typeof v === 'number') return E.right(ctx.numberText(container, key) ?? String(v))
  return fail(ctx, path, `must be a string, number or boolean, not ${kindOf(v)}`)
}

const env = (ctx: Context, path: KeyPath, v: unknown): Checked<SpecLayer['env']> =>
  isMapping(v)
    ? pipe(
      Object.entries(v),
      E.traverseArray(([key, value]) =>
        pipe(
          envValueText(ctx, [...path, key], v, key, value),
          E.chain((text) => within(where(ctx, [...path, key]))(envEntry(key, text))),
        ),
      ),
    )
    : fail(ctx, path, `must be a mapping of names to values, not ${kindOf(v)}`)

const secrets = (ctx: Context, path: KeyPath, v: unknown): Checked<SpecLayer['secrets']> =>
  Array.isArray(v)
    ? pipe(
      v as unknown[],
      E.traverseArrayWithIndex((i, name) =>
        pipe(
          string(ctx, [...path, i], name),
          E.chainFirst((n) => within(where(ctx, [...path, i]))(secretList([n]))),
        ),
      ),
      E.chain(secretList),
    )
    : fail(ctx, path, `must be a list of names, not ${kindOf(v)}`)

const boolean = (ctx: Context, path: KeyPath, v: unknown): Checked<boolean> =>
  typeof v === 'boolean' ? E.right(v) : fail(ctx, path, `must be true or false, not ${typeof v === 'string' ? show(v) : kindOf(v)}`)

/** `claude`, `codex`, a command, or `{command, promptFlag, continueArgs, refusesRoot}`. */
const agent = (ctx: Context, path: KeyPath, v: unknown): Checked<AgentProfile> => {
  if (typeof v === 'string') return within(where(ctx, path))(profileNamed(v))
  if (!isMapping(v))
    return fail(ctx, path, `must be claude, codex, a command, or a mapping with command, promptFlag, continueArgs, refusesRoot; not ${kindOf(v)}`)
  const entries = mapping(ctx, path, v, agentKeys)
  if (E.isLeft(entries)) return entries
  let command: string | undefined
  let promptFlag: string | null = null
  let continueArgs: string[] = []
  let refusesRoot = false
  for (const [key, value] of entries.right) {
    const at = [...path, key]
    switch (key) {
      case 'command': {
        const c = pipe(string(ctx, at, value), E.chain((s) => within(where(ctx, at))(agentCommand(s))))
        if (E.isLeft(c)) return c
        command = c.right
        break
      }
      case 'promptFlag': {
        // null, or the key left out: the agent takes no system-prompt file.
        if (value === null) break
        const f = string(ctx, at, value)
        if (E.isLeft(f)) return f
        if (f.right === '') return fail(ctx, at, 'must not be empty (leave it out if the agent takes no prompt file)')
        const checked = within(where(ctx, at))(agentArg(f.right))
        if (E.isLeft(checked)) return checked
        promptFlag = f.right
        break
      }
      case 'continueArgs': {
        if (!Array.isArray(value)) return fail(ctx, at, `must be a list of words, not ${kindOf(value)}`)
        const words = pipe(
          value as unknown[],
          E.traverseArrayWithIndex((i, word) => pipe(string(ctx, [...at, i], word), E.chain((s) => within(where(ctx, [...at, i]))(agentArg(s))))),
        )
        if (E.isLeft(words)) return words
        continueArgs = [...words.right]
        break
      }
      case 'refusesRoot': {
        const b = boolean(ctx, at, value)
        if (E.isLeft(b)) return b
        refusesRoot = b.right
        break
      }
      default:
        return absurd(key)
    }
  }
  if (command === undefined) return fail(ctx, [...path, 'command'], 'is required (the agent\'s binary)')
  return within(where(ctx, path))(customProfile({ command, promptFlag, continueArgs, refusesRoot }))
}

/** A quantity may be written as a YAML number (`cpu: 2`); it must be one Kubernetes can take. */
const quantityText = (ctx: Context, path: KeyPath, v: unknown): Checked<string> => {
  if (typeof v === 'string') return E.right(v)
  if (typeof v === 'number')
    return Number.isFinite(v) && v >= 0 ? E.right(String(v)) : fail(ctx, path, `must be a non-negative quantity, not ${v}`)
  return fail(ctx, path, `must be a quantity (a string or a number), not ${kindOf(v)}`)
}

/** `resources: { requests: { cpu: 500m }, limits: { memory: 4Gi } }`, as in a Pod's container. */
/** `open | none | host | default`, or `{allow: [ENTRY, …]}` (entry syntax: src/egress/policy.ts). */
const network = (ctx: Context, path: KeyPath, v: unknown): Checked<NetworkSetting> => {
  if (typeof v === 'string') return pipe(oneOf(ctx, path, v, networkWords), E.map(settingOfWord))
  if (!isMapping(v)) return fail(ctx, path, `must be one of ${networkWords.join(', ')} or a mapping with allow, not ${kindOf(v)}`)
  const keys = mapping(ctx, path, v, ['allow'] as const)
  if (E.isLeft(keys)) return keys
  const list = v.allow ?? []
  const at = [...path, 'allow']
  if (!Array.isArray(list)) return fail(ctx, at, `must be a list of hosts, not ${kindOf(list)}`)
  const entries: AllowEntry[] = []
  for (const [i, item] of (list as unknown[]).entries()) {
    // A bare number in YAML (a port alone, an address like 10) is no host: say so on its own path.
    if (typeof item !== 'string') return fail(ctx, [...at, i], `must be a host name or address (a string), not ${kindOf(item)}`)
    const entry = parseEntry(item)
    if (E.isLeft(entry)) return fail(ctx, [...at, i], entry.left)
    entries.push(entry.right)
  }
  return E.right({ mode: 'egress', allow: mergeEntries([entries]) })
}

/** `provision: false`, or a list of sh scripts (strings) run as root at launch. */
const provision = (ctx: Context, path: KeyPath, v: unknown): Checked<false | readonly string[]> => {
  if (v === false) return E.right(false)
  if (!Array.isArray(v)) return fail(ctx, path, `must be a list of scripts (strings) or false, not ${v === true ? 'true' : kindOf(v)}`)
  return pipe(
    v as unknown[],
    E.traverseArrayWithIndex((i, item) =>
      typeof item === 'string'
        ? within(where(ctx, [...path, i]))(provisionScript(item))
        : fail<string>(ctx, [...path, i], `must be a script (a string), not ${kindOf(item)}`),
    ),
  )
}

/** `provision_allow: [ENTRY, …]`: hosts the egress proxy lets through while provisioning only. */
const allowList = (ctx: Context, path: KeyPath, v: unknown): Checked<AllowEntry[]> => {
  if (!Array.isArray(v)) return fail(ctx, path, `must be a list of hosts, not ${kindOf(v)}`)
  const entries: AllowEntry[] = []
  for (const [i, item] of (v as unknown[]).entries()) {
    if (typeof item !== 'string') return fail(ctx, [...path, i], `must be a host name or address (a string), not ${kindOf(item)}`)
    const entry = parseEntry(item)
    if (E.isLeft(entry)) return fail(ctx, [...path, i], entry.left)
    entries.push(entry.right)
  }
  return E.right(mergeEntries([entries]))
}

const resources = (ctx: Context, path: KeyPath, v: unknown): Checked<Resources> => {
  const kinds = mapping(ctx, path, v, resourceKinds)
  if (E.isLeft(kinds)) return kinds
  const out = { requests: [] as (readonly [string, string])[], limits: [] as (readonly [string, string])[] }
  for (const [kind, byName] of kinds.right) {
    const at = [...path, kind]
    if (!isMapping(byName)) return fail(ctx, at, `must be a mapping of resource names to quantities, not ${kindOf(byName)}`)
    for (const [name, value] of Object.entries(byName)) {
      const entry = pipe(
        within(where(ctx, [...at, name]))(resourceName(name)),
        E.chain(() => quantityText(ctx, [...at, name], value)),
        E.chain((q) => within(where(ctx, [...at, name]))(quantity(`${kind} ${name}`, q))),
      )
      if (E.isLeft(entry)) return entry
      out[kind].push([name, entry.right])
    }
    // Names are unique within a YAML mapping; this only re-checks what resolveSpec checks too.
    const checked = within(where(ctx, at))(resourceList(kind, out[kind]))
    if (E.isLeft(checked)) return checked
  }
  return E.right(out)
}

/**
 * `limits: { cpus: 1.5, memory: 4g, pids: 512 }`: a number keeps the text it was written as
 * (`1.50` is checked as written, not as JavaScript prints it).
 */
const limits = (ctx: Context, path: KeyPath, v: unknown): Checked<LimitsLayer> => {
  const entries = mapping(ctx, path, v, limitNames)
  if (E.isLeft(entries)) return entries
  const out: LimitsLayer = {}
  for (const [name, value] of entries.right) {
    const at = [...path, name]
    const text =
      typeof value === 'string'
        ? E.right(value)
        : typeof value === 'number' && isMapping(v)
          ? E.right(ctx.numberText(v, name) ?? String(value))
          : fail<string>(ctx, at, `must be a number or a string, not ${kindOf(value)}`)
    if (E.isLeft(text)) return text
    const checked = within(where(ctx, at))
    switch (name) {
      case 'cpus': {
        const c = checked(cpusLimit(text.right))
        if (E.isLeft(c)) return c
        out.cpus = c.right
        break
      }
      case 'memory': {
        const m = checked(memoryLimit(text.right))
        if (E.isLeft(m)) return m
        out.memory = m.right
        break
      }
      case 'pids': {
        const p = checked(pidsLimit(text.right))
        if (E.isLeft(p)) return p
        out.pids = p.right
        break
      }
      default:
        return absurd(name)
    }
  }
  return E.right(out)
}

const field = (ctx: Context, path: KeyPath, key: BottleKey, v: unknown): Checked<SpecLayer> => {
  const at = [...path, key]
  const checkWith = (check: (s: string) => Checked<string>) =>
    pipe(string(ctx, at, v), E.chain((s) => within(where(ctx, at))(check(s))))
  switch (key) {
    case 'image':
      return pipe(checkWith(imageRef), E.map((image) => ({ image })))
    case 'user':
      return pipe(checkWith(userName), E.map((user) => ({ user })))
    case 'workdir':
      return pipe(hostPath(ctx, at, 'workdir', v), E.map((workdir) => ({ workdir })))
    case 'env':
      return pipe(env(ctx, at, v), E.map((env) => ({ env })))
    case 'secrets':
      return pipe(secrets(ctx, at, v), E.map((secrets) => ({ secrets })))
    case 'prompt':
      return pipe(hostPath(ctx, at, 'prompt file', v), E.map((prompt) => ({ prompt })))
    case 'agent':
      return pipe(agent(ctx, at, v), E.map((agent) => ({ agent })))
    case 'allow_root':
      return pipe(boolean(ctx, at, v), E.map((allowRoot) => ({ allowRoot })))
    case 'network':
      return pipe(network(ctx, at, v), E.map((network) => ({ network })))
    case 'backend':
      return pipe(oneOf(ctx, at, v, backendNames), E.map((backend) => ({ backend })))
    case 'context':
      return pipe(checkWith(kubeContext), E.map((context) => ({ context })))
    case 'namespace':
      return pipe(checkWith(kubeNamespace), E.map((namespace) => ({ namespace })))
    case 'resources':
      return pipe(resources(ctx, at, v), E.map((resources) => ({ resources })))
    case 'limits':
      return pipe(limits(ctx, at, v), E.map((limits) => ({ limits })))
    // The two provision keys each fill their half of one layer (Object.assign merges them shallowly, so the bottle merges them below).
    case 'provision':
      return pipe(provision(ctx, at, v), E.map((run) => ({ provision: { run } })))
    case 'provision_allow':
      return pipe(allowList(ctx, at, v), E.map((allow) => ({ provision: { allow } })))
    case 'auth':
      return pipe(oneOf(ctx, at, v, authModes), E.map((auth) => ({ auth })))
    case 'workspace':
      return pipe(oneOf(ctx, at, v, workspaceModes), E.map((workspace) => ({ workspace })))
    default:
      return absurd(key)
  }
}

const bottle = (ctx: Context, name: string, v: unknown): Checked<SpecLayer> => {
  const path = ['bottles', name]
  return pipe(
    within(where(ctx, path))(bottleName(name)),
    E.chain(() => mapping(ctx, path, v, bottleKeys)),
    E.chain(E.traverseArray(([key, value]) => field(ctx, path, key, value))),
    E.map((parts): SpecLayer => {
      const provision = Object.assign({}, ...parts.map((p) => p.provision ?? {}))
      return Object.assign({}, ...parts, Object.keys(provision).length === 0 ? {} : { provision })
    }),
    // Checked here too (resolveSpec checks the merged layers) so the message can name the key.
    E.chain((layer): Checked<SpecLayer> => {
      const clash = (layer.secrets ?? []).findIndex((s) => (layer.env ?? []).some(([k]) => k === s))
      return clash < 0 ? E.right(layer) : fail(ctx, [...path, 'secrets', clash], `${layer.secrets?.[clash]} is both a plain env entry and a secret`)
    }),
    E.chain((layer: SpecLayer): Checked<SpecLayer> => {
      const clash = limitClash(layer.limits, layer.resources)
      return clash === null ? E.right(layer) : fail(ctx, [...path, 'limits'], clash)
    }),
  )
}

// -------------------------------------------------------------------------------------------------
// the manifest
// -------------------------------------------------------------------------------------------------

/** Parses and checks a manifest; `baseDir` (absolute) is where its relative paths start. */
export const parseManifest = (file: string, text: string, baseDir: string): Checked<Manifest> => {
  const doc = parseYaml(text)
  if (E.isLeft(doc)) return E.left(compileError(`${file}:${doc.left.line}:${doc.left.col}: YAML: ${doc.left.message}`))
  const data = doc.right.value
  if (data === null) return E.right({ file, bottles: {} })

  const ctx: Context = { file, baseDir, numberText: doc.right.numberText }
  const top = mapping(ctx, [], data, manifestKeys)
  if (E.isLeft(top)) return top
  let backend: BackendName | undefined
  const bottles: [string, SpecLayer][] = []
  for (const [key, value] of top.right) {
    if (key === 'backend') {
      const checked = oneOf(ctx, [key], value, backendNames)
      if (E.isLeft(checked)) return checked
      backend = checked.right
    } else {
      if (!isMapping(value)) return fail(ctx, [key], `must be a mapping of bottle names, not ${kindOf(value)}`)
      for (const [name, entry] of Object.entries(value)) {
        const layer = bottle(ctx, name, entry)
        if (E.isLeft(layer)) return layer
        bottles.push([name, layer.right])
      }
    }
  }
  // fromEntries: a bottle named `__proto__` stays an own key, not a prototype.
  return E.right({ file, ...(backend === undefined ? {} : { backend }), bottles: Object.fromEntries(bottles) })
}
