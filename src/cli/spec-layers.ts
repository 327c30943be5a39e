/**
 * From a Request to what compile takes: the flags as a spec layer, the backend (-b, the
 * manifest's, else the first usable), the Operation, and the spec an op runs with (launch: the
 * manifest and flags; later ops: the launch record, flags on top, the manifest only for drift).
 *
 *   flagLayer(req.flags, '/src/app')   // Right({ env: [['CI', '1']], secrets: [], workdir: '/src/app/sub', … })
 *   toOperation(req, cwd, env)         // { _tag: 'exec', script: 'npm test', user: null }
 */
import * as E from 'fp-ts/lib/Either.js'
import { resolve } from 'node:path'
import type { PaneMode } from '../attach.js'
import type { Backend, ClusterScope } from '../backends/backend.js'
import { backends, detectionOrder, fallbackBackend } from '../backends/index.js'
import { ownTmuxPane, unusable } from '../host.js'
import { driftSentence } from '../ls.js'
import { diffRecords, recordOf } from '../bottle-spec/record.js'
import { type CompileError, compileError, show } from '../plan/errors.js'
import type { BottleOperation } from '../plan/operation.js'
import { type BackendName, type Note, backendNames, info } from '../plan/types.js'
import type { Flags, Request } from './request.js'
import { profileNamed } from '../bottle-spec/agent.js'
import type { Manifest } from '../bottle-spec/manifest.js'
import { type BottleSpec, type SpecLayer, envList, resolveSpec, secretList, within } from '../bottle-spec/spec.js'
import { type AllowEntry, isNetworkWord, networkWords, openNetworkNote, parseEntry, settingOfWord } from '../egress/policy.js'
import { type Checked, kubeContext, kubeNamespace } from '../bottle-spec/validate.js'
import type { Io } from './io.js'
import { type LimitsLayer, cpusLimit, memoryLimit, pidsLimit } from '../bottle-spec/limits.js'
import type { Recorded } from './reads.js'

export const fail = (message: string): E.Either<CompileError, never> => E.left(compileError(message))

/** `-e K=V` → ['K', 'V']; the value may itself contain `=`. */
const splitEnvFlag = (s: string): Checked<readonly [string, string]> => {
  const i = s.indexOf('=')
  return i <= 0 ? fail(`--env ${show(s)} must be KEY=VALUE`) : E.right([s.slice(0, i), s.slice(i + 1)] as const)
}

export const flagLayer = (f: Flags, cwd: string): Checked<SpecLayer> => {
  const pairs: (readonly [string, string])[] = []
  for (const e of f.env) {
    const p = splitEnvFlag(e)
    if (E.isLeft(p)) return p
    pairs.push(p.right)
  }
  const env = within('--env')(envList(pairs))
  if (E.isLeft(env)) return env
  const secrets = within('--secret')(secretList(f.secret))
  if (E.isLeft(secrets)) return secrets
  if (f.network !== undefined && !isNetworkWord(f.network))
    return fail(`--network ${show(f.network)} must be one of ${networkWords.join(', ')}`)
  const allow: AllowEntry[] = []
  for (const text of f.allow ?? []) {
    const entry = parseEntry(text)
    if (E.isLeft(entry)) return fail(`--allow: ${entry.left}`)
    allow.push(entry.right)
  }
  const agent = f.agent === undefined ? E.right(undefined) : within('--agent')(profileNamed(f.agent))
  if (E.isLeft(agent)) return agent
  const scope = scopeFlags(f)
  if (E.isLeft(scope)) return scope
  const limits = limitFlags(f)
  if (E.isLeft(limits)) return limits
  return E.right({
    ...(Object.keys(limits.right).length === 0 ? {} : { limits: limits.right }),
    ...(agent.right === undefined ? {} : { agent: agent.right }),
    ...(f.allowRoot === undefined ? {} : { allowRoot: f.allowRoot }),
    ...(f.provision === false ? { provision: { run: false } } : {}),
    ...(f.auth === 'token' || f.auth === 'shared' ? { auth: f.auth } : {}),
    ...(f.workspace === 'bind' || f.workspace === 'copy' ? { workspace: f.workspace } : {}),
    ...(scope.right.context === null ? {} : { context: scope.right.context }),
    ...(scope.right.namespace === null ? {} : { namespace: scope.right.namespace }),
    ...(f.image === undefined ? {} : { image: f.image }),
    ...(f.user === undefined ? {} : { user: f.user }),
    ...(f.workdir === undefined ? {} : { workdir: resolve(cwd, f.workdir) }),
    ...(f.prompt === undefined ? {} : { prompt: resolve(cwd, f.prompt) }),
    ...(f.network === undefined || !isNetworkWord(f.network) ? {} : { network: settingOfWord(f.network) }),
    ...(allow.length === 0 ? {} : { allow }),
    env: env.right,
    secrets: secrets.right,
  })
}

