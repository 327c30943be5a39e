/**
 * Independent decoders: read a backend's exec argv the way its CLI would, back into a GuestIntent
 * (invariant 7). Written from the flag grammar of docker (pflag), smolvm (clap) and kubectl
 * (cobra), plus runuser and GNU env, and of bwrap (its own parser, plus the environment it hands
 * on), never by calling the encoder, so an encoder bug cannot hide behind a matching decoder bug.
 *
 *   decodeDockerExec(['docker','exec','-i','-u','node','-e','HOME=/home/node','-e','USER=node','-w','/w','demo','claude'])
 *   // { user: 'node', home: '/home/node', env: [], secrets: [], cwd: '/w', argv: ['claude'], tty: false, stdin: true }
 *   decoders[backend.name](step, { host, launch })   // the same, for any backend's guest step
 *
 * `launch` is the launch plan of the same bottle: on kubernetes the command starts with the
 * container's env, which the Pod on that plan's stdin says (the secrets, by secretKeyRef).
 * A decoder throws on argv its CLI would reject or that an intent cannot describe.
 */
import type { HostFacts } from '../../src/backends/backend.js'
import { type BackendName, type GuestIntent, type Json, type Plan, type Step, secretSource } from '../../src/plan/types.js'

/** Reads one CLI's exec argv back. */
export type ArgvDecoder = (argv: readonly string[]) => GuestIntent

/** What a guest step's decoder may read besides the step: the host facts, and the bottle's launch plan. */
export interface DecodeContext {
  readonly host: HostFacts
  readonly launch: Plan
}

/**
 * Reads one guest step. bwrap's guest env is not in argv but in the process env, and stdin is the
 * step's stdio; kubernetes's starts with the Pod's env, on the launch plan; docker and smolvm
 * read argv alone.
 */
export type StepDecoder = (step: Pick<Step, 'argv' | 'env' | 'stdio'>, context: DecodeContext) => GuestIntent

/** What the flags of either CLI say, before the user switch and the command. */
interface ExecFlags {
  name: string | null
  user: string | null
  env: [string, string][]
  /** Host variables forwarded by name: the value comes from the backend process's env. */
  forwarded: string[]
  cwd: string | null
  tty: boolean
  stdin: boolean
}

const noFlags = (): ExecFlags => ({ name: null, user: null, env: [], forwarded: [], cwd: null, tty: false, stdin: false })

/** A later `-e K=…` wins, as in both CLIs; the first position is kept. */
const setEnv = (flags: ExecFlags, key: string, value: string): void => {
  const at = flags.env.findIndex(([k]) => k === key)
  if (at >= 0) flags.env[at] = [key, value]
  else flags.env.push([key, value])
}

/** `-e K=V` sets K; `-e K` forwards the host's K (docker; smolvm's `parse_env_spec` likewise). */
const envFlag = (flags: ExecFlags, spec: string): void => {
  const eq = spec.indexOf('=')
  if (eq < 0) flags.forwarded.push(spec)
  else if (eq > 0) setEnv(flags, spec.slice(0, eq), spec.slice(eq + 1))
  // smolvm drops an empty key; docker rejects it. Neither sets anything.
}

/**
 * Builds the intent: HOME from the env, USER must agree with the user switch (runuser and docker
 * -u both run as that user; a USER saying otherwise would lie to the agent).
 */
const intentOf = (flags: ExecFlags, user: string | null, argv: readonly string[]): GuestIntent => {
  if (user === null) throw new Error('no user switch: the image default user would run the command')
  const home = flags.env.find(([k]) => k === 'HOME')?.[1]
  if (home === undefined) throw new Error('HOME is not set')
  const userEnv = flags.env.find(([k]) => k === 'USER')?.[1]
  if (userEnv !== user) throw new Error(`USER=${String(userEnv)} but the command runs as ${user}`)
  if (flags.cwd === null) throw new Error('no working directory')
  return {
    user,
    home,
    env: flags.env.filter(([k]) => k !== 'HOME' && k !== 'USER'),
    secrets: flags.forwarded,
    cwd: flags.cwd,
    argv: [...argv],
    tty: flags.tty,
    stdin: flags.stdin,
  }
}

