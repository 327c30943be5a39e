/**
 * The CLI: parse flags, read the host once, compile, then print the plan or hand it to the
 * interpreter. Invalid input of any kind is one line on stderr and exit 2, with nothing run.
 *
 *   await main(['plan', 'agent', 'demo', '-b', 'docker', '--', '-p', 'hi'], io)   // prints the plan, returns 0
 */
import * as E from 'fp-ts/lib/Either.js'
import { dirname, resolve } from 'node:path'
import type { PaneMode } from './attach.js'
import type { Backend, BottleRow, ClusterScope, HostFacts } from './backends/backend.js'
import { backends, detectionOrder, fallbackBackend } from './backends/index.js'
import { compile } from './compile.js'
import { type Surroundings, askOnTerminal, manifestLimit, onPath, ownTmuxPane, promptFileProblem, readHostFacts, readRecordFile, readRegularFile, readSurroundings, readWorkdirFacts, unusable } from './host.js'
import type { Outcome } from './interpret.js'
import { eventLines, stepFailedLines } from './run-events.js'
import { type ListedBottle, driftAgainst, driftFor, driftSentence, renderLsJson, renderLsText } from './ls.js'
import { bottleStateDir, decodeLaunchRecord, diffRecords, hashAndEncode, recordFile, recordOf } from './bottle-spec/record.js'
import { type CompileError, compileError, oneLine, show } from './plan/errors.js'
import type { BottleOperation } from './plan/operation.js'
import { type Format, render, runWarnings, updateLines } from './plan/render.js'
import { type BackendName, type Note, type Plan, backendNames, info } from './plan/types.js'
import { helpText, version } from './cli/help.js'
import { type Flags, type Request, parseRequest } from './cli/request.js'
import { profileNamed } from './bottle-spec/agent.js'
import type { Manifest } from './bottle-spec/manifest.js'
import { type BottleSpec, type NetworkMode, type SpecLayer, envList, networkModes, resolveSpec, secretList, within } from './bottle-spec/spec.js'
import { type Checked, bottleName, kubeContext, kubeNamespace } from './bottle-spec/validate.js'
import { workdirRefusal } from './workdir.js'