/** --cpus, --memory, --pids, checked; only the ones given. */
const limitFlags = (f: Flags): Checked<LimitsLayer> => {
  const out: LimitsLayer = {}
  if (f.cpus !== undefined) {
    const c = within('--cpus')(cpusLimit(f.cpus))
    if (E.isLeft(c)) return c
    out.cpus = c.right
  }
  if (f.memory !== undefined) {
    const m = within('--memory')(memoryLimit(f.memory))
    if (E.isLeft(m)) return m
    out.memory = m.right
  }
  if (f.pids !== undefined) {
    const p = within('--pids')(pidsLimit(f.pids))
    if (E.isLeft(p)) return p
    out.pids = p.right
  }
  return E.right(out)
}

/** --context and --namespace, checked; null where not given. */
export const scopeFlags = (f: Flags): Checked<ClusterScope> => {
  const context = f.context === undefined ? E.right(null) : within('--context')(kubeContext(f.context))
  if (E.isLeft(context)) return context
  const namespace = f.namespace === undefined ? E.right(null) : within('--namespace')(kubeNamespace(f.namespace))
  if (E.isLeft(namespace)) return namespace
  return E.right({ context: context.right, namespace: namespace.right })
}

/**
 * --context and -n mean nothing to a backend without a cluster: better refused than ignored.
 * `backend` is the one the op uses; null for ls and down --all without -b, which look at every
 * backend on PATH but kubernetes (src/backends/index.ts), so there the flags need -b kubernetes.
 */
export const clusterFlagsFit = (f: Flags, backend: Backend | null): Checked<null> => {
  const given = [f.context === undefined ? [] : ['--context'], f.namespace === undefined ? [] : ['--namespace']].flat()
  if (given.length === 0 || backend?.clusterScoped === true) return E.right(null)
  const applies = `${given.join(' and ')} ${given.length > 1 ? 'apply' : 'applies'} only to the kubernetes backend`
  return backend === null
    ? fail(`${applies}, which is listed only when named: pass -b kubernetes`)
    : fail(`${applies}, not ${backend.name}`)
}

const isBackendName = (s: string): s is BackendName => (backendNames as readonly string[]).includes(s)

/** The backend -b names, handed to `then`; an unknown name is invalid input. */
export const namedBackend = <A>(flag: string, then: (backend: Backend) => A): Checked<A> =>
  isBackendName(flag) ? E.right(then(backends[flag])) : fail(`unknown backend ${show(flag)}: choose one of ${backendNames.join(', ')}`)

/**
 * -b, else the bottle's backend in the manifest, else the manifest's, else the first usable one in
 * detection order. The reason goes into the plan's notes, so `bottle plan` says why.
 */
export const chooseBackend = (
  flag: string | undefined,
  fromManifest: BackendName | undefined,
  env: Io['env'],
): Checked<{ backend: Backend; why: string }> => {
  if (flag !== undefined) return namedBackend(flag, (backend) => ({ backend, why: 'given with -b' }))
  if (fromManifest !== undefined) return E.right({ backend: backends[fromManifest], why: 'named in the manifest' })
  const skipped: string[] = []
  for (const name of detectionOrder) {
    const why = unusable(backends[name], env)
    if (why === null)
      return E.right({ backend: backends[name], why: `auto-detected: ${[...skipped, `${name} is usable`].join('; ')}` })
    skipped.push(why)
  }
  return fail(`no usable backend: ${skipped.join('; ')}; ${fallbackBackend.install}, or pass -b`)
}

