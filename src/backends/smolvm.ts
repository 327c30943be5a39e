/**
 * smolvm: a microVM per bottle, created once and exec'd into.
 *
 *   smolvm.exec(spec, intent, host).framing
 *   // ['smolvm','machine','exec','--name','demo','-i','-t','-e','HOME=/home/node','-e','USER=node',
 *   //  '--secret-env','CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN','-w','/src/app','--',
 *   //  'runuser','-u','node','--']
 *
 * Traps this file exists to handle (docs/backend-facts.md §1): exec has `--name` only (no
 * `-n`) and no user flag, so the user switch is `runuser -u U --` in the guest; `delete` without
 * `-f` prompts and deletes nothing; `delete -f`/`stop` on a missing machine exit 1 ("vm not
 * found"); `cp` takes one file, and any `:` in SRC is read as `machine:path`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, show } from '../plan/errors.js'
import { type OpName, type Step, type Tolerated, inheritEnv, secret, step } from '../plan/types.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import { memoryText } from '../bottle-spec/limits.js'
import type { Checked } from '../bottle-spec/validate.js'
import {
  type Backend,
  type BottleRow,
  type CopyIn,
  type GuestStep,
  type HostFacts,
  type ListingError,
  type ParsedListing,
  launchIdLabel,
  launchLabels,
  listingError,
  listingReader,
  managedLabel,
  ownedByUser,
  specHashLabel,
  undoTries,
  userCheck,
} from './backend.js'
import { stagedCopy } from './staged-copy.js'
import { doorOf, guestSocket, socketDir } from './egress.js'
import { authMount, sharedAuthOwner } from '../auth.js'
import { bindsHostWorkdir } from '../workspace.js'

// src/data/mod.rs::validate_vm_name
const validName = (n: string): boolean =>
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(n) && !n.endsWith('-') && !n.includes('--')

// Host sources smolvm refuses to share (src/data/storage.rs); the list there is longer.
const deniedShares = new Set(['/', '/etc', '/usr', '/proc', '/sys', '/dev', '/boot', '/bin', '/sbin', '/lib'])

const vmNotFound = (name: string): Tolerated => ({ exitCode: 1, stderrIncludes: `vm not found: ${name}` })

const machine = (...args: string[]): string[] => ['smolvm', 'machine', ...args]

/**
 * `sh -c SCRIPT smolvm NAME TRIES ID`: the create's undo. `machine ls` has no label filter, so
 * the listing is searched for this run's launch id (64 random bits, on no machine but the one
 * this run's create made, which is named NAME); found, NAME is deleted; not found, the machine
 * of that name is another run's, or not made yet by an interrupted create: look again, once a
 * second, TRIES times in all.
 */
const deleteOwnScript = [
  'i=0',
  'while :; do',
  '  out=$("$0" machine ls --json) || exit',
  '  case $out in *"$3"*) exec "$0" machine delete --name "$1" -f ;; esac',
  '  i=$((i + 1)); [ "$i" -lt "$2" ] || exit 0',
  '  sleep 1',
  'done',
].join('\n')

const mib = 1024 * 1024

/**
 * smolvm sizes the VM itself: `machine create --cpus N` (whole vCPUs) and `--mem MiB`. It has no
 * limit on processes: the guest kernel's own pid_max is the only one. What it cannot take is
 * refused at launch, not rounded.
 */
const checkLimits = (spec: BottleSpec): Checked<BottleSpec> => {
  const { cpus, memory, pids } = spec.limits
  if (pids !== null)
    return E.left(compileError(`limits.pids cannot be enforced on smolvm: machine create has no process limit (only --cpus and --mem); remove pids, or use docker or podman`))
  if (cpus !== null && !/^\d+$/.test(cpus))
    return E.left(compileError(`limits.cpus ${cpus} cannot be enforced on smolvm: machine create --cpus takes whole vCPUs`))
  if (memory !== null && memory % mib !== 0)
    return E.left(compileError(`limits.memory ${memoryText(memory)} cannot be enforced on smolvm: machine create --mem takes whole MiB`))
  return E.right(spec)
}

/** `--cpus N --mem MiB`, the set ones (checkLimits has made sure they fit). */
const limitFlags = (spec: BottleSpec): string[] => [
  ...(spec.limits.cpus === null ? [] : ['--cpus', spec.limits.cpus]),
  ...(spec.limits.memory === null ? [] : ['--mem', String(spec.limits.memory / mib)]),
]

const sharedAuthVolume = (spec: BottleSpec, host: HostFacts): string[] => {
  const mount = authMount(spec, host, 'smolvm')
  return mount === null ? [] : ['-v', `${mount.source}:${mount.target}`]
}

