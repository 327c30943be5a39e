/**
 * compile(backend, spec, op, host): the pure, total heart of bottle. Same input, same plan.
 *
 *   compile(docker, spec, { _tag: 'agent', args: ['-p', 'hi'], tty: null }, host)
 *   // right({ op: 'agent', steps: [{ argv: ['docker','exec','-i','-u','node',…,'claude','-p','hi'] }] })
 *   compile(docker, null, { _tag: 'ls' }, host)   // ls and down --all name no bottle: no spec
 *
 * What is the same on every backend lives here: which command an op runs in the guest, what the
 * agent profile asks for (prompt flag, resume, root), the resume fallback, the copy-in plumbing,
 * the tmux pane. The backend spells it for its CLI.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { posix } from 'node:path'
import { attachStep, handoffWaitSeconds, shellReserved } from './attach.js'
import { copyOutStep } from './copy-out.js'
import { compileFetch, fetchBranch } from './fetch.js'
import type { Backend, CopyIn, GuestStep, HostFacts } from './backends/backend.js'
import { stopCommand, stopRunIdIndex, wrapCommand, wrapperRunIdIndex } from './guest.js'
import { compileError, show } from './plan/errors.js'
import { quoteShArgv } from './plan/quote.js'
import { type BackendOperation, type BottleOperation, type Operation, isBackendOperation } from './plan/operation.js'
import {
  type GuestIntent,
  type Note,
  type OpName,
  type Plan,
  type ProcessEnv,
  type Step,
  type Wrapper,
  absurd,
  guestArgv,
  info,
  plain,
  planVersion,
  secretSource,
  step,
} from './plan/types.js'
import { defaultAgent } from './bottle-spec/agent.js'
import { sha256 } from './plan/hash.js'
import { bottleStateDir, launchRecordJson, recordFile } from './bottle-spec/record.js'
import { updateOf } from './bottle-spec/update.js'
import { type BottleSpec, defaultUser, noResources } from './bottle-spec/spec.js'
import { noLimits } from './bottle-spec/limits.js'
import { defaultProvision } from './bottle-spec/provision.js'
import { type Checked, absolutePath, agentArg, bottleName, homeOf, script, userName } from './bottle-spec/validate.js'
import { type Door, doorOf, forgetProxy, networkNote, proxyEnv, proxyEnvKeys, proxyIfStopped, relayStartArgv, startProxy, stopProxy } from './backends/egress.js'
import { probeArgv } from './egress/probe.js'
import { type RootGuestStep, provisionOf } from './provision.js'
import { checkAuth, compileAuthImport, prepareSharedAuth, signInNote } from './auth.js'
import { workspaceSteps } from './workspace.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

// -------------------------------------------------------------------------------------------------
// guest commands shared by every backend
// -------------------------------------------------------------------------------------------------

/**
 * `command [promptFlag PATH] ARGS…` (claude: `claude [--append-system-prompt-file PATH] ARGS…`).
 * The prompt flag sits directly after the binary; checkAgent has made sure the profile has one.
 */
export const agentTail = (backend: Backend, spec: BottleSpec, args: readonly string[]): string[] => [
  spec.agent.command,
  ...(spec.prompt === null || spec.agent.promptFlag === null ? [] : [spec.agent.promptFlag, backend.promptPath(spec)]),
  ...args,
]

/**
 * `sh -c '(exec claude [prompt] --continue ARGS) || exec claude [prompt] ARGS'`: resume the last
 * session, or start a fresh one (codex: `resume --last`). The continue words go before ARGS so
 * that an ARGS ending in `--` cannot swallow them. `exec` makes sh look the command up on PATH as
 * docker or runuser would, so a command named like a builtin (`test`, `echo`) or a reserved word
 * (`if`) is still the program; the subshell keeps the first attempt from replacing the script.
 */
export const resumeTail = (backend: Backend, spec: BottleSpec, args: readonly string[]): string[] => {
  const fresh = agentTail(backend, spec, [])
  const resume = [...fresh, ...spec.agent.continueArgs, ...args]
  return ['sh', '-c', `(${quoteShArgv(['exec', ...resume])}) || ${quoteShArgv(['exec', ...fresh, ...args])}`]
}

/**
 * The shell `shell` opens: the user's login shell from the guest's /etc/passwd (what a person who
 * logs in gets: bash where the image gives the user bash), else /bin/sh; nologin and false count
 * as none. It is started as a plain shell, not a login shell (`-l` would read /etc/profile, which
 * resets PATH), so it gets the user, HOME, env and cwd that exec and agent get. Only POSIX sh and
 * its builtins: no getent or awk, which small images lack. Run in the guest as the user: what the
 * guest wrote in its /etc/passwd chooses a program inside the guest, nothing more.
 */
export const shellScript = [
  'l=',
  'while IFS=: read -r n _ _ _ _ _ s; do if [ "$n" = "$USER" ]; then l=$s; break; fi; done 2>/dev/null </etc/passwd',
  'case $l in */nologin | */false) ;; /*) if [ -x "$l" ]; then exec "$l"; fi ;; esac',
  'exec /bin/sh',
].join('\n')

/**
 * What the agent profile needs from the spec for an op that uses it: a way to take the prompt
 * file, a way to resume, and a user it will run as. One-line errors that say what to change.
 */
