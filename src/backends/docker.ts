/**
 * docker (and, with its own binary and differences, podman): a long-lived container that every
 * op execs into.
 *
 *   docker.exec(spec, intent, host).framing
 *   // ['docker','exec','-i','-t','-u','node','-e','HOME=/home/node','-e','USER=node',
 *   //  '-e','CI=1','-e','CLAUDE_CODE_OAUTH_TOKEN','-w','/src/app','demo']
 *
 * docker stops reading flags at the container name (SetInterspersed(false)), so every flag goes
 * before it and the tail follows with no `--`. Secrets are `-e NAME`: docker reads the value from
 * its own environment, so it never reaches argv.
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, show } from '../plan/errors.js'
import { type BackendName, type OpName, type Step, type Tolerated, inheritEnv, secret, step } from '../plan/types.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import { memoryText } from '../bottle-spec/limits.js'
import {
  type Backend,
  type BottleRow,
  type GuestStep,
  type HostFacts,
  type HostProbe,
  type ListingError,
  type ParsedListing,
  launchIdLabel,
  launchLabels,
  listingReader,
  managedLabel,
  ownedByUser,
  specHashLabel,
  undoTries,
  userCheck,
} from './backend.js'
import { egressDir, guestSocketDir, socketDir } from './egress.js'
import { authMount, sharedAuthOwner } from '../auth.js'
import { bindsHostWorkdir } from '../workspace.js'

/**
 * `sh -c SCRIPT BIN NAME-FILTER TRIES ID-FILTER`: list the containers with this name and this
 * launch id (`ps -aq` prints the engine's ids), remove those by id; none yet: look again.
 */
const removeOwnScript = [
  'i=0',
  'while :; do',
  '  ids=$("$0" ps -aq --no-trunc --filter "$1" --filter "$3") || exit',
  '  if [ -n "$ids" ]; then exec "$0" rm -f $ids; fi',
  '  i=$((i + 1)); [ "$i" -lt "$2" ] || exit 0',
  '  sleep 1',
  'done',
].join('\n')

/** What differs between container CLIs that share docker's grammar. */
export interface ContainerCli {
  readonly name: BackendName
  readonly binary: string
  readonly install: string
  /** Why the CLI cannot be used here, or null (Backend.unusable). */
  readonly unusable: Backend['unusable']
  /** The engine's own container-name rule. */
  readonly nameRule: RegExp
  readonly defaultImage: string
  /** Extra `create` flags from host facts (podman's `--userns=keep-id` when rootless). */
  readonly runFlags: (host: HostFacts) => readonly string[]
  /** Failures of `rm -f` that mean the container is already gone. */
  readonly removeTolerates: readonly Tolerated[]
  /** A `ps --format` template expression for one label's value, "" when the container has none. */
  readonly labelOf: (key: string) => string
  /**
   * Exit codes of `exec` that are the client's own failure as well as a possible guest code:
   * docker exits 1 for a missing container, a stopped one or an unreachable engine; podman 125.
   */
  readonly execOwnFailures: readonly number[]
  /** The `ps --format` template expression for the container's state word (`running`, `exited`, …). */
  readonly stateField: string
  /** The engine refuses a memory limit below this many bytes (docker: 6 MiB); null: no floor. */
  readonly minMemory: number | null
  /**
   * When the engine checks that a bind's source exists: docker at start, podman already at create
   * (`statfs …: no such file or directory`, exit 125, seen with podman 4.3).
   */
  readonly bindSourceChecked: 'create' | 'start'
}

/**
 * `--cpus N --memory SIZE --pids-limit N`, the set ones, as docker and podman take them at create
 * (the engine writes them to the container's cgroup: cpu.cfs_quota_us, memory.limit_in_bytes,
 * pids.max on cgroup v1).
 */
export const limitFlags = (spec: BottleSpec): string[] => [
  ...(spec.limits.cpus === null ? [] : ['--cpus', spec.limits.cpus]),
  ...(spec.limits.memory === null ? [] : ['--memory', memoryText(spec.limits.memory)]),
  ...(spec.limits.pids === null ? [] : ['--pids-limit', String(spec.limits.pids)]),
]

/** Where it was first written for docker; shared by every backend with an image (backend.ts). */
export { userCheckScript } from './backend.js'