// -------------------------------------------------------------------------------------------------
// the command wrapper (every backend, innermost): `/bin/sh -c WRAPPER sh RUN_ID COMMAND…`
// -------------------------------------------------------------------------------------------------

/**
 * The wrapper bottle puts around agent, exec and resume commands, restated: it exports its first
 * argument as BOTTLE_RUN_ID, exits 127 if the second is not a command, and execs the rest.
 */
export const commandWrapperScript =
  'BOTTLE_RUN_ID=$1; export BOTTLE_RUN_ID; shift; ' +
  `command -v -- "$1" >/dev/null 2>&1 || { printf 'bottle: %s: command not found in the bottle\\n' "$1" >&2; exit 127; }; ` +
  'exec "$@"'

/** The word the run's id goes in (a launch id slot: empty in the plan). */
export const runIdWord = ''

/**
 * The command a guest argv runs: through the wrapper if it has one (the run id only marks the
 * process; it is no part of the intent), else as it is (plumbing).
 */
export const unwrapCommand = (argv: readonly string[]): readonly string[] => {
  if (argv[0] !== '/bin/sh' || argv[1] !== '-c' || argv[2] !== commandWrapperScript) return argv
  if (argv[3] !== 'sh' || argv[4] !== runIdWord) throw new Error(`the command wrapper takes $0 and the run id, not ${JSON.stringify(argv.slice(3, 5))}`)
  if (argv.length < 6) throw new Error('the command wrapper has no command to run')
  return argv.slice(5)
}

// -------------------------------------------------------------------------------------------------
// docker: `docker exec [OPTIONS] CONTAINER COMMAND [ARG...]`, pflag with SetInterspersed(false)
// -------------------------------------------------------------------------------------------------

const dockerBool: Record<string, (f: ExecFlags) => void> = {
  i: (f) => void (f.stdin = true),
  interactive: (f) => void (f.stdin = true),
  t: (f) => void (f.tty = true),
  tty: (f) => void (f.tty = true),
}

const dockerValued: Record<string, (f: ExecFlags, v: string) => void> = {
  u: (f, v) => void (f.user = v),
  user: (f, v) => void (f.user = v),
  e: envFlag,
  env: envFlag,
  w: (f, v) => void (f.cwd = v),
  workdir: (f, v) => void (f.cwd = v),
}

/** docker's grammar; podman's exec has the same flags (plus ones bottle never uses). */
const containerExec = (binary: 'docker' | 'podman'): ArgvDecoder => (argv) => {
  const start = argv[0] === binary && argv[1] === 'exec' ? 2 : argv[0] === binary && argv[1] === 'container' && argv[2] === 'exec' ? 3 : -1
  if (start < 0) throw new Error(`not a ${binary} exec: ${JSON.stringify(argv.slice(0, 3))}`)
  const flags = noFlags()
  let i = start
  const next = (flag: string): string => {
    const v = argv[++i]
    if (v === undefined) throw new Error(`docker: flag needs an argument: ${flag}`)
    return v
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a.startsWith('--')) {
      const [long, attached] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), null]
      const bool = dockerBool[long]
      const valued = dockerValued[long]
      if (bool !== undefined && attached === null) bool(flags)
      else if (valued !== undefined) valued(flags, attached ?? next(a))
      else throw new Error(`docker: unknown flag: ${a}`)
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      // A cluster of shorthands: `-it`, `-uroot`, `-e=K=V` (pflag drops one `=` after a shorthand).
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string
        const bool = dockerBool[c]
        const valued = dockerValued[c]
        if (bool !== undefined) { bool(flags); continue }
        if (valued === undefined) throw new Error(`docker: unknown shorthand flag: '${c}' in ${a}`)
        const rest = a.slice(j + 1)
        valued(flags, rest === '' ? next(a) : rest.startsWith('=') ? rest.slice(1) : rest)
        break
      }
      continue
    }
    break // the container name: flag parsing stops here
  }
  const container = argv[i]
  if (container === undefined) throw new Error('docker exec: a container name is required')
  const tail = argv.slice(i + 1)
  if (tail.length === 0) throw new Error('docker exec: a command is required')
  return intentOf(flags, flags.user, unwrapCommand(tail))
}