const checkSpec = (spec: BottleSpec, op: OpName) => {
  if (op === 'launch') {
    const limits = checkLimits(spec)
    if (E.isLeft(limits)) return limits
  }
  if (!validName(spec.name))
    return E.left(compileError(
      `bottle name ${show(spec.name)} is not a valid smolvm machine name: letters, digits, _ and -, starting with a letter or digit, no "--", no trailing "-", at most 128 characters`,
    ))
  if (spec.workdir.includes(':'))
    return E.left(compileError(`workdir ${show(spec.workdir)} contains ":", which smolvm -v cannot bind`))
  if (deniedShares.has(spec.workdir))
    return E.left(compileError(`workdir ${show(spec.workdir)} is a system directory smolvm refuses to share; choose a project directory`))
  return E.right(spec)
}

/** smolvm cp copies one file, and reads a `:` in the local path as a machine name. */
const copyOnly = (spec: BottleSpec, copy: CopyIn, host: HostFacts, inGuest: GuestStep) =>
  stagedCopy({
    spec, copy, host, inGuest,
    upload: (source, dest, title) => step(title, machine('cp', source, `${spec.name}:${dest}`)),
    readsColonAs: 'smolvm cp reads as a machine name',
    packWhy: 'smolvm cp copies single files',
  })

/** The copy, with the parent made first and ownership handed to the bottle's user after. */
const copyIn = (spec: BottleSpec, copy: CopyIn, host: HostFacts, inGuest: GuestStep) =>
  E.map((steps: readonly Step[]) => ownedByUser(spec, copy, inGuest, steps))(copyOnly(spec, copy, host, inGuest))

/**
 * smolvm's network is off unless --net (or a flag that implies it) is given. `host` turns it on;
 * `open` is smolvm's own default, off; a bottle with a door stays off and gets the proxy's socket
 * through `--mount-socket` (a Unix socket cannot cross virtiofs, so `-v` of the directory would
 * not do). smolvm's `--allow-host` is not used as a second layer: it implies --net and lets the
 * guest reach the allowed hosts' addresses directly, a second way out beside the door (and the
 * probe's no-route check would then fail).
 */
const networkFlags = (spec: BottleSpec, host: HostFacts): string[] =>
  spec.network.mode === 'host'
    ? ['--net']
    : doorOf(spec) === null
      ? []
      : ['--mount-socket', `${socketDir('smolvm', spec, host)}/egress.sock:${guestSocket}`]

export const smolvm: Backend = {
  name: 'smolvm',
  guestOutlivesClient: true,
  // smolvm's own failures (vm not found, not running, a secret it cannot resolve) exit 1.
  liveCheck: (spec) => ({
    codes: [1],
    step: step(`check that the machine ${spec.name} is running`, machine('status', '--name', spec.name)),
    running: `Machine '${spec.name}': running`,
  }),
  binary: 'smolvm',
  install: 'install smolvm (https://github.com/smol-machines/smolvm); it needs KVM on Linux or Hypervisor.framework on macOS',
  // A microVM needs KVM on Linux: on PATH is not enough where /dev/kvm is missing (a VM without nesting).
  unusable: ({ onPath, platform, exists }) =>
    !onPath('smolvm')
      ? 'smolvm is not on PATH'
      : platform === 'linux' && !exists('/dev/kvm')
        ? 'smolvm is on PATH but /dev/kvm does not exist'
        : null,
  autoDetected: true,
  checkSpec,
  defaultImage: 'node:22',
  bindsWorkdir: true,
  // "source path on host must be a directory (virtiofs limitation)"
  bindsDirsOnly: true,
  promptPath: () => '/opt/bottle/system-prompt.md',
  create: (spec, host, guest, door) => {
    const deleteStep = step(`delete the machine ${spec.name} if this run created it`, ['sh', '-c', deleteOwnScript, 'smolvm', spec.name, String(undoTries), ''], {
      launchId: [6],
      tolerate: [vmNotFound(spec.name)],
    })
    const stopStep = step(`stop the machine ${spec.name}`, machine('stop', '--name', spec.name), {
      tolerate: [vmNotFound(spec.name)],
    })
    const createArgv = machine(
      'create',
      '--name', spec.name,
      ...launchLabels(spec, smolvm.defaultImage).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      // The launch id slot, filled by the interpreter: see deleteOwnScript.
      '--label', `${launchIdLabel}=`,
      '--image', spec.image ?? smolvm.defaultImage,
      ...networkFlags(spec, host),
      ...limitFlags(spec),
      // The host workdir, and inside its share its git directory, read-only (src/workspace-guard.ts);
      // workspace: copy shares neither: launch copies the repository in (src/workspace.ts).
      ...(bindsHostWorkdir(smolvm, spec) ? ['-v', `${spec.workdir}:${spec.workdir}`, ...(host.gitGuard ?? []).flatMap((p) => ['-v', `${p}:${p}:ro`])] : []),
      // auth: shared: the host's sign-in directory as the user's ~/.claude, read-write (src/auth.ts).
      ...sharedAuthVolume(spec, host),
      // A copied workdir is not there until launch copies it in; every exec names its own -w.
      ...(bindsHostWorkdir(smolvm, spec) ? ['-w', spec.workdir] : []),
    )
    return [
      step(`create the machine ${spec.name}`, createArgv, { launchId: [createArgv.indexOf(`${launchIdLabel}=`)], undo: [deleteStep] }),
      // After the create, which only one run of a name gets past (so the proxy's undo never stops
      // another run's), before the start, which connects the socket --mount-socket names.
      ...door,
      step(`start the machine ${spec.name}`, machine('start', '--name', spec.name), { undo: [stopStep] }),
      // `runuser -u USER` fails only when a command runs as USER (exit 1, "user X does not
      // exist", which looks like the command's own 1): refuse the user now, exit 2, and undo.
      userCheck(spec, guest),
      ...sharedAuthOwner('smolvm', spec, host, guest),
    ]
  },
  exec: (spec, intent) => {
    // Pushed word by word: a launch frames several guest steps (see docker's exec).
    const framing = machine('exec', '--name', spec.name)
    if (intent.stdin) framing.push('-i')
    if (intent.tty) framing.push('-t')
    framing.push('-e', `HOME=${intent.home}`, '-e', `USER=${intent.user}`)
    for (const [k, v] of intent.env) framing.push('-e', `${k}=${v}`)
    // Resolved by smolvm from its own environment on every exec: the value never hits argv.
    for (const k of intent.secrets) framing.push('--secret-env', `${k}=${k}`)
    // exec has no user flag (before smolvm 1.10); runuser works on every version.
    framing.push('-w', intent.cwd, '--', 'runuser', '-u', intent.user, '--')
    return { framing, env: intent.secrets.length === 0 ? inheritEnv : { ...inheritEnv, vars: intent.secrets.map(secret) } }
  },
  copyIn,
  down: (spec) => [
    step(`stop the machine ${spec.name}`, machine('stop', '--name', spec.name), { tolerate: [vmNotFound(spec.name)] }),
    // Without -f smolvm asks for confirmation and, with no answer, deletes nothing.
    step(`delete the machine ${spec.name}`, machine('delete', '--name', spec.name, '-f'), { tolerate: [vmNotFound(spec.name)] }),
  ],
  // ls has no label filter: parseList keeps the machines with the managed label.
  list: () => [step('list the machines, to pick out the ones bottle created', machine('ls', '--json'), { stdio: 'capture' })],
  ...listingReader((stdout) => parseMachines(stdout)),
}