const checkAgent = (spec: BottleSpec, uses: { prompt: boolean; resume: boolean; runs: boolean }): Checked<BottleSpec> => {
  const { agent } = spec
  if (uses.prompt && spec.prompt !== null && agent.promptFlag === null)
    return E.left(compileError(
      `agent ${show(agent.command)} takes no system-prompt file, so the prompt ${show(spec.prompt)} cannot reach it${
        agent.name === 'codex' ? ' (codex adds instructions from AGENTS.md; -c model_instructions_file would replace its own)' : ''
      }: remove prompt, or give the agent profile a promptFlag`,
    ))
  if (uses.resume && agent.continueArgs.length === 0)
    return E.left(compileError(`agent ${show(agent.command)} has no continueArgs, so it cannot resume a session: give the agent profile continueArgs, or use agent`))
  if (uses.runs && agent.refusesRoot && spec.user === 'root' && !spec.allowRoot)
    return E.left(compileError(
      `agent ${show(agent.command)} refuses to run as root, and the bottle's user is root: choose another user (--user), or set allow_root: true (--allow-root) if root in this sandbox is what you want`,
    ))
  return E.right(spec)
}

/** The agent's guest env: the spec's, plus what the profile needs as root once root is allowed. */
const agentEnv = (spec: BottleSpec): GuestIntent['env'] =>
  spec.allowRoot
    ? [...spec.env, ...spec.agent.rootEnv.filter(([k]) => !spec.env.some(([e]) => e === k))]
    : spec.env

/** The intent of a user-facing guest command: the spec's user, env, secrets and workdir. */
const userIntent = (
  spec: BottleSpec,
  door: Door | null,
  argv: readonly string[],
  io: { tty: boolean; stdin: boolean; user?: string; env?: GuestIntent['env'] },
): GuestIntent => {
  const user = io.user ?? spec.user
  return {
    user,
    home: homeOf(user),
    // A bottle with a door: every command is told where the door is (checkDoor keeps these keys out of the spec's env).
    env: door === null ? (io.env ?? spec.env) : [...(io.env ?? spec.env), ...proxyEnv],
    secrets: spec.secrets,
    cwd: spec.workdir,
    argv,
    tty: io.tty,
    stdin: io.stdin,
  }
}

/** The step for a guest command, given what the backend framed it with (framing + tail, kept apart). */
const framedStep = (title: string, intent: GuestIntent, framing: readonly string[], env: Step['env'], wrapper: Wrapper | undefined, more: Partial<Step>): Step =>
  step(title, guestArgv(framing, intent.argv, wrapper), {
    env,
    guest: { framing, tail: intent.argv, intent, ...(wrapper === undefined ? {} : { wrapper }) },
    ...more,
  })

/** A step that runs a guest command: argv is framing + tail (in the backend's wrapper, if any), kept apart. */
export const guestStep = (
  backend: Backend,
  spec: BottleSpec,
  host: HostFacts,
  title: string,
  intent: GuestIntent,
  more: Partial<Step> = {},
): Step => {
  const { framing, env, wrapper } = backend.exec(spec, intent, host)
  return framedStep(title, intent, framing, env, wrapper, more)
}

/**
 * A user-facing guest command (agent, exec, resume): wrapped (src/guest.ts) so that it carries
 * this run's id and says when it is missing (127); with a stop step for an interrupt where the
 * command outlives the backend client, and the backend's live check for its ambiguous codes.
 */
export const commandStep = (
  backend: Backend,
  spec: BottleSpec,
  host: HostFacts,
  title: string,
  intent: GuestIntent,
  more: Partial<Step> = {},
): Step => {
  const { framing: outer, env, wrapper } = backend.exec(spec, intent, host)
  // A backend wrapper (bwrap's pty for a TTY) holds the command as one sh string, where no launch
  // id slot can go; such a backend's command dies with its client anyway.
  if (wrapper !== undefined) return framedStep(title, intent, outer, env, wrapper, more)
  const onInterrupt = backend.guestOutlivesClient === true ? [stopStep(backend, spec, host, intent)] : []
  return framedStep(title, intent, [...outer, ...wrapCommand([])], env, undefined, {
    launchId: [outer.length + wrapperRunIdIndex],
    ...(onInterrupt.length > 0 ? { onInterrupt } : {}),
    ...(backend.liveCheck === undefined ? {} : { liveCheck: backend.liveCheck(spec, host) }),
    ...more,
  })
}

/** SIGTERM to what a command step started, as its user, in its directory; no TTY, stdin or secrets. */
const stopStep = (backend: Backend, spec: BottleSpec, host: HostFacts, command: GuestIntent): Step => {
  const intent: GuestIntent = { ...command, secrets: [], argv: stopCommand(), tty: false, stdin: false }
  const { framing, env } = backend.exec(spec, intent, host)
  return step(`stop the command this run started in ${spec.name}`, [...framing, ...intent.argv], {
    env,
    guest: { framing, tail: intent.argv, intent },
    launchId: [framing.length + stopRunIdIndex],
  })
}