export const decodeDockerExec: ArgvDecoder = containerExec('docker')
export const decodePodmanExec: ArgvDecoder = containerExec('podman')

// -------------------------------------------------------------------------------------------------
// smolvm: `smolvm machine exec [OPTIONS] [--] COMMAND...`, clap with trailing_var_arg; in the
// guest, `runuser [-u USER] [--] COMMAND...` switches user without a login shell
// -------------------------------------------------------------------------------------------------

const smolBool: Record<string, (f: ExecFlags) => void> = {
  i: (f) => void (f.stdin = true),
  interactive: (f) => void (f.stdin = true),
  t: (f) => void (f.tty = true),
  tty: (f) => void (f.tty = true),
  stream: () => undefined,
}

/** `--secret-env GUEST=HOSTVAR`: an intent forwards a host var under its own name only. */
const secretEnvFlag = (f: ExecFlags, v: string): void => {
  const [guest, hostVar] = [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]
  if (!v.includes('=') || guest !== hostVar) throw new Error(`smolvm: --secret-env ${v} renames a host variable`)
  f.forwarded.push(guest)
}

// exec has `--name` only (no `-n`) and no user flag.
const smolValued: Record<string, (f: ExecFlags, v: string) => void> = {
  name: (f, v) => void (f.name = v),
  e: envFlag,
  env: envFlag,
  'secret-env': secretEnvFlag,
  w: (f, v) => void (f.cwd = v),
  workdir: (f, v) => void (f.cwd = v),
  timeout: () => undefined,
}

/** runuser's options up to the command; a login shell (`-l`, `-`) would reset env and cwd. */
const decodeRunuser = (argv: readonly string[]): { user: string; command: readonly string[] } => {
  if (argv[0] !== 'runuser') throw new Error(`the guest command is ${JSON.stringify(argv[0])}, not a runuser user switch`)
  let user: string | null = null
  let i = 1
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a === '-u' || a === '--user') user = argv[++i] ?? null
    else if (a.startsWith('--user=')) user = a.slice('--user='.length)
    else if (a.startsWith('-u') && a.length > 2) user = a.slice(2)
    else if (a.startsWith('-')) throw new Error(`runuser: unexpected option ${a}`)
    else break
  }
  if (user === null) throw new Error('runuser: -u USER is required to run a command')
  const command = argv.slice(i)
  if (command.length === 0) throw new Error('runuser: no command')
  return { user, command }
}

export const decodeSmolvmExec: ArgvDecoder = (argv) => {
  if (argv[0] !== 'smolvm' || (argv[1] !== 'machine' && argv[1] !== 'vm') || argv[2] !== 'exec')
    throw new Error(`not a smolvm machine exec: ${JSON.stringify(argv.slice(0, 3))}`)
  const flags = noFlags()
  let i = 3
  const next = (flag: string): string => {
    const v = argv[++i]
    // clap will not take a value that looks like a flag unless allow_hyphen_values is set.
    if (v === undefined || (v.startsWith('-') && v !== '-')) throw new Error(`smolvm: ${flag} needs a value`)
    return v
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a.startsWith('--')) {
      const [long, attached] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), null]
      const bool = smolBool[long]
      const valued = smolValued[long]
      if (bool !== undefined && attached === null) bool(flags)
      else if (valued !== undefined) valued(flags, attached ?? next(a))
      else throw new Error(`smolvm: unexpected argument '${a}'`)
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string
        const bool = c === 'i' || c === 't' ? smolBool[c] : undefined
        const valued = c === 'e' || c === 'w' ? smolValued[c] : undefined
        if (bool !== undefined) { bool(flags); continue }
        if (valued === undefined) throw new Error(`smolvm: unexpected argument '-${c}' in ${a}`)
        const rest = a.slice(j + 1)
        valued(flags, rest === '' ? next(a) : rest.startsWith('=') ? rest.slice(1) : rest)
        break
      }
      continue
    }
    break // trailing_var_arg: the first positional starts the command
  }
  if (flags.name === null) throw new Error('smolvm exec without --name runs in the machine "default"')
  const { user, command } = decodeRunuser(argv.slice(i))
  return intentOf(flags, user, unwrapCommand(command))
}

