/**
 * kubernetes's test kit (tests/backends/kit.ts): an independent decoder of `kubectl exec` argv
 * (cobra), with runuser, GNU env and the cd wrapper in the container, and what the law suite must
 * know about kubectl. The decoder reads the launch plan too: the command starts with the
 * container's env, which the Pod on that plan's stdin says (the secrets, by secretKeyRef).
 */
import { kubernetes } from '../../src/backends/kubernetes.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import type { GuestIntent, Json, Plan } from '../../src/plan/types.js'
import { type ExecFlags, decodeRunuser, intentOf, noFlags, setEnv, unwrapCommand } from '../laws/decode.js'
import { type BackendKit, count } from './kit.js'
import { stagedOnHost } from './smolvm.kit.js'

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

/** The words after kubectl and its cluster flags: `apply -f`, `delete pod`. */
const kubectlVerb = (argv: readonly string[]): readonly string[] => {
  const rest = argv.slice(1)
  while (rest[0]?.startsWith('--context=') || rest[0]?.startsWith('--namespace=')) rest.shift()
  return rest.slice(0, 2)
}

export const kit: BackendKit = {
  backend: kubernetes,
  decode: (step, { launch }) => decodeKubectlExec(step.argv, launch),
  fit: (s) => {
    // A Pod has no network "none"; the egress door (a proxy Pod) is tested in tests/egress-wire/kubernetes.test.ts.
    const spec: BottleSpec = s.spec.network.mode === 'none' || s.spec.network.mode === 'egress' ? { ...s.spec, network: { mode: 'open' } } : s.spec
    // A Pod's secrets stay as launched: a new plain env entry named like one is refused (an example).
    const op =
      s.op._tag === 'update'
        ? { ...s.op, declared: { ...s.op.declared, env: s.op.declared.env.filter(([k]) => !spec.secrets.includes(k)) } }
        : s.op
    return { ...s, spec, op }
  },
  // The guest command (after kubectl's `--`) opens with the user switch; after it come only env's
  // words (`-u NAME`, `K=V`) and the cd wrapper, which runs what follows it.
  userSwitchPrecedesTail: (framing, user) => {
    const guest = framing.slice(framing.indexOf('--') + 1)
    const envWords = guest.slice(5, -5)
    return (
      JSON.stringify(guest.slice(0, 5)) === JSON.stringify(['runuser', '-u', user, '--', 'env']) &&
      JSON.stringify(guest.slice(-5, -1)) === JSON.stringify(['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'bottle']) &&
      envWords.every((w, i) => w.includes('=') || w === '-u' || envWords[i - 1] === '-u')
    )
  },
  // GNU env's `K=V` words in the guest command; kubectl's -t.
  envCount: (framing, k, v) => count(framing, `${k}=${v}`),
  ttyMarks: (framing) => count(framing, '-t'),
  secretsReachGuestVia: 'bottle env',
  // The Secret and the Pod; staged copies of the prompt on the host.
  createsSomething: (s) =>
    s.guest === undefined &&
    (s.argv[0] === 'kubectl' ? ['create', 'apply'].includes(kubectlVerb(s.argv)[0] ?? '') : s.argv[0] === 'cp' || s.argv[0] === 'tar'),
  scratchMadeBy: stagedOnHost,
  idempotentAsIs: (s) => s.argv[0] === 'kubectl' && kubectlVerb(s.argv)[0] === 'delete' && s.argv.includes('--ignore-not-found'),
  listsWithItsBinary: true,
}