export const containerBackend = (cli: ContainerCli): Backend => {
  const bin = cli.binary

  const checkSpec = (spec: BottleSpec, op: OpName) => {
    // Refused before anything is created, not by the engine halfway through a launch.
    if (op === 'launch' && cli.minMemory !== null && spec.limits.memory !== null && spec.limits.memory < cli.minMemory)
      return E.left(compileError(`limits.memory ${memoryText(spec.limits.memory)} is below ${memoryText(cli.minMemory)}, the least ${cli.name} allows`))
    if (!cli.nameRule.test(spec.name))
      return E.left(compileError(`bottle name ${show(spec.name)} is not a valid ${cli.name} container name: it must match ${cli.nameRule.source}`))
    // `-v SRC:DST` splits on `:`; a workdir containing one cannot be bound.
    if (spec.workdir.includes(':'))
      return E.left(compileError(`workdir ${show(spec.workdir)} contains ":", which ${cli.name} -v cannot bind`))
    return E.right(spec)
  }

  /**
   * open: the engine's default (a bridge); none and host as named. A bottle with a door has no
   * network at all, and the proxy's socket directory (the directory, so that a restarted proxy's
   * new socket shows) bound read-only at /run/bottle-egress: connect() works through it.
   */
  const networkFlags = (spec: BottleSpec, host: HostFacts): string[] => {
    switch (spec.network.mode) {
      case 'open':
        return []
      case 'none':
      case 'host':
        return ['--network', spec.network.mode]
      case 'egress':
        return ['--network', 'none', '-v', `${socketDir(cli.name, spec, host)}:${guestSocketDir}:ro`]
    }
  }

  // create, then start, not `run -d`: a container that is created but fails to start (a bad
  // image entrypoint, a mount the engine refuses) would be left behind by a failed `run`, whose
  // own undo never runs. Split, the failed start undoes the create.
  const create = (spec: BottleSpec, host: HostFacts, guest: GuestStep, door: readonly Step[]): Step[] => {
    const labels: string[] = []
    for (const [k, v] of launchLabels(spec, backend.defaultImage)) labels.push('--label', `${k}=${v}`)
    const argv = [
      bin, 'create',
      '--name', spec.name,
      ...labels,
      // The launch id slot: the interpreter appends this run's id.
      '--label', `${launchIdLabel}=`,
      ...cli.runFlags(host),
      ...networkFlags(spec, host),
      ...limitFlags(spec),
      '--init',
      // The host workdir, and inside it its git directory, read-only (src/workspace-guard.ts);
      // workspace: copy binds neither: launch copies the repository in (src/workspace.ts).
      ...(bindsHostWorkdir(backend, spec) ? ['-v', `${spec.workdir}:${spec.workdir}`, ...(host.gitGuard ?? []).flatMap((p) => ['-v', `${p}:${p}:ro`])] : []),
      // auth: shared: the host's sign-in directory as the user's ~/.claude, read-write (src/auth.ts).
      ...sharedAuthVolume(spec, host),
      // A copied workdir is not there until launch copies it in, and podman refuses to start a
      // container whose -w does not exist; every exec names its own -w anyway.
      ...(bindsHostWorkdir(backend, spec) ? ['-w', spec.workdir] : []),
      // A container that lives until `down`: the image's own entrypoint is not the workload.
      '--entrypoint', 'sleep',
      spec.image ?? backend.defaultImage,
      'infinity',
    ]
    // The proxy starts after the create (below), but podman wants its socket directory there
    // already. Its undo removes the directories it may have made, each only if empty, and only
    // when no container of the name is left once the create's own undo has run: a launch of a
    // name another run holds fails at the create, and that bottle's directories stay.
    const socketFirst = spec.network.mode === 'egress' && cli.bindSourceChecked === 'create'
      ? [socketDirFirst(spec, host)]
      : []
    return [
      ...socketFirst,
      step(`create the container ${spec.name}`, argv, { launchId: [argv.indexOf(`${launchIdLabel}=`)], undo: [removeOwnStep(spec)] }),
      // After the create, which only one run of a name gets past, so that the proxy's undo never
      // stops the proxy of another run's bottle; before the start, which mounts its directory.
      ...door,
      step(`start the container ${spec.name}`, [bin, 'start', spec.name]),
      // `-u USER` names a user of the image, and the engine looks it up only when a command runs
      // (`unable to find user X`, exit 126): say so now, once, before anything else uses it.
      userCheck(spec, guest),
      ...sharedAuthOwner(cli.name, spec, host, guest),
    ]
  }

  const sharedAuthVolume = (spec: BottleSpec, host: HostFacts): string[] => {
    const mount = authMount(spec, host, cli.name)
    return mount === null ? [] : ['-v', `${mount.source}:${mount.target}`]
  }

  const socketDirFirst = (spec: BottleSpec, host: HostFacts): Step => {
    const sock = socketDir(cli.name, spec, host)
    const egress = egressDir(cli.name, spec, host)
    const state = egress.slice(0, egress.lastIndexOf('/'))
    return step(`make the egress socket directory first (${cli.name} checks a bind's source at create)`, ['mkdir', '-p', '-m', '700', '--', sock], {
      undo: [step(`remove the egress socket directory of ${spec.name} if no container of the name is left`, [
        'sh', '-c', '"$1" container exists "$2" >/dev/null 2>&1 || rmdir -- "$3" "$4" "$5" 2>/dev/null; exit 0', 'sh', bin, spec.name, sock, egress, state,
      ])],
    })
  }

  /** down: the user's explicit op, by name, whichever run made the container. */
  const removeStep = (spec: BottleSpec): Step =>
    step(`remove the container ${spec.name}`, [bin, 'rm', '-f', spec.name], { tolerate: cli.removeTolerates })

  /**
   * The create's undo: the container named so whose launch id is this run's, removed by the
   * engine's own id; a container of that name that another run made is left alone. An
   * interrupted `create` may be finished by the engine after its client has exited (seen with
   * docker: the client exits 130 within ~30 ms, the engine completes seconds later), so when
   * nothing is found yet it looks again, once a second, `undoTries` times in all.
   */
  const removeOwnStep = (spec: BottleSpec): Step =>
    step(`remove the container ${spec.name} if this run created it`, [
      'sh', '-c', removeOwnScript, bin,
      `name=^/?${spec.name.replace(/\./g, '\\.')}$`,
      String(undoTries),
      `label=${launchIdLabel}=`,
    ], { launchId: [6] })

  const backend: Backend = {
    name: cli.name,
    guestOutlivesClient: true,
    liveCheck: (spec) => ({
      codes: cli.execOwnFailures,
      step: step(`check that the container ${spec.name} is running`, [bin, 'container', 'inspect', '--format', '{{.State.Running}}', spec.name]),
      running: 'true',
    }),
    binary: bin,
    install: cli.install,
    unusable: cli.unusable,
    autoDetected: true,
    checkSpec,
    defaultImage: cli.defaultImage,
    bindsWorkdir: true,
    promptPath: () => '/opt/bottle/system-prompt.md',
    create,
    exec: (spec, intent) => {
      // Pushed word by word: a launch frames several guest steps, and a list per env entry
      // (flatMap) cost more than the rest of the framing.
      const framing = [bin, 'exec']
      if (intent.stdin) framing.push('-i')
      if (intent.tty) framing.push('-t')
      framing.push('-u', intent.user, '-e', `HOME=${intent.home}`, '-e', `USER=${intent.user}`)
      for (const [k, v] of intent.env) framing.push('-e', `${k}=${v}`)
      for (const k of intent.secrets) framing.push('-e', k)
      framing.push('-w', intent.cwd, spec.name)
      return { framing, env: intent.secrets.length === 0 ? inheritEnv : { ...inheritEnv, vars: intent.secrets.map(secret) } }
    },
    copyIn: (spec, copy, _host, inGuest) =>
      E.right(ownedByUser(spec, copy, inGuest, [
        step(`copy ${copy.source} to ${copy.dest} in the bottle`, [
          bin, 'cp',
          // `DIR/.` copies the directory's contents into dest, whether or not dest exists.
          copy.kind === 'dir' ? `${copy.source}/.` : copy.source,
          `${spec.name}:${copy.dest}`,
        ]),
      ])),
    // `rm -f` on a missing container exits 0 (docker, podman 4+): down is idempotent as it stands.
    down: (spec) => [removeStep(spec)],
    list: () => [
      step('list the containers bottle created', [
        bin, 'ps', '-a',
        '--filter', `label=${managedLabel}=true`,
        '--format', psFormat(cli),
      ], { stdio: 'capture' }),
    ],
    ...listingReader((stdout) => parsePs(cli, stdout)),
  }
  return backend
}