/**
 * Which side of `cp FROM TO` is in the bottle: the one written with a leading `:`
 * (`:/home/node/out ./out` copies out, `./in :/home/node/in` copies in). Neither: today's form,
 * host to bottle. A host path that starts with `:` is written `./:name`.
 */
export const cpSides = (from: string, to: string, cwd: string): Checked<Extract<BottleOperation, { _tag: 'cp' }>> => {
  const fromGuest = from.startsWith(':')
  const toGuest = to.startsWith(':')
  if (fromGuest && toGuest)
    return fail(`cp ${show(from)} ${show(to)}: both paths start with ":" (in the bottle); one side must be on the host (write a host path that starts with ":" as ./:name)`)
  if (fromGuest) {
    if (to === '') return fail('cp: the host destination is empty')
    return E.right({ _tag: 'cp', source: from.slice(1), dest: resolve(cwd, to), out: true })
  }
  if (from === '') return fail('cp: the host source is empty')
  return E.right({ _tag: 'cp', source: resolve(cwd, from), dest: toGuest ? to.slice(1) : to })
}

export const toOperation = (req: Request, cwd: string, env: Io['env']): BottleOperation | null => {
  const [, a, b] = req.positional
  const args = req.positional.slice(1)
  const tty = req.flags.tty ?? null
  switch (req.op) {
    case 'launch':
      return { _tag: 'launch' }
    case 'agent':
      return { _tag: 'agent', args, tty }
    case 'resume':
      return { _tag: 'resume', args, tty }
    case 'attach': {
      // --pane is checked against paneModes before this is called.
      const pane = req.flags.pane as PaneMode
      // Without --target, split and respawn act on the pane bottle runs in: tmux's own default is
      // the session's active pane, which from a background window is another program's. A new
      // window goes to bottle's session, which tmux finds from $TMUX by itself (and new-window's
      // -t takes no pane).
      const own = req.flags.target === undefined && pane !== 'window' ? ownTmuxPane(env) : null
      const targeting = own !== null ? { target: own, targetFrom: 'own-pane' as const } : { target: req.flags.target ?? null }
      return { _tag: 'attach', pane, ...targeting, resume: req.flags.resume === true, args }
    }
    case 'exec':
      return { _tag: 'exec', script: a ?? '', user: null }
    case 'shell':
      return { _tag: 'shell', tty }
    case 'cp': {
      // plan-for refuses what cpSides refuses before this is called.
      const sides = cpSides(a ?? '', b ?? '', cwd)
      return E.isLeft(sides) ? { _tag: 'cp', source: '', dest: '' } : sides.right
    }
    case 'probe':
      return { _tag: 'probe' }
    case 'fetch':
      return { _tag: 'fetch', maxBundle: req.flags.maxBundle ?? null }
    case 'down':
      return { _tag: 'down' }
    // update is built from the record and the manifest (updateSpecs); ls and auth name no bottle.
    case 'update':
    case 'ls':
    case 'auth':
      return null
  }
}

/** The manifest's entry for a bottle: an own property only (`constructor` is no declared bottle). */
export const entryOf = (m: Manifest | null, name: string): SpecLayer | undefined =>
  m === null ? {} : Object.hasOwn(m.bottles, name) ? m.bottles[name] : undefined

const undeclared = (m: Manifest | null, name: string): CompileError =>
  compileError(`${m?.file}: declares no bottle ${show(name)} (it has: ${Object.keys(m?.bottles ?? {}).join(', ') || 'none'})`)

/**
 * The spec an op runs with. launch: the manifest and flags (and it writes the record). Every
 * other op on a launched bottle: its launch record, with this command's flags on top; the
 * manifest only feeds a drift warning, since the agent can write it. down with no record (an
 * older bottle, or one already down): the manifest and flags, said in a note; it reads only the
 * name and where the bottle is. Anything else with no record is refused.
 */