/** Plumbing in the guest (mkdir, chown, unpacking): root, no user env, cwd `/`. */
const rootStep =
  (backend: Backend, spec: BottleSpec, host: HostFacts): GuestStep =>
  (title, argv) =>
    guestStep(backend, spec, host, title, {
      user: 'root',
      home: homeOf('root'),
      env: [],
      secrets: [],
      cwd: '/',
      argv,
      tty: false,
      stdin: false,
    })

/** A provision step (src/provision.ts): root, cwd `/`, no secrets, its output shown. */
const provisionStep =
  (backend: Backend, spec: BottleSpec, host: HostFacts): RootGuestStep =>
  (title, argv, env) =>
    guestStep(backend, spec, host, title, {
      user: 'root',
      home: homeOf('root'),
      env,
      secrets: [],
      cwd: '/',
      argv,
      tty: false,
      stdin: false,
    }, { stdio: 'passthrough' })

/** Copy a host path in, owned by the bottle's user; how is the backend's business. */
const copyInSteps = (
  backend: Backend,
  spec: BottleSpec,
  copy: CopyIn,
  host: HostFacts,
): Checked<readonly Step[]> => backend.copyIn(spec, copy, host, rootStep(backend, spec, host))

/** The host path must exist and be of a kind we can copy. */
const hostSource = (what: string, path: string, host: HostFacts): Checked<'file' | 'dir'> => {
  const kind = host.pathKinds[path] ?? 'missing'
  switch (kind) {
    case 'missing':
      return E.left(compileError(`${what} ${show(path)} does not exist`))
    // A FIFO would hang the copy, a device (/dev/zero) would copy without end, and either would
    // land in the bottle as a FIFO or a device node.
    case 'other':
      return E.left(compileError(`${what} ${show(path)} is not a regular file or a directory (a FIFO, a device or a socket): bottle copies only those`))
    case 'dir': {
      // cp -R, docker cp and tar would make it again in the bottle, as a FIFO or a device node
      // the agent could then open; refused, not skipped, so what lands is what the user named.
      const special = host.specialEntries?.[path]
      if (special !== undefined)
        return E.left(compileError(`${what} ${show(path)} holds ${special.what}, ${show(special.path)}: bottle copies only regular files, directories and symlinks; remove it, or copy a directory without one`))
      return E.right(kind)
    }
    case 'file':
      return E.right(kind)
  }
}

// -------------------------------------------------------------------------------------------------
// the egress door (src/backends/egress.ts)
// -------------------------------------------------------------------------------------------------

/**
 * With an allow-list the proxy is the only way out: a proxy variable in the bottle's own env
 * would point the agent elsewhere (or nowhere), so it is refused, not overridden.
 */
const checkDoor = (spec: BottleSpec, door: Door | null): Checked<BottleSpec> => {
  if (door === null) return E.right(spec)
  const clash = spec.env.find(([k]) => proxyEnvKeys.has(k))
  return clash === undefined
    ? E.right(spec)
    : E.left(compileError(`env ${clash[0]}: a bottle with an allow-list reaches out only through its egress proxy, and bottle sets ${clash[0]} to it; remove it from env (or set network: open)`))
}

/**
 * What an op on a launched bottle with a door runs first when the host proxy is not running
 * (after a reboot): the proxy, and where the relay outlives a command, the relay in the guest.
 */
const doorAgain = (backend: Backend, spec: BottleSpec, door: Door | null, host: HostFacts): Step[] => {
  // A proxy of the backend's own is restarted by the backend (the kubelet restarts a proxy Pod).
  if (backend.ownProxy !== undefined) return []
  const proxy = proxyIfStopped(backend.name, spec, door, host)
  if (proxy.length === 0 || backend.relayPerCommand === true) return proxy
  return [...proxy, rootStep(backend, spec, host)('start the relay to the egress proxy in the bottle (127.0.0.1:3128)', relayStartArgv)]
}

/** The probe (src/egress/probe.ts), as the bottle's user, with the proxy env. */
const probeStep = (backend: Backend, spec: BottleSpec, host: HostFacts, more: Partial<Step>): Step =>
  guestStep(backend, spec, host, `probe the egress door from inside the bottle, as ${spec.user}`, {
    user: spec.user,
    home: homeOf(spec.user),
    env: proxyEnv,
    secrets: [],
    cwd: spec.workdir,
    argv: backend.ownProxy?.probe ?? probeArgv(),
    tty: false,
    stdin: false,
  }, more)

// -------------------------------------------------------------------------------------------------
// the launch record
// -------------------------------------------------------------------------------------------------

/**
 * Steps on bottle's own state use the system's sh and tools, whatever the user's PATH holds: the
 * record is what every later op trusts.
 */
const systemTools: ProcessEnv = { inheritHost: false, vars: [plain('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')] }

/**
 * Writes the launch record (src/bottle-spec/record.ts) after the bottle is created: mode 600 (umask), and
 * never over another file (`set -C`: the shell opens with O_EXCL, so neither an existing record
 * nor a symlink is followed or replaced). Its undo removes it, and the directory if that is empty.
 */
const writeRecord = (backend: Backend, spec: BottleSpec, host: HostFacts): Step => {
  const dir = bottleStateDir(host.stateRoot, backend.name, spec.name)
  return step(`record the spec the bottle is launched with in ${dir}/${recordFile}`, [
    '/bin/sh', '-c', `umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/${recordFile}"`, 'sh', dir,
  ], { env: systemTools, stdin: { _tag: 'text', text: launchRecordJson(backend.name, spec) }, undo: [forgetRecord(backend, spec, host)] })
}