// -------------------------------------------------------------------------------------------------
// ls: one JSON object per container, built by docker's own template `json` function
// -------------------------------------------------------------------------------------------------

/**
 * `{{json .}}` would do, except that its Labels is one `k=v,k=v` string, and a label value may
 * itself hold a comma. So the template asks for each label by name (`.Label "k"`, "" when absent)
 * and lets `json` quote every value: one line per container, each a flat object of strings.
 */
const psFields = (cli: Pick<ContainerCli, 'labelOf' | 'stateField'>) =>
  [
    // The container's name is the bottle's (create passes --name): it is also what `rm -f` takes.
    ['name', '.Names'],
    ['state', cli.stateField],
    ['created', '.CreatedAt'],
    ['image', '.Image'],
    ['managed', cli.labelOf(managedLabel)],
    ['specHash', cli.labelOf(specHashLabel)],
  ] as const

const psFormat = (cli: ContainerCli): string =>
  `{${psFields(cli).map(([key, expr]) => `"${key}":{{json ${expr}}}`).join(',')}}`

/**
 * `.CreatedAt` is Go's time.String() of a whole second in the client's zone:
 * `2026-05-01 12:34:56 +0200 CEST` (the zone name may be missing or numeric, like `+03`).
 */
const goTime = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? ([+-])(\d{2})(\d{2})(?: \S+)?$/