export const specFor = (
  req: Request,
  m: Manifest | null,
  name: string,
  backend: Backend,
  flags: SpecLayer,
  recorded: Recorded,
  cwd: string,
): Checked<{ spec: BottleSpec; notes: Note[] }> => {
  const entry = entryOf(m, name)
  const fromManifest = (notes: Note[]) => {
    if (entry === undefined) return E.left(undeclared(m, name))
    const spec = resolveSpec({ name, fromManifest: entry, fromFlags: flags, cwd })
    return E.isLeft(spec) ? spec : E.right({ spec: spec.right, notes })
  }
  // A launch over an existing record is refused after compiling (planFor), so that bad input is
  // still reported as such.
  if (req.op === 'launch') {
    const launched = fromManifest([])
    return E.isRight(launched) && launched.right.spec.network.mode === 'open'
      ? E.right({ ...launched.right, notes: [...launched.right.notes, info(openNetworkNote)] })
      : launched
  }
  if (recorded._tag === 'absent')
    return req.op === 'down'
      ? fromManifest([info(`${name} has no launch record (${recorded.path}): down uses the manifest and flags for its name and location`)])
      : fail(`${name} has no launch record on ${backend.name} (${recorded.path}): launch it first (bottle run launch ${name}); a bottle launched by an older bottle: bottle run down ${name}, then launch it again`)
  const asRecorded = resolveSpec({ name, fromManifest: recorded.layer, fromFlags: {}, cwd })
  if (E.isLeft(asRecorded)) return fail(`${recorded.path}: ${asRecorded.left.message}`)
  const spec = resolveSpec({ name, fromManifest: recorded.layer, fromFlags: flags, cwd })
  if (E.isLeft(spec)) return spec
  return E.right({ spec: spec.right, notes: driftNotes(m, entry, name, backend, asRecorded.right, cwd) })
}

/**
 * update: the bottle's launch record, and what the manifest and flags give today. With no
 * manifest, the flags alone change the record (`bottle run update demo -e CI=1`); a manifest must
 * declare the bottle, as for launch.
 */
export const updateSpecs = (
  m: Manifest | null,
  name: string,
  backend: Backend,
  flags: SpecLayer,
  recorded: Recorded,
  cwd: string,
): Checked<{ spec: BottleSpec; notes: Note[]; op: BottleOperation }> => {
  if (recorded._tag === 'absent')
    return fail(`${name} has no launch record on ${backend.name} (${recorded.path}): nothing to update; launch it first (bottle run launch ${name})`)
  const entry = m === null ? recorded.layer : entryOf(m, name)
  if (entry === undefined) return E.left(undeclared(m, name))
  const asRecorded = resolveSpec({ name, fromManifest: recorded.layer, fromFlags: {}, cwd })
  if (E.isLeft(asRecorded)) return fail(`${recorded.path}: ${asRecorded.left.message}`)
  const declared = resolveSpec({ name, fromManifest: entry, fromFlags: flags, cwd })
  if (E.isLeft(declared)) return declared
  const source = m === null ? `the launch record and this command's flags (no manifest)` : `${m.file} and this command's flags`
  return E.right({
    spec: asRecorded.right,
    notes: [info(`update compares the launch record ${recorded.path} with ${source}`)],
    op: { _tag: 'update', declared: declared.right, recordText: recorded.text },
  })
}

/**
 * The warning for a manifest that no longer says what the bottle was launched with. Never
 * applied: `update` shows and records what can change on a live bottle.
 */
const driftNotes = (m: Manifest | null, entry: SpecLayer | undefined, name: string, backend: Backend, recorded: BottleSpec, cwd: string): Note[] => {
  if (m === null || entry === undefined) return []
  const declared = resolveSpec({ name, fromManifest: entry, fromFlags: {}, cwd })
  const source = m.file
  if (E.isLeft(declared)) return [{ _tag: 'drift', against: 'manifest', text: `${name} (${backend.name}): ${source} no longer resolves (${declared.left.message}); the bottle runs with its launch record` }]
  const differences = diffRecords(
    recordOf(recorded, backend.defaultImage),
    recordOf(declared.right, backend.defaultImage),
    { secrets: backend.secretsAtLaunch === true },
  )
  return differences.length === 0
    ? []
    : [{ _tag: 'drift', against: 'manifest', text: `${driftSentence(name, backend.name, source, { _tag: 'drifted', differences })}; not applied: the bottle runs with its launch record` }]
}

/** Where a bottle's kubectl looks: the spec's context and namespace (the flags' are in it already). */
export const clusterOf = (spec: BottleSpec): ClusterScope => ({ context: spec.context, namespace: spec.namespace })