// -------------------------------------------------------------------------------------------------
// kubernetes: `kubectl [GLOBAL FLAGS] exec [FLAGS] POD -- COMMAND...` (cobra: flags may come
// before or after POD, up to `--`); in the container, runuser, then GNU env, then a `cd` wrapper
// -------------------------------------------------------------------------------------------------

/** The one script the decoder reads as "change to $1, then run the rest". */
const cdWrapper = 'cd "$1" && shift && exec "$@"'

type JsonObject = { readonly [key: string]: Json }
const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)
const field = (v: Json | undefined, ...path: string[]): Json | undefined =>
  path.reduce<Json | undefined>((x, k) => (isObject(x) ? x[k] : undefined), v)
const list = (v: Json | undefined): readonly Json[] => (Array.isArray(v) ? (v as readonly Json[]) : [])

interface Cluster {
  context: string | null
  namespace: string | null
}

/**
 * kubectl's global flags that pick the cluster, in any spelling cobra takes; returns the index
 * of the first word that is not one (the verb). Anything else that looks like a flag is rejected.
 */
const clusterFlags = (argv: readonly string[], from: number, cluster: Cluster): number => {
  let i = from
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`kubectl: flag needs an argument: ${a}`)
      return v
    }
    if (a.startsWith('--context=')) cluster.context = a.slice('--context='.length)
    else if (a === '--context') cluster.context = value()
    else if (a.startsWith('--namespace=')) cluster.namespace = a.slice('--namespace='.length)
    else if (a === '--namespace' || a === '-n') cluster.namespace = value()
    else if (a.startsWith('-n') && !a.startsWith('--')) cluster.namespace = a.slice(a.startsWith('-n=') ? 3 : 2)
    else break
  }
  return i
}

/** The cluster an apply or create step talks to: the same parser, up to its verb. */
const clusterOf = (argv: readonly string[]): Cluster => {
  const cluster: Cluster = { context: null, namespace: null }
  clusterFlags(argv, 1, cluster)
  return cluster
}

/** What `kubectl exec` was told: the cluster, the pod, the container, -i and -t, and the command. */
const decodeKubectlExecFlags = (argv: readonly string[]) => {
  if (argv[0] !== 'kubectl') throw new Error(`not a kubectl command: ${JSON.stringify(argv[0])}`)
  const cluster: Cluster = { context: null, namespace: null }
  let i = clusterFlags(argv, 1, cluster)
  if (argv[i] !== 'exec') throw new Error(`not a kubectl exec: ${JSON.stringify(argv[i])}`)
  let stdin = false
  let tty = false
  let container: string | null = null
  const positional: string[] = []
  for (i++; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') break
    const next = clusterFlags(argv, i, cluster)
    if (next !== i) {
      i = next - 1
      continue
    }
    if (a === '--stdin') stdin = true
    else if (a === '--tty') tty = true
    else if (a === '--quiet') continue
    else if (a.startsWith('--container=')) container = a.slice('--container='.length)
    else if (a === '--container') container = argv[++i] ?? null
    else if (a.startsWith('--')) throw new Error(`kubectl exec: unknown flag: ${a}`)
    else if (a.startsWith('-') && a.length > 1) {
      // A shorthand cluster: `-it`, `-c bottle`, `-cbottle`, `-itc bottle`.
      for (let j = 1; j < a.length; j++) {
        const c = a[j]
        if (c === 'i') stdin = true
        else if (c === 't') tty = true
        else if (c === 'q') continue
        else if (c === 'c') {
          const rest = a.slice(j + 1)
          container = rest === '' ? (argv[++i] ?? null) : rest.startsWith('=') ? rest.slice(1) : rest
          break
        } else throw new Error(`kubectl exec: unknown shorthand flag: '${c}' in ${a}`)
      }
    } else positional.push(a)
  }
  // Without `--` kubectl reads the command the deprecated way; bottle never relies on that.
  if (argv[i] !== '--') throw new Error('kubectl exec without "--" before the command')
  if (positional.length !== 1) throw new Error(`kubectl exec: expected one pod, got ${JSON.stringify(positional)}`)
  return { cluster, pod: positional[0] as string, container, stdin, tty, command: argv.slice(i + 1) }
}