/** Removes the launch record, and its directory once nothing else is in it; a missing one is fine. */
const forgetRecord = (backend: Backend, spec: BottleSpec, host: HostFacts): Step => {
  const dir = bottleStateDir(host.stateRoot, backend.name, spec.name)
  return step(`forget the launch record ${dir}/${recordFile}`, [
    '/bin/sh', '-c', `rm -f -- "$1/${recordFile}" && { rmdir -- "$1" 2>/dev/null || :; }`, 'sh', dir,
  ], { env: systemTools })
}

/**
 * Replaces the launch record with `text`, atomically: a temp file in the same directory (mktemp:
 * O_EXCL, mode 600), then rename(2) over the record, so a reader sees the old file or the new one.
 * A record or directory that is a symlink is refused, as is a record that is no longer the one the
 * plan was made from ($2, its sha256; a saved plan or script run later, another update between).
 * A record that already says `text` ($3) is left as it is, which makes the step its own undo's
 * undo: each rewrite's undo is the same step with the old text.
 */
const rewriteRecordScript = [
  'd=$1 r=$1/record.json',
  'if [ -L "$d" ] || [ ! -d "$d" ]; then echo "bottle: $d is a symlink or not a directory: the record is not rewritten" >&2; exit 2; fi',
  'if [ -L "$r" ] || [ ! -f "$r" ]; then echo "bottle: $r is a symlink or not a regular file: it is not rewritten" >&2; exit 2; fi',
  'now=$(sha256sum < "$r") || exit 1',
  'now=${now%% *}',
  'if [ "$now" = "$3" ]; then cat > /dev/null; exit 0; fi',
  'if [ "$now" != "$2" ]; then echo "bottle: $r changed since this plan was made: plan again" >&2; exit 2; fi',
  'umask 077',
  't=$(mktemp "$d/.record.json.XXXXXX") || exit 1',
  'if cat > "$t" && mv -fT -- "$t" "$r"; then exit 0; fi',
  'rm -f -- "$t"',
  'exit 1',
].join('\n')

const rewriteRecord = (backend: Backend, name: string, host: HostFacts, from: string, to: string, title: string, undo: readonly Step[]): Step => {
  const dir = bottleStateDir(host.stateRoot, backend.name, name)
  return step(title, ['/bin/sh', '-c', rewriteRecordScript, 'sh', dir, sha256(from), sha256(to)], {
    env: systemTools,
    stdin: { _tag: 'text', text: to },
    undo,
  })
}

/**
 * update: the record rewritten with the new live fields, then the new prompt file copied in (as
 * launch does). The record goes first, with the old one as its undo: a copy that fails puts the
 * old record back, and the bottle runs as before.
 */
const compileUpdate = (
  backend: Backend,
  spec: BottleSpec,
  op: Extract<BottleOperation, { _tag: 'update' }>,
  host: HostFacts,
): Checked<Plan> => {
  const u = updateOf(spec, op.declared, backend)
  if (E.isLeft(u)) return u
  const { next, applied, fixed, addedSecrets, promptChanged } = u.right
  const shown: Note[] = [
    ...applied.map((change): Note => ({ _tag: 'update', change })),
    ...fixed.map((change): Note => ({ _tag: 'notApplied', change })),
  ]
  if (applied.length === 0)
    return E.right(plan('update', backend, spec, host, [], null, [{ _tag: 'nothingToUpdate', bottle: spec.name }, ...shown]))
  const checkedNext = backend.checkSpec(next, 'update', host)
  if (E.isLeft(checkedNext)) return checkedNext
  const checked = checkAgent(checkedNext.right, { prompt: true, resume: false, runs: false })
  if (E.isLeft(checked)) return checked
  const dir = bottleStateDir(host.stateRoot, backend.name, spec.name)
  const newText = launchRecordJson(backend.name, next)
  const restore = rewriteRecord(backend, spec.name, host, newText, op.recordText, `put back the launch record ${dir}/${recordFile} as it was`, [])
  const record = rewriteRecord(backend, spec.name, host, op.recordText, newText, `record the updated spec in ${dir}/${recordFile} (a temp file, then renamed over it)`, [restore])
  let copy: readonly Step[] = []
  if (promptChanged && next.prompt !== null) {
    const kind = hostSource('prompt file', next.prompt, host)
    if (E.isLeft(kind)) return kind
    if (kind.right !== 'file') return E.left(compileError(`prompt file ${show(next.prompt)} is a directory`))
    const steps = copyInSteps(backend, next, { source: next.prompt, kind: 'file', dest: backend.promptPath(next) }, host)
    if (E.isLeft(steps)) return steps
    copy = steps.right
  }
  const p = plan('update', backend, next, host, [record, ...copy], null, [
    ...shown,
    info('agent, exec, shell, cp, resume and attach compile from the updated record from the next command on'),
  ])
  // Like launch: a secret the bottle is to get must be there now, not fail its next command.
  return E.right({ ...p, secrets: [...new Set([...p.secrets, ...addedSecrets])] })
}

// -------------------------------------------------------------------------------------------------
// compile
// -------------------------------------------------------------------------------------------------

