/**
 * The CLI: parse flags, read the host once, compile, then print the plan or hand it to the
 * interpreter. Invalid input of any kind is one line on stderr and exit 2, with nothing run.
 *
 *   await main(['plan', 'agent', 'demo', '-b', 'docker', '--', '-p', 'hi'], io)   // prints the plan, returns 0
 */
import { Command, CommanderError, Option } from 'commander'
import * as E from 'fp-ts/lib/Either.js'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Backend, ListScope } from './backends/backend.js'
import { backends, detectionOrder } from './backends/index.js'
import { type Operation, compile, compileList } from './compile.js'
import { onPath, readHostFacts } from './host.js'
import { type CompileError, compileError, show } from './plan/errors.js'
import { type Format, formats, render } from './plan/render.js'
import { type BackendName, type OpName, type Plan, backendNames } from './plan/types.js'
import type { Manifest } from './spec/manifest.js'
import { type NetworkMode, type SpecLayer, envList, networkModes, resolveSpec, secretList, within } from './spec/spec.js'
import { type Checked, kubeContext, kubeNamespace } from './spec/validate.js'

export interface Io {
  readonly out: (text: string) => void
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

/** Invalid input, an unknown op or flag: always this exit code, with nothing run. */
export const exitInvalid = 2
/** A backend binary that is not installed (the shell's "command not found"). */
export const exitMissingBinary = 127

interface Flags {
  backend?: string
  file?: string
  image?: string
  user?: string
  env: string[]
  secret: string[]
  prompt?: string
  workdir?: string
  network?: string
  format: string
  quiet?: boolean
  tty?: boolean
  context?: string
  namespace?: string
}

interface Request {
  readonly mode: 'plan' | 'run'
  readonly op: OpName
  readonly positional: readonly string[]
  readonly flags: Flags
}

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
  const scope = scopeFlags(f)
  if (E.isLeft(scope)) return scope
  return E.right({
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
const scopeFlags = (f: Flags): Checked<ListScope> => {
  const context = f.context === undefined ? E.right(null) : within('--context')(kubeContext(f.context))
  if (E.isLeft(context)) return context
  const namespace = f.namespace === undefined ? E.right(null) : within('--namespace')(kubeNamespace(f.namespace))
  if (E.isLeft(namespace)) return namespace
  return E.right({ context: context.right, namespace: namespace.right })
}

/** --context and -n mean nothing to a backend without a cluster: better refused than ignored. */
const clusterFlagsFit = (f: Flags, backend: Backend): Checked<null> => {
  const given = [f.context === undefined ? [] : ['--context'], f.namespace === undefined ? [] : ['--namespace']].flat()
  return given.length === 0 || backend.name === 'kubernetes'
    ? E.right(null)
    : fail(`${given.join(' and ')} ${given.length > 1 ? 'apply' : 'applies'} only to the kubernetes backend, not ${backend.name}`)
}

const isBackendName = (s: string): s is BackendName => (backendNames as readonly string[]).includes(s)

/** -b, else the bottle's backend in the manifest, else the manifest's, else the first installed. */
const chooseBackend = (
  flag: string | undefined,
  fromManifest: BackendName | undefined,
  env: Io['env'],
): Checked<{ backend: Backend; why: string }> => {
  if (flag !== undefined)
    return isBackendName(flag)
      ? E.right({ backend: backends[flag], why: 'given with -b' })
      : fail(`unknown backend ${show(flag)}: choose one of ${backendNames.join(', ')}`)
  if (fromManifest !== undefined) return E.right({ backend: backends[fromManifest], why: 'named in the manifest' })
  const found = detectionOrder.find((b) => onPath(backends[b].binary, env.PATH))
  return found === undefined
    ? fail(`no backend found: none of ${detectionOrder.join(', ')} is on PATH; install one, or pass -b`)
    : E.right({ backend: backends[found], why: `auto-detected: ${backends[found].binary} is on PATH` })
}

const loadManifest = async (file: string | undefined, cwd: string): Promise<Checked<Manifest | null>> => {
  const path = resolve(cwd, file ?? 'bottle.yaml')
  if (!existsSync(path)) return file === undefined ? E.right(null) : fail(`manifest ${show(file)} does not exist`)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return fail(`manifest ${show(path)} cannot be read: ${(e as Error).message}`)
  }
  const { parseManifest } = await import('./spec/manifest.js')
  return parseManifest(file ?? 'bottle.yaml', text, dirname(path))
}

const toOperation = (req: Request, cwd: string): Operation | null => {
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
    case 'exec':
      return { _tag: 'exec', script: a ?? '', user: null }
    case 'cp':
      return { _tag: 'cp', source: resolve(cwd, a ?? ''), dest: b ?? '' }
    case 'down':
      return { _tag: 'down' }
    case 'ls':
      return null
  }
}

/** Everything up to the plan; reads the host (cwd, manifest, stat of named paths) once. */
export const planFor = async (req: Request, io: Io): Promise<Checked<Plan>> => {
  const cwd = process.cwd()
  const manifest = await loadManifest(req.flags.file, cwd)
  if (E.isLeft(manifest)) return manifest
  const m = manifest.right
  const name = req.positional[0]
  if (req.op === 'ls' || name === undefined) {
    const chosen = chooseBackend(req.flags.backend, m?.backend, io.env)
    if (E.isLeft(chosen)) return chosen
    const fits = clusterFlagsFit(req.flags, chosen.right.backend)
    if (E.isLeft(fits)) return fits
    const scope = scopeFlags(req.flags)
    if (E.isLeft(scope)) return scope
    const p = compileList(chosen.right.backend, scope.right)
    return E.right({ ...p, notes: [...p.notes, `backend ${chosen.right.backend.name}: ${chosen.right.why}`] })
  }
  const entry = m === null ? {} : m.bottles[name]
  if (entry === undefined)
    return fail(`${m?.file}: declares no bottle ${show(name)} (it has: ${Object.keys(m?.bottles ?? {}).join(', ') || 'none'})`)
  const flags = flagLayer(req.flags, cwd)
  if (E.isLeft(flags)) return flags
  const chosen = chooseBackend(req.flags.backend, entry.backend ?? m?.backend, io.env)
  if (E.isLeft(chosen)) return chosen
  const fits = clusterFlagsFit(req.flags, chosen.right.backend)
  if (E.isLeft(fits)) return fits
  const spec = resolveSpec({ name, fromManifest: entry, fromFlags: flags.right, cwd })
  if (E.isLeft(spec)) return spec
  const op = toOperation(req, cwd)
  if (op === null) return fail('internal: ls has no bottle')
  const named = [spec.right.prompt, op._tag === 'cp' ? op.source : null].filter((p): p is string => p !== null)
  const compiled = compile(chosen.right.backend, spec.right, op, readHostFacts(named))
  if (E.isLeft(compiled)) return compiled
  const p = compiled.right
  return E.right({ ...p, notes: [...p.notes, `backend ${p.backend}: ${chosen.right.why}`] })
}

// -------------------------------------------------------------------------------------------------
// commander
// -------------------------------------------------------------------------------------------------

interface OpDoc {
  readonly op: OpName
  readonly args: string
  readonly summary: string
  readonly example: string
}

const opDocs: readonly OpDoc[] = [
  { op: 'launch', args: '<name>', summary: 'create and start the bottle; copy the prompt file in; undo it all on failure', example: 'bottle run launch demo -b docker' },
  { op: 'agent', args: '<name> [args...]', summary: "run the agent as the bottle's user; a TTY iff stdin is a terminal; exits with the agent's code", example: 'bottle run agent demo -- -p "explain this repo"' },
  { op: 'exec', args: '<name> <script>', summary: 'run a POSIX sh script in the bottle, as --user or the bottle\'s user', example: "bottle run exec demo 'npm test' --user node" },
  { op: 'cp', args: '<name> <host-path> <guest-path>', summary: 'copy a host file or directory into the bottle, owned by its user', example: 'bottle run cp demo ./fixtures /home/node/fixtures' },
  { op: 'resume', args: '<name> [args...]', summary: "resume the agent's last session (--continue), or start a fresh one if that fails", example: 'bottle run resume demo' },
  { op: 'down', args: '<name>', summary: 'stop and delete the bottle; a bottle already gone is not an error', example: 'bottle run down demo' },
  { op: 'ls', args: '', summary: "list this tool's bottles on a backend", example: 'bottle run ls -b docker' },
]

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const addOp = (parent: Command, mode: 'plan' | 'run', doc: OpDoc, onRequest: (r: Request) => void): void => {
  const cmd = parent
    .command(`${doc.op}${doc.args === '' ? '' : ` ${doc.args}`}`)
    .description(doc.summary)
    .addOption(new Option('-b, --backend <backend>', `${backendNames.join(' | ')} (default: the manifest's, else the first of ${detectionOrder.join(', ')} on PATH)`))
    .option('-f, --file <file>', 'manifest (default: ./bottle.yaml if present)')
    .option('--context <context>', "kubernetes: the kubeconfig context (default: the manifest's, else kubectl's current context)")
    .option('-n, --namespace <namespace>', "kubernetes: the namespace (default: the manifest's, else the context's)")
  if (doc.op !== 'ls')
    cmd
      .option('--image <image>', 'image to create the bottle from')
      .option('--user <user>', "the guest user (default: node); exec runs the script as this user")
      .option('-e, --env <KEY=VALUE>', 'guest env entry (repeatable)', collect, [])
      .option('--secret <NAME>', 'host env var handed to the guest by name (repeatable)', collect, [])
      .option('--prompt <file>', 'system-prompt file for the agent')
      .option('--workdir <dir>', 'host directory bound at the same path and used as the cwd (default: .)')
      .option('--network <mode>', 'none | host | default')
  if (doc.op === 'agent' || doc.op === 'resume')
    cmd.option('--tty', 'allocate a TTY even if stdin is not a terminal').option('--no-tty', 'never allocate a TTY')
  if (mode === 'plan')
    cmd.addOption(new Option('--format <format>', 'text | json | sh').default('text'))
  else cmd.option('-q, --quiet', 'no progress lines')
  cmd.addHelpText('after', `\nExample:\n  ${mode === 'plan' ? doc.example.replace('bottle run', 'bottle plan') : doc.example}\n`)
  cmd.action((...params: unknown[]) => {
    const c = params[params.length - 1] as Command
    const opts = c.opts() as Partial<Flags>
    const positional = c.args
    onRequest({
      mode,
      op: doc.op,
      positional,
      flags: { env: [], secret: [], format: 'text', ...opts },
    })
  })
}

const buildProgram = (io: Io, onRequest: (r: Request) => void): Command => {
  const program = new Command('bottle')
    .description('Run coding agents in sandboxes, and show every command before it runs.')
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({ writeOut: io.out, writeErr: (s) => io.err(s.trimEnd()) })
  const plan = program.command('plan').description('print the plan for an operation; run nothing')
  const run = program.command('run').description('run the plan for an operation')
  for (const [mode, parent] of [['plan', plan], ['run', run]] as const) {
    parent.exitOverride().showSuggestionAfterError(false).configureOutput({ writeOut: io.out, writeErr: (s) => io.err(s.trimEnd()) })
    for (const doc of opDocs) addOp(parent, mode, doc, onRequest)
    for (const c of parent.commands)
      c.exitOverride().showSuggestionAfterError(false).configureOutput({ writeOut: io.out, writeErr: (s) => io.err(s.trimEnd()) })
  }
  return program
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

export const main = async (argv: readonly string[], io: Io): Promise<number> => {
  let request: Request | null = null
  const program = buildProgram(io, (r) => {
    request = r
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; every parse error is invalid input.
      return e.exitCode === 0 ? 0 : exitInvalid
    }
    throw e
  }
  const req = request as Request | null
  if (req === null) {
    io.err('bottle: say plan or run, then an operation (bottle --help)')
    return exitInvalid
  }
  if (req.mode === 'plan' && !(formats as readonly string[]).includes(req.flags.format)) {
    io.err(`bottle: --format ${show(req.flags.format)} must be one of ${formats.join(', ')}`)
    return exitInvalid
  }
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
  const { interpret } = await import('./interpret.js')
  const outcome = await interpret(plan, { hostEnv: io.env, quiet: req.flags.quiet === true, log: io.err })
  switch (outcome._tag) {
    case 'exited':
      return outcome.code
    case 'missingSecrets':
      io.err(`bottle: secret${outcome.names.length > 1 ? 's' : ''} ${outcome.names.join(', ')} not set in the host environment; nothing was run`)
      return exitInvalid
    case 'missingBinary': {
      const b = Object.values(backends).find((x) => x.binary === outcome.binary)
      io.err(`bottle: ${outcome.binary} is not installed (not found on PATH)${b === undefined ? '' : `: ${b.install}`}`)
      return exitMissingBinary
    }
  }
}