/**
 * The env the container starts with, from the Pod on the launch plan's stdin: a plain `value`,
 * or a host secret (a secretKeyRef into a Secret on that plan's stdin whose slot at that key is
 * filled from the host env var of the same name). Also checks both go to the cluster exec uses.
 */
const containerEnv = (launch: Plan, exec: ReturnType<typeof decodeKubectlExecFlags>): { env: [string, string][]; forwarded: string[] } => {
  const sent = launch.steps.flatMap((s) => (s.stdin._tag === 'json' ? [{ argv: s.argv, stdin: s.stdin }] : []))
  const pod = sent.find((x) => field(x.stdin.document, 'kind') === 'Pod' && field(x.stdin.document, 'metadata', 'name') === exec.pod)
  if (pod === undefined) throw new Error(`the launch plan makes no Pod ${exec.pod}`)
  if (JSON.stringify(clusterOf(pod.argv)) !== JSON.stringify(exec.cluster))
    throw new Error(`exec talks to ${JSON.stringify(exec.cluster)}, but the Pod went to ${JSON.stringify(clusterOf(pod.argv))}`)
  const containers = list(field(pod.stdin.document, 'spec', 'containers'))
  const container = exec.container === null ? containers[0] : containers.find((c) => field(c, 'name') === exec.container)
  if (container === undefined) throw new Error(`the Pod has no container ${String(exec.container)}`)
  const env: [string, string][] = []
  const forwarded: string[] = []
  for (const e of list(field(container, 'env'))) {
    const name = field(e, 'name')
    const value = field(e, 'value')
    const ref = field(e, 'valueFrom', 'secretKeyRef')
    if (typeof name !== 'string') throw new Error('a Pod env entry without a name')
    if (typeof value === 'string') {
      env.push([name, value])
      continue
    }
    const secretName = field(ref, 'name')
    const key = field(ref, 'key')
    const secret = sent.find((x) => field(x.stdin.document, 'kind') === 'Secret' && field(x.stdin.document, 'metadata', 'name') === secretName)
    if (secret === undefined) throw new Error(`env ${name} refers to a Secret ${String(secretName)} the launch plan does not make`)
    if (JSON.stringify(clusterOf(secret.argv)) !== JSON.stringify(exec.cluster)) throw new Error(`the Secret ${String(secretName)} went to another cluster`)
    const slot = secret.stdin.secrets.find((sl) => JSON.stringify(sl.path) === JSON.stringify(['stringData', key]))
    // The guest sees the host var under the same name, as docker's `-e NAME` does; a rename is no intent.
    if (slot?.secret !== name) throw new Error(`env ${name} is not filled from the host env var ${name}`)
    forwarded.push(name)
  }
  return { env, forwarded }
}

/** GNU env: `env [-i] [-u NAME]... [--] [NAME=VALUE]... COMMAND...`; option parsing stops at the first operand. */
const decodeEnv = (argv: readonly string[], flags: ExecFlags): readonly string[] => {
  if (argv[0] !== 'env') throw new Error(`expected env after runuser, got ${JSON.stringify(argv[0])}`)
  const unset = (name: string): void => {
    flags.env = flags.env.filter(([k]) => k !== name)
    flags.forwarded = flags.forwarded.filter((k) => k !== name)
  }
  let i = 1
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a === '-i' || a === '--ignore-environment') { flags.env = []; flags.forwarded = [] } else if (a === '-u' || a === '--unset') unset(argv[++i] ?? '')
    else if (a.startsWith('--unset=')) unset(a.slice('--unset='.length))
    else if (a.startsWith('-u')) unset(a.slice(2))
    else if (a.startsWith('-')) throw new Error(`env: unexpected option ${a}`)
    else break
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    const eq = a.indexOf('=')
    if (eq < 0) break
    if (eq === 0) throw new Error(`env: invalid assignment ${a}`)
    const key = a.slice(0, eq)
    flags.forwarded = flags.forwarded.filter((k) => k !== key)
    setEnv(flags, key, a.slice(eq + 1))
  }
  return argv.slice(i)
}