export const parseGoTime = (text: string): number | null => {
  const m = goTime.exec(text)
  if (m === null) return null
  const num = (i: number): number => Number(m[i])
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (num(8) * 60 + num(9))
  return Date.UTC(num(1), num(2) - 1, num(3), num(4), num(5), num(6)) - offsetMinutes * 60_000
}

/** One line of `ps`: a row, null for a container that is not bottle's, or why it cannot be read. */
const parsePsLine = (cli: ContainerCli, line: string, where: string): E.Either<string, BottleRow | null> => {
  let data: unknown
  try {
    data = JSON.parse(line)
  } catch {
    return E.left(`${where}, which is not the JSON object bottle asked for: ${show(line.slice(0, 80))}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return E.left(`${where}, which is not a JSON object: ${show(line.slice(0, 80))}`)
  const o = data as Record<string, unknown>
  const named = typeof o.name === 'string' && o.name !== '' ? ` (${show(o.name.slice(0, 80))})` : ''
  const missing = psFields(cli).find(([key]) => typeof o[key] !== 'string')
  if (missing !== undefined) return E.left(`${where}${named}, whose ${missing[0]} is missing or not a string`)
  const text = (key: ReturnType<typeof psFields>[number][0]): string => o[key] as string
  // The filter asked docker for these only; a stand-in or an old daemon may not filter.
  if (text('managed') !== 'true') return E.right(null)
  if (text('name') === '') return E.left(`${where}, which names no container`)
  return E.right({
    name: text('name'),
    backend: cli.name,
    state: text('state'),
    createdAt: parseGoTime(text('created')),
    image: text('image') || null,
    specHash: text('specHash') || null,
    spec: null,
  })
}

/** One JSON object per line: a line that cannot be read is skipped, with a line saying which. */
const parsePs = (cli: ContainerCli, stdout: string): E.Either<ListingError, ParsedListing> => {
  const rows: BottleRow[] = []
  const skipped: string[] = []
  for (const [i, raw] of stdout.split('\n').entries()) {
    const line = raw.trim()
    if (line === '') continue
    const row = parsePsLine(cli, line, `${cli.binary} ps printed line ${i + 1}`)
    if (E.isLeft(row)) skipped.push(`${row.left}; skipped it`)
    else if (row.right !== null) rows.push(row.right)
  }
  return E.right({ rows, skipped })
}

/**
 * The docker client is often installed where no engine runs: usable when an engine socket is in
 * one of the places docker and Docker Desktop put it, or DOCKER_HOST or DOCKER_CONTEXT names one
 * elsewhere (a remote engine, a named context: only docker itself can tell, so trust it).
 */
const dockerUnusable = ({ env, home, onPath, isSocket }: HostProbe): string | null => {
  if (!onPath('docker')) return 'docker is not on PATH'
  if (env.DOCKER_HOST !== undefined || env.DOCKER_CONTEXT !== undefined) return null
  const sockets = [
    '/var/run/docker.sock',
    ...(env.XDG_RUNTIME_DIR === undefined ? [] : [`${env.XDG_RUNTIME_DIR}/docker.sock`]),
    `${home}/.docker/run/docker.sock`,
    `${home}/.docker/desktop/docker.sock`,
  ]
  return sockets.some(isSocket) ? null : `docker is on PATH but no engine socket was found (${sockets[0]}; DOCKER_HOST is unset)`
}

export const docker = containerBackend({
  name: 'docker',
  binary: 'docker',
  install: 'install Docker Engine (https://docs.docker.com/engine/install/) and start its daemon',
  unusable: dockerUnusable,
  // moby's RestrictedNamePattern: at least two characters.
  nameRule: /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/,
  defaultImage: 'node:22',
  runFlags: () => [],
  removeTolerates: [],
  // docker's ps template has .Label; its .Labels is one `k=v,k=v` string that cannot be indexed.
  labelOf: (key) => `(.Label "${key}")`,
  execOwnFailures: [1],
  stateField: '.State',
  // moby's linuxMinMemory: "Minimum memory limit allowed is 6MB" (6 MiB), exit 125 at create.
  minMemory: 6 * 1024 * 1024,
  bindSourceChecked: 'start',
})