export interface Io {
  readonly out: (text: string) => void
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

/** What the CLI works with below main: where it writes, and the host as main read it, once. */
interface Cli extends Io {
  readonly host: Surroundings
}

/** Invalid input, an unknown op or flag: always this exit code, with nothing run. */
export const exitInvalid = 2
/** A backend binary that is not installed (the shell's "command not found"). */
export const exitMissingBinary = 127
/** A program found on PATH that cannot be executed (the shell's "permission denied"). */
export const exitCannotExecute = 126
/** A backend or its engine failed: unreachable, too slow to answer, a missing bottle, or an answer bottle cannot read. */
export const exitBackendFailed = 125

/** How to get the programs a plan runs that are not backends. */
const otherInstalls: Readonly<Record<string, string>> = { tmux: 'install tmux (3.0 or newer), e.g. apt-get install tmux' }

// -------------------------------------------------------------------------------------------------
// from flags to a plan
// -------------------------------------------------------------------------------------------------

const fail = (message: string): E.Either<CompileError, never> => E.left(compileError(message))

/** `-e K=V` → ['K', 'V']; the value may itself contain `=`. */
const splitEnvFlag = (s: string): Checked<readonly [string, string]> => {
  const i = s.indexOf('=')
  return i <= 0 ? fail(`--env ${show(s)} must be KEY=VALUE`) : E.right([s.slice(0, i), s.slice(i + 1)] as const)
}

const flagLayer = (f: Flags, cwd: string): Checked<SpecLayer> => {
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
  if (f.network !== undefined && !(networkModes as readonly string[]).includes(f.network))
    return fail(`--network ${show(f.network)} must be one of ${networkModes.join(', ')}`)
  const agent = f.agent === undefined ? E.right(undefined) : within('--agent')(profileNamed(f.agent))
  if (E.isLeft(agent)) return agent
  const scope = scopeFlags(f)
  if (E.isLeft(scope)) return scope
  return E.right({
    ...(agent.right === undefined ? {} : { agent: agent.right }),
    ...(f.allowRoot === undefined ? {} : { allowRoot: f.allowRoot }),
    ...(scope.right.context === null ? {} : { context: scope.right.context }),
    ...(scope.right.namespace === null ? {} : { namespace: scope.right.namespace }),
    ...(f.image === undefined ? {} : { image: f.image }),
    ...(f.user === undefined ? {} : { user: f.user }),
    ...(f.workdir === undefined ? {} : { workdir: resolve(cwd, f.workdir) }),
    ...(f.prompt === undefined ? {} : { prompt: resolve(cwd, f.prompt) }),
    ...(f.network === undefined ? {} : { network: f.network as NetworkMode }),
    env: env.right,
    secrets: secrets.right,
  })
}

/** --context and --namespace, checked; null where not given. */
const scopeFlags = (f: Flags): Checked<ClusterScope> => {
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
const clusterFlagsFit = (f: Flags, backend: Backend | null): Checked<null> => {
  const given = [f.context === undefined ? [] : ['--context'], f.namespace === undefined ? [] : ['--namespace']].flat()
  if (given.length === 0 || backend?.clusterScoped === true) return E.right(null)
  const applies = `${given.join(' and ')} ${given.length > 1 ? 'apply' : 'applies'} only to the kubernetes backend`
  return backend === null
    ? fail(`${applies}, which is listed only when named: pass -b kubernetes`)
    : fail(`${applies}, not ${backend.name}`)
}

const isBackendName = (s: string): s is BackendName => (backendNames as readonly string[]).includes(s)

/** The backend -b names, handed to `then`; an unknown name is invalid input. */
const namedBackend = <A>(flag: string, then: (backend: Backend) => A): Checked<A> =>
  isBackendName(flag) ? E.right(then(backends[flag])) : fail(`unknown backend ${show(flag)}: choose one of ${backendNames.join(', ')}`)

/**
 * -b, else the bottle's backend in the manifest, else the manifest's, else the first usable one in
 * detection order. The reason goes into the plan's notes, so `bottle plan` says why.
 */
const chooseBackend = (
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

const loadManifest = async (file: string | undefined, cwd: string): Promise<Checked<Manifest | null>> => {
  const path = resolve(cwd, file ?? 'bottle.yaml')
  // A regular file of at most manifestLimit bytes: `-f FIFO` must not wait forever for a writer,
  // nor `-f /dev/zero` read without end.
  const read = readRegularFile(path, manifestLimit)
  switch (read._tag) {
    case 'missing':
      return file === undefined ? E.right(null) : fail(`manifest ${show(file)} does not exist`)
    case 'refused':
      return fail(`manifest ${show(file ?? path)} ${read.reason}`)
    case 'text': {
      const { parseManifest } = await import('./bottle-spec/manifest.js')
      return parseManifest(file ?? 'bottle.yaml', read.text, dirname(path))
    }
  }
}

const toOperation = (req: Request, cwd: string, env: Io['env']): BottleOperation | null => {
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
    case 'cp':
      return { _tag: 'cp', source: resolve(cwd, a ?? ''), dest: b ?? '' }
    case 'down':
      return { _tag: 'down' }
    // update is built from the record and the manifest (updateSpecs); ls names no bottle.
    case 'update':
    case 'ls':
      return null
  }
}

/** A bottle name that can be one path segment below the state root (every backend's names are). */
const stateSegment = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/

/** The manifest's entry for a bottle: an own property only (`constructor` is no declared bottle). */
const entryOf = (m: Manifest | null, name: string): SpecLayer | undefined =>
  m === null ? {} : Object.hasOwn(m.bottles, name) ? m.bottles[name] : undefined

const undeclared = (m: Manifest | null, name: string): CompileError =>
  compileError(`${m?.file}: declares no bottle ${show(name)} (it has: ${Object.keys(m?.bottles ?? {}).join(', ') || 'none'})`)

/** What a bottle's launch record says, read at the edge: the layer it gives, or why there is none. */
type Recorded =
  | { readonly _tag: 'absent'; readonly path: string }
  | { readonly _tag: 'recorded'; readonly path: string; readonly layer: SpecLayer; readonly text: string }

const readRecorded = (host: Surroundings, backend: BackendName, name: string): Checked<Recorded> => {
  const valid = bottleName(name)
  if (E.isLeft(valid)) return valid
  if (!stateSegment.test(name))
    return fail(`bottle name ${show(name)} cannot name a state directory: letters, digits, _, . and -, starting with a letter or digit`)
  const path = `${bottleStateDir(host.stateRoot, backend, name)}/${recordFile}`
  const read = readRecordFile(path, host)
  if (read._tag === 'absent') return E.right({ _tag: 'absent', path })
  if (read._tag === 'refused') return fail(`the launch record of ${name} is refused: ${read.reason}`)
  const layer = decodeLaunchRecord(read.text, backend, name)
  return E.isLeft(layer) ? fail(`${path}: ${layer.left}`) : E.right({ _tag: 'recorded', path, layer: layer.right, text: read.text })
}

/**
 * The spec an op runs with. launch: the manifest and flags (and it writes the record). Every
 * other op on a launched bottle: its launch record, with this command's flags on top; the
 * manifest only feeds a drift warning, since the agent can write it. down with no record (an
 * older bottle, or one already down): the manifest and flags, said in a note; it reads only the
 * name and where the bottle is. Anything else with no record is refused.
 */
const specFor = (
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
  if (req.op === 'launch') return fromManifest([])
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
const updateSpecs = (
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

/** Everything up to the plan; reads the host (cwd, manifest, launch record, stat of named paths) once. */
export const planFor = async (req: Request, io: Cli): Promise<Checked<Plan>> => {
  const cwd = io.host.cwd
  const manifest = await loadManifest(req.flags.file, cwd)
  if (E.isLeft(manifest)) return manifest
  const m = manifest.right
  const name = req.positional[0]
  // ls and down --all list first (listOrReap); every other op names one bottle.
  if (name === undefined) return fail(req.op === 'down' ? 'down needs a bottle name, or --all' : `${req.op} needs a bottle name`)
  const flags = flagLayer(req.flags, cwd)
  if (E.isLeft(flags)) return flags
  const entry = entryOf(m, name)
  const chosen = chooseBackend(req.flags.backend, entry?.backend ?? m?.backend, io.env)
  if (E.isLeft(chosen)) return chosen
  const backend = chosen.right.backend
  const fits = clusterFlagsFit(req.flags, backend)
  if (E.isLeft(fits)) return fits
  const recorded = readRecorded(io.host, backend.name, name)
  if (E.isLeft(recorded)) return recorded
  const resolved =
    req.op === 'update'
      ? updateSpecs(m, name, backend, flags.right, recorded.right, cwd)
      : E.map((r: { spec: BottleSpec; notes: Note[] }) => ({ ...r, op: toOperation(req, cwd, io.env) }))(specFor(req, m, name, backend, flags.right, recorded.right, cwd))
  if (E.isLeft(resolved)) return resolved
  const { spec, op } = resolved.right
  if (op === null) return fail('internal: ls has no bottle')
  // Launch binds the workdir into the bottle for its whole life; later ops use the recorded one.
  if (op._tag === 'launch' && backend.bindsWorkdir) {
    const { workdir, guard } = readWorkdirFacts(spec.workdir, io.host)
    const refused = workdirRefusal(workdir, guard)
    if (refused !== null) return fail(refused)
  }
  // The prompt launch or update copies in: a FIFO would hang the copy, /dev/zero fill the bottle.
  const copiedPrompt = op._tag === 'launch' ? spec.prompt : op._tag === 'update' && op.declared.prompt !== spec.prompt ? op.declared.prompt : null
  const promptProblem = copiedPrompt === null ? null : promptFileProblem(copiedPrompt)
  if (promptProblem !== null) return fail(`prompt file ${show(copiedPrompt ?? '')} ${promptProblem}`)
  const named = [spec.prompt, op._tag === 'cp' ? op.source : null, op._tag === 'update' ? op.declared.prompt : null].filter((p): p is string => p !== null)
  // A backend that keeps its bottles on the host (bwrap) reads what it needs of it; others read nothing.
  const own = backend.hostFacts?.({ name, image: spec.image, users: [spec.user, ...(op._tag === 'exec' && op.user !== null ? [op.user] : [])] }, io.host)
  const compiled = compile(backend, spec, op, readHostFacts(named, own ?? {}, clusterOf(spec), io.host))
  if (E.isLeft(compiled)) return compiled
  if (op._tag === 'launch' && recorded.right._tag === 'recorded')
    return fail(`${name} is launched already on ${backend.name} (its launch record is ${recorded.right.path}); take it down first: bottle run down ${name}`)
  const p = compiled.right
  const checked = req.flags.checkDrift === true ? [await checkDrift(backend, spec, io)] : []
  const chosenNote: Note = { _tag: 'backend', backend: p.backend, why: chosen.right.why }
  return E.right({ ...p, notes: [...p.notes, chosenNote, ...resolved.right.notes, ...checked] })
}

// -------------------------------------------------------------------------------------------------
// listing: ls, down --all and --check-drift run the backend's list plan, then read its output
// -------------------------------------------------------------------------------------------------

/** ls and down --all look at the backend given with -b, else at every backend on PATH. */
const backendsToList = (flag: string | undefined, env: Io['env']): Checked<{ backends: Backend[]; why: string }> => {
  if (flag !== undefined) return namedBackend(flag, (backend) => ({ backends: [backend], why: 'given with -b' }))
  // Installed is enough here, unlike auto-detection for one bottle: a docker client whose engine
  // is down should say so in `ls`, not hide that engine's bottles.
  const found = detectionOrder.filter((b) => onPath(backends[b].binary, env.PATH)).map((b) => backends[b])
  return found.length === 0
    ? fail(`no backend found: none of ${detectionOrder.join(', ')} is on PATH; install one, or pass -b`)
    : E.right({ backends: found, why: 'on PATH (without -b, every backend on PATH is listed)' })
}

/** Where a bottle's kubectl looks: the spec's context and namespace (the flags' are in it already). */
const clusterOf = (spec: BottleSpec): ClusterScope => ({ context: spec.context, namespace: spec.namespace })

/**
 * What listing needs to know about the host: the backend's own facts (bwrap: where its bottles,
 * host directories, are); kubernetes, which cluster and namespace to look in.
 */
const listingHost = (backend: Backend, host: Surroundings, cluster: ClusterScope): HostFacts =>
  readHostFacts([], backend.hostFacts?.(null, host) ?? {}, cluster, host)

const missingBinaryMessage = (binary: string): string => {
  const b = Object.values(backends).find((x) => x.binary === binary)
  const install = b?.install ?? otherInstalls[binary]
  return `bottle: ${binary} is not installed (not found on PATH)${install === undefined ? '' : `: ${install}`}`
}

/** E2BIG in one line: which program, and the secrets its environment held, by name. */
const tooBigMessage = (o: Extract<Outcome, { _tag: 'tooBigForExec' }>): string =>
  `bottle: ${o.binary} cannot be started: its arguments and environment are too big for exec (E2BIG)${o.secrets.length === 0 ? '' : `; its environment holds the secret${o.secrets.length > 1 ? 's' : ''} ${o.secrets.join(', ')}`}`

/** `bottle run`'s exit code for an outcome, saying why on stderr when it is bottle's own. */
const exitCodeOf = (outcome: Outcome, io: Cli): number => {
  switch (outcome._tag) {
    case 'exited':
      return outcome.code
    case 'stepFailed':
      for (const l of stepFailedLines(outcome)) io.err(l)
      return outcome.code
    case 'missingSecrets':
      io.err(`bottle: secret${outcome.names.length > 1 ? 's' : ''} ${outcome.names.join(', ')} not set in the host environment; nothing was run`)
      return exitInvalid
    case 'oversizedSecrets':
      io.err(`bottle: secret${outcome.names.length > 1 ? 's' : ''} ${outcome.names.join(', ')} too big: NAME=VALUE must fit in 128 KiB (Linux's limit for one environment string); nothing was run`)
      return exitInvalid
    case 'tooBigForExec':
      io.err(tooBigMessage(outcome))
      return exitCannotExecute
    case 'missingBinary':
      if (outcome.error === 'EACCES') {
        io.err(`bottle: ${outcome.binary} cannot be run: permission denied (is it executable?)`)
        return exitCannotExecute
      }
      io.err(missingBinaryMessage(outcome.binary))
      return exitMissingBinary
    case 'timedOut':
      io.err(`bottle: ${timedOutReason(outcome)}; ${outcome.step}`)
      return exitBackendFailed
    case 'backendFailed':
      io.err(backendFailureMessage(outcome))
      return exitBackendFailed
  }
}

/** Runs a plan with real processes, its events on stderr as they come: `bottle run`'s exit code. */
const runAndSay = async (plan: Plan, req: Request, io: Cli): Promise<number> => {
  const { runPlan } = await import('./spawn.js')
  const quiet = req.flags.quiet === true
  const outcome = await runPlan(plan, {
    hostEnv: io.env,
    onEvent: (e) => {
      for (const l of eventLines(e, quiet)) io.err(l)
    },
  })
  return exitCodeOf(outcome, io)
}

/** One line: which backend, which bottle, what the check found; never the guest's own code. */
export const backendFailureMessage = (o: Extract<Outcome, { _tag: 'backendFailed' }>): string =>
  `bottle: ${o.backend} could not run the command in the bottle ${o.bottle} (its exit ${o.code} was ${o.backend}'s own, not the command's): ${o.detail}`

const timedOutReason = (o: Extract<Outcome, { _tag: 'timedOut' }>): string =>
  `${o.binary} gave no answer within its time limit of ${o.timeoutMs / 1000} s, and was stopped`

type Listing =
  | { readonly _tag: 'rows'; readonly rows: readonly BottleRow[] }
  /** Not listed: `reason` is one clause for people; `code` the exit code it stands for. */
  | { readonly _tag: 'failed'; readonly code: number; readonly reason: string }

/** The most of a backend's own message that goes into bottle's one line. */
const reasonLimit = 300

/**
 * Why a listing failed, in one clause: the last line the backend's tool wrote on stderr (docker:
 * "Cannot connect to the Docker daemon at …"), else its exit code.
 */
const listingFailure = (outcome: Outcome): { code: number; reason: string } => {
  switch (outcome._tag) {
    case 'exited':
      return { code: exitBackendFailed, reason: `the listing exited with code ${outcome.code}` }
    case 'stepFailed': {
      const said = [outcome.stdout, outcome.stderr].flatMap((t) => t.split('\n')).map((l) => l.trim()).filter((l) => l !== '')
      const last = said.at(-1)
      const reason = last === undefined ? `the listing exited with code ${outcome.code}` : last.length > reasonLimit ? `${last.slice(0, reasonLimit)}…` : last
      return { code: exitBackendFailed, reason: oneLine(reason) }
    }
    case 'timedOut':
      return { code: exitBackendFailed, reason: timedOutReason(outcome) }
    case 'missingBinary':
      return outcome.error === 'EACCES'
        ? { code: exitCannotExecute, reason: `${outcome.binary} cannot be run: permission denied` }
        : { code: exitMissingBinary, reason: missingBinaryMessage(outcome.binary).replace(/^bottle: /, '') }
    case 'missingSecrets':
      return { code: exitInvalid, reason: `secrets ${outcome.names.join(', ')} are not set` }
    case 'oversizedSecrets':
      return { code: exitInvalid, reason: `secrets ${outcome.names.join(', ')} are too big for exec` }
    case 'tooBigForExec':
      return { code: exitCannotExecute, reason: tooBigMessage(outcome).replace(/^bottle: /, '') }
    case 'backendFailed':
      return { code: exitBackendFailed, reason: oneLine(outcome.detail) }
  }
}

/**
 * Runs the backend's list plan (read-only, each step with its time limit) and parses what it
 * printed. A failure is returned, not printed: the caller says it in one line, beside the others.
 */
const listOn = async (backend: Backend, io: Cli, cluster: ClusterScope): Promise<Listing> => {
  const { runPlan } = await import('./spawn.js')
  // Silent: a listing creates nothing to undo, and what a failed one said comes back in its
  // outcome, to become one line beside the other backends'.
  const outcome = await runPlan(listPlan(backend, listingHost(backend, io.host, cluster)), { hostEnv: io.env, onEvent: () => {} })
  if (outcome._tag !== 'exited' || outcome.code !== 0) return { _tag: 'failed', ...listingFailure(outcome) }
  const stdout = outcome.captured?.at(-1) ?? ''
  const parsed = backend.parseList(stdout)
  // Entries the backend could not read are skipped, each with a line, and the rest still listed.
  for (const w of backend.listWarnings?.(stdout) ?? []) io.err(`bottle: warning: ${oneLine(w)}`)
  if (E.isLeft(parsed)) return { _tag: 'failed', code: exitBackendFailed, reason: `its listing cannot be read: ${parsed.left.message}` }
  // Sorted by name, so the order does not depend on when each bottle was created.
  return { _tag: 'rows', rows: [...parsed.right].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) }
}

/** Where to see the listing's exact argv, which is long (docker's is a whole template). */
const seeListing = (backend: Backend): string => `read-only; \`bottle plan ls -b ${backend.name}\` shows the command`

/**
 * --check-drift: a plan note saying whether the live bottle still carries the spec hash of the
 * spec this op runs with (its launch record, and this command's flags). `plan` runs nothing
 * unless asked; this is the asking.
 */
const checkDrift = async (backend: Backend, spec: BottleSpec, io: Cli): Promise<Note> => {
  const how = `(${seeListing(backend)})`
  const live = (text: string): Note => ({ _tag: 'drift', against: 'live', text })
  const listed = await listOn(backend, io, clusterOf(spec))
  if (listed._tag === 'failed') return live(`not checked: listing the bottles on ${backend.name} failed: ${listed.reason} ${how}`)
  const found = listed.rows.find((r) => r.name === spec.name)
  if (found === undefined) return live(`${spec.name} was not found on ${backend.name} ${how}`)
  const row = withRecord(found, io.host)
  return live(`${driftSentence(spec.name, backend.name, 'this spec', driftAgainst(row, spec))} ${how}`)
}

/**
 * A listed bottle with its launch record read (a file read): the recorded spec in the form
 * drift compares, and the image when the backend does not report one (bwrap).
 */
const withRecord = (row: BottleRow, host: Surroundings): BottleRow => {
  const cwd = host.cwd
  const recorded = readRecorded(host, row.backend, row.name)
  if (E.isLeft(recorded) || recorded.right._tag === 'absent') return row
  const spec = resolveSpec({ name: row.name, fromManifest: recorded.right.layer, fromFlags: {}, cwd })
  if (E.isLeft(spec)) return row
  const r = recordOf(spec.right, backends[row.backend].defaultImage)
  // The labels keep the hash the bottle was launched with, and a container's labels cannot
  // change; `update` rewrites the record, which is what the bottle runs with: its hash counts.
  const { hash, encoded } = hashAndEncode(r)
  return { ...row, specHash: hash, spec: encoded, image: row.image ?? r.image }
}

/**
 * Several backends' plans: one plan as usual with -b; without it, the text plans one after another
 * and the JSON ones as an array (the shape follows the flags, not what is installed). A script
 * runs one plan: sh with several backends is refused before anything runs.
 */
const renderPlans = (plans: readonly Plan[], format: Format, single: boolean): string =>
  single && plans.length === 1
    ? render(plans[0] as Plan, format)
    : format === 'json'
      ? `${JSON.stringify(plans, null, 2)}\n`
      : plans.map((p) => render(p, format)).join('\n')

const withNote = (p: Plan, note: Note): Plan => ({ ...p, notes: [...p.notes, note] })

/** The plan of ls on a backend: it names no bottle, so it has no spec, and it cannot be refused. */
const listPlan = (backend: Backend, host: HostFacts): Plan => {
  const p = compile(backend, null, { _tag: 'ls' }, host)
  if (E.isLeft(p)) throw new Error(`ls on ${backend.name} was refused: ${p.left.message}`)
  return p.right
}

/** `ls` and `down --all`: everything that lists before it plans. */
const listOrReap = async (req: Request, io: Cli): Promise<number> => {
  const reap = req.op === 'down'
  if (reap && req.positional.length > 0) {
    io.err('bottle: down --all takes no bottle name')
    return exitInvalid
  }
  const single = req.flags.backend !== undefined
  // Without -b, cluster flags are refused before looking at PATH: no backend listed would take them.
  const early = single ? E.right(null) : clusterFlagsFit(req.flags, null)
  const chosen = E.isLeft(early) ? early : backendsToList(req.flags.backend, io.env)
  if (E.isLeft(chosen)) {
    io.err(`bottle: ${chosen.left.message}`)
    return exitInvalid
  }
  const { backends: targets, why } = chosen.right
  const fits = single ? clusterFlagsFit(req.flags, targets[0] ?? null) : E.right(null)
  const cluster = E.isLeft(fits) ? fits : scopeFlags(req.flags)
  if (E.isLeft(cluster)) {
    io.err(`bottle: ${cluster.left.message}`)
    return exitInvalid
  }
  const format = req.flags.format as Format
  if (req.mode === 'plan' && format === 'sh' && !single && targets.length > 1) {
    io.err(`bottle: --format sh prints one backend's script, and ${targets.map((b) => b.name).join(' and ')} are on PATH: pass -b`)
    return exitInvalid
  }
  if (!reap) {
    if (req.mode === 'plan') {
      io.out(renderPlans(targets.map((b) => withNote(listPlan(b, listingHost(b, io.host, cluster.right)), { _tag: 'backend', backend: b.name, why })), format, single))
      return 0
    }
    return listBottles(req, io, targets, cluster.right)
  }
  // down --all: the plan must show exactly what would be deleted, so even `plan` lists first.
  // A backend that cannot be listed is one line, and the others are still cleaned up; the exit
  // code still says that something may be left (on that backend).
  let code = 0
  const plans: Plan[] = []
  for (const b of targets) {
    const listed = await listOn(b, io, cluster.right)
    if (listed._tag === 'failed') {
      io.err(notListedLine(b, listed.reason))
      code ||= listed.code
      continue
    }
    const planned = compile(b, null, { _tag: 'down', all: listed.rows.map((r) => r.name) }, listingHost(b, io.host, cluster.right))
    if (E.isLeft(planned)) {
      io.err(`bottle: ${b.name}: ${planned.left.message}`)
      code ||= exitInvalid
      continue
    }
    const p = withNote(
      withNote(planned.right, { _tag: 'backend', backend: b.name, why }),
      info(`the bottles to remove were found by listing just now (${seeListing(b)}); bottle run down --all lists again and removes what it finds then`),
    )
    if (req.mode === 'plan') plans.push(p)
    else {
      code ||= await runAndSay(p, req, io)
    }
  }
  if (req.mode === 'plan' && plans.length > 0) io.out(renderPlans(plans, format, single))
  return code
}

/** One line for a backend that could not be listed: which, and why. */
const notListedLine = (b: Backend, reason: string): string => `bottle: cannot list the ${b.name} bottles: ${reason}`

/**
 * `bottle ls`: list each backend, compare with the manifest, print. A backend that cannot be
 * listed (no engine, no answer within the time limit) is one line and an `unreachable` entry; the
 * others are listed. The exit code is that backend's failure when it was the only one asked for
 * (-b), or when no backend could be listed at all; otherwise 0.
 */
const listBottles = async (req: Request, io: Cli, targets: readonly Backend[], cluster: ClusterScope): Promise<number> => {
  const cwd = io.host.cwd
  const manifest = await loadManifest(req.flags.file, cwd)
  if (E.isLeft(manifest)) {
    io.err(`bottle: ${manifest.left.message}`)
    return exitInvalid
  }
  // The clock was read once, by main; everything below gets `now`.
  const now = io.host.now
  const failures: { backend: BackendName; reason: string; code: number }[] = []
  const listed: ListedBottle[] = []
  // All at once: each backend's time limit then bounds the whole listing, not their sum.
  const results = await Promise.all(targets.map((b) => listOn(b, io, cluster)))
  for (const [i, l] of results.entries()) {
    const b = targets[i] as Backend
    if (l._tag === 'failed') {
      io.err(notListedLine(b, l.reason))
      failures.push({ backend: b.name, reason: l.reason, code: l.code })
    } else
      listed.push(...l.rows.map((r) => withRecord(r, io.host)).map((row) => ({ ...row, drift: driftFor(row, manifest.right, cwd) })))
  }
  const source = manifest.right?.file ?? 'the manifest'
  const unreachable = failures.map(({ backend, reason }) => ({ backend, reason }))
  io.out(req.flags.json === true ? renderLsJson(listed, unreachable, now, source) : renderLsText(listed, now, source))
  return failures.length === targets.length ? (failures[0]?.code ?? 0) : 0
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

/**
 * `bottle run update`: show the difference, then apply only when the user says so: --yes, or
 * "y" on a terminal. Null: go ahead; else the exit code, with nothing written. A secret the
 * update adds is checked before asking, so a "y" is never answered with a refusal.
 */
const confirmUpdate = async (plan: Plan, req: Request, io: Cli): Promise<number | null> => {
  const yes = req.flags.yes === true
  if (!(yes && req.flags.quiet === true)) for (const l of updateLines(plan)) io.err(`bottle: ${l}`)
  if (plan.steps.length === 0) return 0
  // From the interpreter's bundle, which the run that follows loads anyway.
  const { hostValue } = await import('./spawn.js')
  const missing = plan.secrets.filter((n) => hostValue(io.env, n) === undefined)
  if (missing.length > 0) {
    io.err(`bottle: secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set in the host environment; nothing was written`)
    return exitInvalid
  }
  if (yes) return null
  if (!(io.host.stdinIsTTY && io.host.stderrIsTTY)) {
    io.err('bottle: update asks before it writes, and stdin or stderr is not a terminal: pass --yes to apply it; nothing was written')
    return exitInvalid
  }
  const answer = await askOnTerminal(`apply to ${plan.bottle}? [y/N] `)
  if (answer === null) return 130
  if (/^y(es)?$/i.test(answer)) return null
  io.err('bottle: not applied; nothing was written')
  return exitInvalid
}

/** Exit code of a bug in bottle (a throw that reached main): not one of the codes the CLI promises. */
export const exitBug = 1

/**
 * What `bottle` prints for a throw that reached the top: one line naming it a bug, and the stack
 * only when BOTTLE_DEBUG=1. The message is cut short and made one line: it may quote a plan.
 */
export const bugReport = (e: unknown, debug: boolean): string[] => {
  const message = e instanceof Error ? e.message : String(e)
  const short = oneLine(message.length > 200 ? `${message.slice(0, 200)}…` : message)
  const line = `bottle: internal error (a bug in bottle, please report it): ${short}${debug ? '' : ' (BOTTLE_DEBUG=1 shows where)'}`
  return debug && e instanceof Error && e.stack !== undefined ? [line, ...e.stack.split('\n')] : [line]
}

/**
 * `host` is read here unless given: main is the edge, and nothing below it reads the cwd, the
 * clock, isTTY or the environment itself.
 */
export const main = async (argv: readonly string[], io: Io, host: Surroundings = readSurroundings(io.env)): Promise<number> => {
  const parsed = parseRequest(argv)
  switch (parsed._tag) {
    case 'invalid':
      io.err(`bottle: ${parsed.message}`)
      return exitInvalid
    case 'help':
      io.out(helpText(parsed.topic))
      return 0
    case 'version':
      io.out(`${version}\n`)
      return 0
    case 'request':
      return answer(parsed.request, { ...io, host })
  }
}

const answer = async (req: Request, io: Cli): Promise<number> => {
  if (req.op === 'ls' || (req.op === 'down' && req.flags.all === true)) return listOrReap(req, io)
  const planned = await planFor(req, io)
  if (E.isLeft(planned)) {
    io.err(`bottle: ${planned.left.message}`)
    return exitInvalid
  }
  const plan = planned.right
  if (req.mode === 'plan') {
    io.out(render(plan, req.flags.format as Format))
    return 0
  }
  // docker and smolvm refuse -t when stdin is not a terminal ("the input device is not a TTY",
  // exit 1, after bottle's other checks); kubectl quietly drops it. One rule for every backend,
  // said before anything runs.
  if (req.flags.tty === true && (req.op === 'agent' || req.op === 'resume') && !io.host.stdinIsTTY) {
    io.err('bottle: --tty needs a terminal on stdin, and stdin is not one (a pipe or a file): drop --tty, or run from a terminal')
    return exitInvalid
  }
  // --check-drift's finding is a warning: the op still runs, on the bottle as it is.
  for (const line of runWarnings(plan)) io.err(line)
  if (plan.op === 'update') {
    const refused = await confirmUpdate(plan, req, io)
    if (refused !== null) return refused
  }
  return runAndSay(plan, req, io)
}