export const decodeKubectlExec = (argv: readonly string[], launch: Plan): GuestIntent => {
  const exec = decodeKubectlExecFlags(argv)
  const flags = noFlags()
  flags.stdin = exec.stdin
  flags.tty = exec.tty
  const start = containerEnv(launch, exec)
  flags.env = start.env
  flags.forwarded = start.forwarded
  flags.name = exec.pod
  const { user, command } = decodeRunuser(exec.command)
  const rest = decodeEnv(command, flags)
  if (rest[0] !== '/bin/sh' || rest[1] !== '-c' || rest[2] !== cdWrapper || rest.length < 6)
    throw new Error(`expected the cd wrapper after env, got ${JSON.stringify(rest.slice(0, 3))}`)
  flags.cwd = rest[4] as string
  return intentOf(flags, user, unwrapCommand(rest.slice(5)))
}

// -------------------------------------------------------------------------------------------------
// bwrap: `bwrap [OPTIONS...] [--] COMMAND [ARGS...]` (bubblewrap.c parse_args_recurse): every
// option is a long one with a fixed number of arguments; `--` or the first word that does not
// start with `-` ends them. The command's environment is bwrap's own, edited by --setenv,
// --unsetenv and --clearenv; bwrap adds PWD.
// -------------------------------------------------------------------------------------------------

const bwrapArity: Record<string, number> = {
  '--unshare-all': 0, '--share-net': 0, '--unshare-user': 0, '--unshare-user-try': 0, '--unshare-ipc': 0,
  '--unshare-pid': 0, '--unshare-net': 0, '--unshare-uts': 0, '--unshare-cgroup': 0, '--unshare-cgroup-try': 0,
  '--die-with-parent': 0, '--new-session': 0, '--as-pid-1': 0, '--clearenv': 0,
  '--uid': 1, '--gid': 1, '--chdir': 1, '--dev': 1, '--proc': 1, '--tmpfs': 1, '--dir': 1, '--remount-ro': 1,
  '--unsetenv': 1, '--hostname': 1, '--mqueue': 1,
  '--bind': 2, '--ro-bind': 2, '--bind-try': 2, '--ro-bind-try': 2, '--dev-bind': 2, '--dev-bind-try': 2,
  '--setenv': 2, '--symlink': 2,
}

/** bottle's documented guest PATH for a home (src/backends/bwrap.ts says why); restated here. */
const bottleGuestPath = (home: string): string =>
  `${home}/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`

/**
 * POSIX sh words of one simple command, for the subset a generated command uses: bare characters,
 * single quotes, backslash escapes outside quotes, blanks between words. Anything that would
 * expand (`$`, backquote, globs, double quotes, operators) is refused rather than guessed at.
 */
const shWords = (text: string): string[] => {
  const words: string[] = []
  let word: string | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === ' ' || c === '\t') {
      if (word !== null) words.push(word)
      word = null
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) throw new Error('sh: unterminated quoted string')
      word = (word ?? '') + text.slice(i + 1, end)
      i = end
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('sh: a trailing backslash')
      word = (word ?? '') + (text[++i] as string)
    } else if ('$`"*?[]|&;<>()\n#~'.includes(c) && !(c === '#' && word !== null) && !(c === '~' && word !== null)) {
      throw new Error(`sh: ${JSON.stringify(c)} would be read as shell syntax here`)
    } else word = (word ?? '') + c
  }
  if (word !== null) words.push(word)
  return words
}