const plan = (
  op: OpName,
  backend: Backend,
  spec: BottleSpec | null,
  host: HostFacts,
  steps: readonly Step[],
  exitCodeFrom: number | null,
  notes: readonly Note[] = [],
): Plan => ({
  version: planVersion,
  op,
  backend: backend.name,
  bottle: spec?.name ?? '',
  steps,
  // Launch hands no secret to most backends (they go in on each exec), yet a bottle launched
  // without one would fail later: every spec secret must be there before anything is created.
  secrets: op === 'launch' && spec !== null ? [...new Set([...secretsOf(steps), ...spec.secrets])] : secretsOf(steps),
  notes: [...notes, ...(backend.notes?.(op, spec, host) ?? [])],
  exitCodeFrom,
})

/** Every secret a step or its undo hands to a backend process (env or stdin), in first-use order. */
const secretsOf = (steps: readonly Step[]): string[] => {
  const names: string[] = []
  const add = (name: string): void => {
    if (!names.includes(name)) names.push(name)
  }
  const visit = (s: Step): void => {
    for (const v of s.env.vars) if (v._tag === 'secret') add(secretSource(v))
    if (s.stdin._tag === 'json') for (const slot of s.stdin.secrets) add(slot.secret)
    s.undo.forEach(visit)
  }
  steps.forEach(visit)
  return names
}

/**
 * Compiles an operation into its plan. Pure and total. An op on one bottle takes that bottle's
 * spec; ls and down --all take none (null): they act on what the backend lists, and on
 * kubernetes `host.cluster` says where.
 */
export interface Compile {
  (backend: Backend, spec: BottleSpec, op: BottleOperation, host: HostFacts): Checked<Plan>
  (backend: Backend, spec: null, op: BackendOperation, host: HostFacts): Checked<Plan>
}

export const compile: Compile = (backend: Backend, spec: BottleSpec | null, op: Operation, host: HostFacts): Checked<Plan> => {
  if (isBackendOperation(op)) {
    if (op._tag === 'auth') return compileAuthImport(backend, op, host)
    return op._tag === 'ls' ? E.right(compileList(backend, host)) : compileDownAll(backend, op.all, op.gone ?? [], host)
  }
  // The signature pairs a spec with every op on one bottle: reaching here without one is a bug.
  if (spec === null) throw new Error(`compile: ${op._tag} needs the bottle's spec`)
  return compileOnBottle(backend, spec, op, host)
}