/**
 * `machine ls --json` prints a pretty JSON array, `[]` when there are none, one object per machine
 * (`machine_status_json` in src/cli/vm_common.rs): `name`, `state`, `created_at` (Unix seconds),
 * `image` (null for a bare VM) and many resource fields we ignore. The `labels` object (what
 * `create --label` stored) is assumed, not seen: the version of machine_status_json read for this
 * has no such key. If it is missing, every machine counts as not ours: ls under-reports, and
 * down --all never deletes a machine it cannot prove is bottle's.
 */
const parseMachines = (stdout: string): E.Either<ListingError, ParsedListing> => {
  const text = stdout.trim()
  if (text === '') return E.right({ rows: [], skipped: [] })
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return E.left(listingError(`smolvm machine ls --json printed something that is not JSON: ${show(text.slice(0, 80))}`))
  }
  if (!Array.isArray(data)) return E.left(listingError('smolvm machine ls --json printed JSON that is not a list of machines'))
  const rows: BottleRow[] = []
  const skipped: string[] = []
  for (const [i, m] of data.entries()) {
    const row = parseMachine(m, `smolvm machine ls --json: machine ${i + 1}`)
    if (E.isLeft(row)) skipped.push(`${row.left}; skipped it`)
    else if (row.right !== null) rows.push(row.right)
  }
  return E.right({ rows, skipped })
}

/** One machine of the list: a row, null for a machine that is not bottle's, or why it cannot be read. */
const parseMachine = (m: unknown, where: string): E.Either<string, BottleRow | null> => {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return E.left(`${where} is not a JSON object`)
  const o = m as Record<string, unknown>
  const named = typeof o.name === 'string' && o.name !== '' ? ` (${show(o.name.slice(0, 80))})` : ''
  const labels = o.labels ?? {}
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return E.left(`${where}${named} has labels that are not an object`)
  const label = (k: string): string | null => {
    const v = Object.hasOwn(labels, k) ? (labels as Record<string, unknown>)[k] : undefined
    return typeof v === 'string' && v !== '' ? v : null
  }
  if (label(managedLabel) !== 'true') return E.right(null)
  if (typeof o.name !== 'string' || o.name === '') return E.left(`${where} has no name`)
  if (typeof o.state !== 'string') return E.left(`${where}${named} has no state`)
  return E.right({
    name: o.name,
    backend: 'smolvm',
    state: o.state,
    createdAt: typeof o.created_at === 'number' && Number.isFinite(o.created_at) ? o.created_at * 1000 : null,
    image: typeof o.image === 'string' && o.image !== '' ? o.image : null,
    specHash: label(specHashLabel),
    spec: null,
  })
}