/**
 * util-linux `script [options] [file]` (login-utils/script.c getopt_long "ac:eE:fho:qI:O:B:T:t::Vh"):
 * -q quiet, -e return the child's exit code, -c COMMAND run by `$SHELL -c` (SHELL unset: /bin/sh),
 * FILE the typescript. Returns the words of the command it runs, with a leading `exec` dropped.
 */
const decodeScript = (argv: readonly string[]): { readonly words: readonly string[]; readonly shellMoved: boolean } => {
  let command: string | null = null
  let returns = false
  const files: string[] = []
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '-q' || a === '--quiet') continue
    if (a === '-e' || a === '--return') returns = true
    else if (a === '-c' || a === '--command') command = argv[++i] ?? null
    else if (a.startsWith('-')) throw new Error(`script: option ${a} is not one bottle uses`)
    else files.push(a)
  }
  if (!returns) throw new Error('script without -e exits 0 whatever the guest did')
  if (JSON.stringify(files) !== '["/dev/null"]') throw new Error(`script would keep a typescript in ${JSON.stringify(files)}`)
  if (command === null) throw new Error('script without -c runs an interactive shell')
  // The one sh text bottle puts before the command: script's SHELL dropped, and a secret named
  // SHELL moved back under its name (script itself must run /bin/sh, not the secret's shell).
  if (!command.startsWith(ptyPrelude)) throw new Error('script: the command does not start with the SHELL prelude')
  const words = shWords(command.slice(ptyPrelude.length))
  return { words: words[0] === 'exec' ? words.slice(1) : words, shellMoved: true }
}

/** Restated from src/backends/bwrap.ts: unset SHELL, then SHELL from the alias if it is set. */
const shellAlias = 'bottle_secret_SHELL'
const ptyPrelude = `unset SHELL; [ -z "\${${shellAlias}+x}" ] || { SHELL=$${shellAlias}; export SHELL; unset ${shellAlias}; }; `

const isProgram = (word: string | undefined, name: string): boolean => word !== undefined && (word === name || word.endsWith(`/${name}`))