const compileOnBottle = (
  backend: Backend,
  rawSpec: BottleSpec,
  op: BottleOperation,
  host: HostFacts,
): Checked<Plan> => {
  const checkedSpec = backend.checkSpec(rawSpec, op._tag, host)
  if (E.isLeft(checkedSpec)) return checkedSpec
  let spec = checkedSpec.right
  // The door, once per compile: the checks below refuse a spec or pass it on as it is.
  const door = doorOf(spec)
  // down takes a bottle away whatever its env says. (Two plain checks: fp-ts's dual flatMap
  // copies its arguments on every call.)
  if (op._tag !== 'down') {
    const doorChecked = checkDoor(spec, door)
    if (E.isLeft(doorChecked)) return doorChecked
    const authChecked = checkAuth(backend, doorChecked.right, host)
    if (E.isLeft(authChecked)) return authChecked
    spec = authChecked.right
  }
  // Every op on a live bottle with a door starts by making sure the door is there (after a reboot).
  const again = op._tag === 'launch' || op._tag === 'down' || op._tag === 'update' ? [] : doorAgain(backend, spec, door, host)
  switch (op._tag) {
    case 'launch': {
      const checked = checkAgent(spec, { prompt: true, resume: false, runs: false })
      if (E.isLeft(checked)) return checked
      const provision = provisionOf(backend, spec, host, door, provisionStep(backend, spec, host))
      if (E.isLeft(provision)) return provision
      // The proxy before the bottle starts (each backend puts it there), stopped by the undo; during provisioning it lets the provision hosts through too.
      const proxyDoor = provision.right.proxyDoor
      const proxy = proxyDoor === null || backend.ownProxy !== undefined ? [] : [startProxy(backend.name, spec, proxyDoor, host, true)]
      const relay = door === null || backend.relayPerCommand === true
        ? []
        : [rootStep(backend, spec, host)('start the relay to the egress proxy in the bottle (127.0.0.1:3128)', backend.ownProxy?.relayStart(spec) ?? relayStartArgv)]
      // auth: shared's directory before the create that mounts it (src/auth.ts).
      // workspace: copy fills the workdir after provision (src/workspace.ts), before the prompt copy.
      const workspace = workspaceSteps(backend, spec, host, (copy) => copyInSteps(backend, spec, copy, host))
      if (E.isLeft(workspace)) return workspace
      const create = [
        ...prepareSharedAuth(backend.name, spec, host), ...backend.create(spec, host, rootStep(backend, spec, host), proxy), ...relay,
        writeRecord(backend, spec, host), ...provision.right.steps, ...workspace.right.steps,
      ]
      // Last: the launch fails, and is undone, unless the policy holds from the inside.
      const probe = door === null ? [] : [probeStep(backend, spec, host, {})]
      const recorded = [
        networkNote(spec),
        signInNote(backend.name, spec, host),
        info(`every later op on the bottle compiles from the spec recorded at launch (${bottleStateDir(host.stateRoot, backend.name, spec.name)}/${recordFile}, secrets by name), not from the manifest`),
        ...provision.right.notes,
        ...workspace.right.notes,
      ]
      if (spec.prompt === null) return E.right(plan('launch', backend, spec, host, [...create, ...probe], null, recorded))
      const kind = hostSource('prompt file', spec.prompt, host)
      if (E.isLeft(kind)) return kind
      if (kind.right !== 'file')
        return E.left(compileError(`prompt file ${show(spec.prompt)} is a directory`))
      const copy = copyInSteps(backend, spec, { source: spec.prompt, kind: 'file', dest: backend.promptPath(spec) }, host)
      if (E.isLeft(copy)) return copy
      return E.right(plan('launch', backend, spec, host, [...create, ...copy.right, ...probe], null, recorded))
    }
    case 'probe': {
      if (door === null)
        return E.left(compileError(`bottle ${show(spec.name)} has no egress door (network: ${spec.network.mode}): there is nothing to probe`))
      return E.right(plan('probe', backend, spec, host, [...again, probeStep(backend, spec, host, { stdio: 'passthrough' })], again.length, [networkNote(spec)]))
    }
    case 'fetch': {
      // The CLI reads what fetch needs of the host (src/cli/plan-for.ts); none given: none found.
      const fetched = compileFetch(backend, spec, host, host.fetch ?? { hostRepo: null, workdirIsRepo: null }, op.maxBundle)
      if (E.isLeft(fetched)) return fetched
      return E.right(plan('fetch', backend, spec, host, [...again, fetched.right], again.length, [
        info(`only a bundle of the bottle's HEAD comes out; it is verified, fetched with hooks off, and moves ${fetchBranch(spec.name)} only forward`),
      ]))
    }
    case 'agent':
    case 'resume':
    case 'attach': {
      const resume = op._tag === 'resume' || (op._tag === 'attach' && op.resume)
      const checked = checkAgent(spec, { prompt: true, resume, runs: true })
      if (E.isLeft(checked)) return checked
      const args = pipe(op.args, E.traverseArray(agentArg))
      if (E.isLeft(args)) return args
      // A pane is a terminal: the agent in it gets a TTY, whatever bottle's own stdin is.
      const tty = op._tag === 'attach' ? true : (op.tty ?? host.stdinIsTTY)
      const tail = resume ? resumeTail(backend, spec, args.right) : agentTail(backend, spec, args.right)
      const cmd = spec.agent.command
      const title = resume ? `resume ${cmd}'s last session as ${spec.user}, or start one` : `run ${cmd} as ${spec.user}`
      const intent = userIntent(spec, door, tail, { tty, stdin: true, env: agentEnv(spec) })
      if (op._tag !== 'attach')
        return E.right(plan(op._tag, backend, spec, host, [...again, commandStep(backend, spec, host, title, intent, { stdio: 'terminal' })], again.length, [networkNote(spec), signInNote(backend.name, spec, host)]))
      // In a pane the agent is the pane's own process: tmux signals it, and no run id is filled.
      return compileAttach(backend, spec, op, guestStep(backend, spec, host, title, intent, { stdio: 'terminal' }), host, again)
    }
    case 'exec': {
      const body = script(op.script)
      if (E.isLeft(body)) return body
      const user = op.user === null ? E.right(spec.user) : userName(op.user)
      if (E.isLeft(user)) return user
      // stdin is passed on, as for agent (`-i`): `echo data | bottle run exec demo 'wc -c'`.
      const intent = userIntent(spec, door, ['sh', '-c', body.right], { tty: false, stdin: true, user: user.right })
      const run = commandStep(backend, spec, host, `run the script as ${user.right}`, intent, { stdio: 'terminal' })
      return E.right(plan('exec', backend, spec, host, [...again, run], again.length, [networkNote(spec)]))
    }
    case 'shell': {
      // Like agent: a TTY iff stdin is a terminal, stdin passed on, the spec's user, env and cwd
      // (not the agent profile's root env: the shell is not the agent).
      const intent = userIntent(spec, door, ['sh', '-c', shellScript, 'sh'], { tty: op.tty ?? host.stdinIsTTY, stdin: true })
      const run = commandStep(backend, spec, host, `open a shell as ${spec.user}`, intent, { stdio: 'terminal' })
      return E.right(plan('shell', backend, spec, host, [...again, run], again.length, [networkNote(spec)]))
    }
    case 'cp': {
      if (op.out === true) return compileCopyOut(backend, spec, op, host)
      return pipe(
        E.Do,
        E.bind('source', () => absolutePath('source', op.source)),
        E.bind('dest', () => absolutePath('guest path', op.dest)),
        // The copy is chowned to the bottle's user afterwards; over `/` that would re-own the system.
        E.filterOrElse(({ dest }) => dest !== '/', () => compileError('guest path "/" is refused: name the directory to copy into')),
        E.bind('kind', ({ source }) => hostSource('source', source, host)),
        E.flatMap(({ source, kind, dest }) => copyInSteps(backend, spec, { source, kind, dest }, host)),
        E.map((copy) => plan('cp', backend, spec, host, copy, null)),
      )
    }
    case 'update':
      return compileUpdate(backend, spec, op, host)
    case 'down':
      // The proxy first: on bwrap its directory is inside what down removes. A proxy of the
      // backend's own goes with the backend's down.
      return E.right(plan('down', backend, spec, host, [
        ...(door === null || backend.ownProxy !== undefined ? [] : [stopProxy(backend.name, spec, host)]),
        ...backend.down(spec, host),
        // A door of the backend's own goes whatever the record says: it is found by its label,
        // and may be all that is left of a bottle (its Pod deleted behind bottle's back).
        ...(backend.ownProxy?.remove(spec) ?? []),
        forgetRecord(backend, spec, host),
        ...(door === null || backend.ownProxy !== undefined ? [] : [forgetProxy(backend.name, spec, host)]),
      ], null, [
        info('a bottle that is already gone is not an error'),
      ]))
    default:
      return absurd(op)
  }
}

/**
 * Where a copy out lands: DEST itself when nothing is there, DEST/NAME when DEST is a directory
 * (NAME: the guest path's last component), as cp and docker cp do. The paths whose kinds the CLI
 * reads for it: the destination, its parent, and that path inside it.
 */
export const copyOutPaths = (guest: string, dest: string): string[] => [dest, posix.dirname(dest), posix.join(dest, posix.basename(guest))]

const compileCopyOut = (backend: Backend, spec: BottleSpec, op: Extract<BottleOperation, { _tag: 'cp' }>, host: HostFacts): Checked<Plan> => {
  const guest = absolutePath('guest path', op.source)
  if (E.isLeft(guest)) return guest
  if (guest.right === '/') return E.left(compileError('guest path "/" is refused: name the file or directory to copy out'))
  const dest = absolutePath('destination', op.dest)
  if (E.isLeft(dest)) return dest
  const kind = (p: string) => host.pathKinds[p] ?? 'missing'
  const parent = posix.dirname(dest.right)
  if (kind(parent) !== 'dir')
    return E.left(compileError(`the destination's parent ${show(parent)} ${kind(parent) === 'missing' ? 'does not exist' : 'is not a directory'}: make it first`))
  const into = kind(dest.right) === 'dir'
  const final = into ? posix.join(dest.right, posix.basename(guest.right)) : dest.right
  if (kind(dest.right) !== 'missing' && !into)
    return E.left(compileError(`${show(dest.right)} exists: bottle never writes over a file; choose a new path or a directory`))
  if (into && kind(final) !== 'missing')
    return E.left(compileError(`${show(final)} exists: bottle never writes over it; choose a new path`))
  const copy = copyOutStep(backend, spec, { guest: guest.right, parent: into ? dest.right : parent, final }, host)
  return E.right(plan('cp', backend, spec, host, [copy], null, [
    info('what comes out of the bottle is untrusted: symlinks, devices, FIFOs and sockets are left out, hard links made plain files, set-id bits cleared; the files belong to the user bottle runs as'),
  ]))
}

/** The tmux step around an agent step; checks what only attach takes (the target, the temp dir). */
const compileAttach = (
  backend: Backend,
  spec: BottleSpec,
  op: Extract<BottleOperation, { _tag: 'attach' }>,
  run: Step,
  host: HostFacts,
  again: readonly Step[],
): Checked<Plan> => {
  const target = op.target === null ? E.right(null) : tmuxTarget(op.target)
  if (E.isLeft(target)) return target
  const how = { pane: op.pane, target: target.right, window: spec.name }
  const handsOver = run.env.vars.length > 0
  const tmpdir = handsOver ? absolutePath('the temporary directory (TMPDIR)', host.tmpdir) : E.right(host.tmpdir)
  if (E.isLeft(tmpdir)) return tmpdir
  const notes = [
    'tmux starts the pane with the tmux server\'s environment and the client\'s PATH, not bottle\'s',
    ...(handsOver
      ? [`the pane gets ${run.env.vars.map((v) => v.name).join(', ')} from bottle through a private directory (mktemp -d in ${tmpdir.right}) that the pane removes before the agent starts (a watcher removes it if the pane has not within ${handoffWaitSeconds} s, and the hand-off at once if tmux refuses): no value is in an argv or in tmux`]
      : []),
    ...run.env.vars
      .filter((v) => shellReserved.has(v.name))
      .map((v) => `${v.name} may not reach the agent: the pane's /bin/sh keeps that name for itself (bash as sh does)`),
    ...(op.targetFrom === 'own-pane'
      ? [`no --target: the pane is ${op.target ?? ''}, the one bottle runs in ($TMUX_PANE), not tmux's active pane`]
      : []),
    ...(op.pane === 'respawn' && (op.target === null || op.targetFrom === 'own-pane')
      ? ['respawn-pane -k with no --target replaces the pane bottle runs in']
      : []),
  ]
  const opened = attachStep(run, how, spec.agent.command, tmpdir.right)
  if (E.isLeft(opened)) return opened
  return E.right(plan('attach', backend, spec, host, [...again, opened.right], null, [networkNote(spec), ...notes.map(info)]))
}