export const decodeBwrap = (step: Pick<Step, 'argv' | 'env' | 'stdio'>, host: HostFacts): GuestIntent => {
  // A pseudo-terminal of the guest's own, around bwrap: the terminal the guest gets.
  const pty = isProgram(step.argv[0], 'script')
  const script = pty ? decodeScript(step.argv) : { words: step.argv, shellMoved: false }
  const argv = script.words
  if (!isProgram(argv[0], 'bwrap')) throw new Error(`not a bwrap command: ${JSON.stringify(argv[0])}`)
  if (step.env.inheritHost) throw new Error('the bwrap process inherits the host env, so the guest does too')
  // The environment bwrap starts with: the step's vars (a secret's value is the host's; here, a
  // marker is enough, since the intent names secrets without values). Nothing plain but a PATH
  // may be there: the host process must hold nothing from the spec (invariant 10).
  const env = new Map<string, string | { secret: string }>()
  for (const v of step.env.vars) {
    // script's own shell, fixed, while the secret named SHELL travels as the alias.
    if (script.shellMoved && v._tag === 'plain' && v.name === 'SHELL') {
      if (v.value !== '/bin/sh') throw new Error(`script would run ${v.value} as its shell`)
      continue
    }
    if (v._tag === 'plain' && v.name !== 'PATH') throw new Error(`the bwrap process env holds ${v.name}: a host process with a spec value`)
    if (script.shellMoved && v.name === shellAlias) {
      if (v._tag !== 'secret' || secretSource(v) !== 'SHELL') throw new Error(`${shellAlias} is not the secret SHELL`)
      env.set('SHELL', { secret: 'SHELL' })
      continue
    }
    env.set(v.name, v._tag === 'plain' ? v.value : { secret: v.name })
  }
  if (pty && !step.env.vars.some((v) => v._tag === 'plain' && v.name === 'SHELL'))
    throw new Error('no SHELL=/bin/sh in the env of script: it would run whatever shell SHELL names')
  const opts = { uid: null as string | null, gid: null as string | null, cwd: null as string | null, newSession: false, userns: false }
  const writable = new Set<string>()
  let i = 1
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (!a.startsWith('-')) break
    const arity = bwrapArity[a]
    if (arity === undefined) throw new Error(`bwrap: Unknown option ${a}`)
    const args = argv.slice(i + 1, i + 1 + arity)
    if (args.length < arity) throw new Error(`bwrap: ${a} takes ${arity} arguments`)
    i += arity
    switch (a) {
      case '--uid': opts.uid = args[0] as string; break
      case '--gid': opts.gid = args[0] as string; break
      case '--chdir': opts.cwd = args[0] as string; break
      case '--new-session': opts.newSession = true; break
      case '--unshare-user': opts.userns = true; break
      case '--bind': case '--bind-try': writable.add(args[1] as string); break
      // The value a name ends with, in the order the options set them (environ order means nothing).
      case '--setenv': env.delete(args[0] as string); env.set(args[0] as string, args[1] as string); break
      case '--unsetenv': env.delete(args[0] as string); break
      case '--clearenv': env.clear(); break
    }
  }
  const command = argv.slice(i)
  if (command.length === 0) throw new Error('bwrap: no command')
  // --uid/--gid need a user namespace; "-try" would quietly run as the caller instead.
  if (!opts.userns) throw new Error('bwrap: --uid without --unshare-user')
  const plainOf = (k: string): string | undefined => {
    const v = env.get(k)
    return typeof v === 'string' ? v : undefined
  }
  const user = plainOf('USER')
  const home = plainOf('HOME')
  if (user === undefined || home === undefined) throw new Error('USER and HOME must be set, as plain values')
  // The user switch is numeric: the name in USER must be the one those ids belong to.
  const listed = host.bwrap?.bottle?.accounts[user]
  const expected = user === 'root' ? { uid: 0, gid: 0 } : (listed ?? { uid: 1000, gid: 1000 })
  if (opts.uid !== String(expected.uid) || opts.gid !== String(expected.gid))
    throw new Error(`USER=${user} but the command runs as ${opts.uid}:${opts.gid}`)
  if (!writable.has(home)) throw new Error(`HOME ${home} is not a writable bind: nothing there would last`)
  if (opts.cwd === null) throw new Error('no --chdir: bwrap would start in whatever directory exists')
  // The guest has a terminal iff it has its own pty; without one, setsid() must cut it from ours
  // (TIOCSTI). Both at once would leave the pty with no guest to signal; neither, the hole.
  if (pty === opts.newSession) throw new Error(pty ? 'a pty whose guest is in a new session gets no Ctrl-C or SIGWINCH' : 'no pty of its own and no --new-session: the guest can push keystrokes into our terminal')
  const tty = pty
  // bottle's own defaults are not part of the intent: PATH, and TERM with a terminal.
  const isDefault = (k: string, v: string): boolean =>
    (k === 'PATH' && v === bottleGuestPath(home)) || (k === 'TERM' && tty && v === host.bwrap?.term)
  const plainEnv: [string, string][] = []
  const secrets: string[] = []
  for (const [k, v] of env) {
    if (typeof v !== 'string') secrets.push(v.secret)
    else if (k !== 'HOME' && k !== 'USER' && !isDefault(k, v)) plainEnv.push([k, v])
  }
  return {
    user,
    home,
    env: plainEnv,
    secrets,
    cwd: opts.cwd,
    argv: unwrapCommand(command),
    tty,
    stdin: step.stdio === 'terminal',
  }
}

/** One decoder per backend: a new backend fails to compile here until it has one. */
export const decoders: Record<BackendName, StepDecoder> = {
  docker: (step) => decodeDockerExec(step.argv),
  podman: (step) => decodePodmanExec(step.argv),
  smolvm: (step) => decodeSmolvmExec(step.argv),
  bwrap: (step, { host }) => decodeBwrap(step, host),
  kubernetes: (step, { launch }) => decodeKubectlExec(step.argv, launch),
}