/** tmux's -t: any word but empty or NUL (tmux itself says whether it names a pane). */
const tmuxTarget = (t: string): Checked<string> =>
  t === '' ? E.left(compileError('--target must not be empty')) : t.includes('\0') ? E.left(compileError(`--target ${show(t)} contains a NUL byte`)) : E.right(t)

/**
 * How long each step of a listing may take. A local engine answers `ps` in well under a second
 * and a remote cluster in a few; an endpoint that accepts a connection and never answers would
 * otherwise hang `ls` and `down --all` forever.
 */
export const listTimeoutMs = 5000

/**
 * `ls` names no bottle, so it has no spec; on kubernetes, `host.cluster` says where to look. Every
 * step has the listing's time limit: the interpreter enforces it, as it does everything in a plan.
 */
const compileList = (backend: Backend, host: HostFacts): Plan =>
  plan('ls', backend, null, host, backend.list(host).map((s) => ({ ...s, timeoutMs: listTimeoutMs })), null, [
    info('bottle reads the listing and prints NAME BACKEND STATE AGE IMAGE DRIFT (or, with --json, an object: bottles and unreachable)'),
    info(`a listing step that runs longer than ${listTimeoutMs / 1000} s is stopped, and the backend is reported as not listed; the other backends are still listed`),
  ])

/**
 * `down --all`: down every bottle a listing found, in the order listed. The names come from the
 * backend's own listing, so its CLI takes them; only the rules every backend shares are checked.
 * down reads nothing but the name (and, on kubernetes, where the listing looked: `host.cluster`),
 * so the rest of the spec is the defaults with a placeholder workdir: the reaper must work from
 * any directory, including ones no backend would bind.
 *
 * `gone` are bottles the backend no longer lists but of which something of bottle's is left (see
 * BackendOperation). On kubernetes the door's objects and the Secret (by label) and the record are removed. With
 * a host proxy, only the proxy is stopped: the state root is keyed by backend and name, not by
 * engine, so a bottle that lives on another engine (another DOCKER_HOST) looks gone from here,
 * and its launch record and proxy log are kept (its next op starts its proxy again; `down NAME`
 * removes them). Nothing is ever found by the bottle's name alone, which another tool's
 * container or Pod may carry.
 */
const compileDownAll = (backend: Backend, names: readonly string[], gone: readonly string[], host: HostFacts): Checked<Plan> => {
  // The first name the shared rules refuse refuses the whole plan.
  const checked = pipe([...names, ...gone], E.traverseArray(bottleName))
  if (E.isLeft(checked)) return checked
  const specOf = (name: string): BottleSpec => ({
    name, image: null, user: defaultUser, workdir: '/', env: [], secrets: [],
    prompt: null, agent: defaultAgent, allowRoot: false, network: { mode: 'open' },
    context: host.cluster.context, namespace: host.cluster.namespace, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null,
  })
  const listed = names.flatMap((name) => {
    const spec = specOf(name)
    // No record is read for down --all, so whether a bottle had a door is not known here: its
    // proxy is stopped either way (nothing running is success).
    if (backend.ownProxy !== undefined) return [...backend.down(spec, host), ...backend.ownProxy.remove(spec), forgetRecord(backend, spec, host)]
    return [stopProxy(backend.name, spec, host), ...backend.down(spec, host), forgetRecord(backend, spec, host), forgetProxy(backend.name, spec, host)]
  })
  const left = gone.flatMap((name) => {
    const spec = specOf(name)
    if (backend.ownProxy !== undefined) return [...backend.ownProxy.leftovers(spec), forgetRecord(backend, spec, host)]
    return [stopProxy(backend.name, spec, host)]
  })
  const what = backend.ownProxy !== undefined
    ? 'its egress proxy\'s Pod, Service and NetworkPolicies and its Secret (each by bottle\'s labels) and its launch record are removed'
    : 'its egress proxy on the host is stopped, and its launch record and proxy log are kept (a bottle of that name on another engine is not lost: its next op starts the proxy again; bottle run down NAME removes them)'
  return E.right(plan('down', backend, null, host, [...listed, ...left], null, [
    info(names.length === 0
      ? `down --all: ${backend.name} lists no bottles that bottle created${gone.length === 0 ? '; nothing to do' : ''}`
      : `down --all: the ${names.length} bottle${names.length === 1 ? '' : 's'} that bottle created on ${backend.name}, as listed just now: ${names.join(', ')}`),
    ...(gone.length === 0 ? [] : [info(`down --all: what is left of ${gone.length} bottle${gone.length === 1 ? '' : 's'} ${backend.name} no longer has (removed behind bottle's back): ${gone.join(', ')}; of each, ${what}; nothing is found by its name alone`)]),
    info('a bottle that is already gone is not an error'),
  ]))
}

/**
 * What down --all runs, besides the bottles' listing, to find the doors of bottles that are gone
 * (kubernetes: door objects by label); null for a backend whose proxy is on the host, whose
 * leftovers are host state, read at the CLI edge. Read-only, with the listing's time limit.
 */
export const compileDoorList = (backend: Backend, host: HostFacts): Plan | null =>
  backend.ownProxy === undefined
    ? null
    : plan('ls', backend, null, host, [{ ...backend.ownProxy.list(host), timeoutMs: listTimeoutMs }], null, [
      info('bottle reads which bottles the door objects belong to (their dev.bottle.egress-of label)'),
    ])
