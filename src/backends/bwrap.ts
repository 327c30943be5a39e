/**
 * bwrap (bubblewrap): the embedded default. A bottle is a state directory on the host, and every
 * command in it is a fresh, daemonless `bwrap` sandbox over that directory.
 *
 *   bwrap.exec(spec, intent, host).framing
 *   // ['/usr/bin/bwrap','--unshare-all','--unshare-user','--die-with-parent','--new-session',
 *   //  '--ro-bind','/usr','/usr','--symlink','usr/bin','/bin',…,'--ro-bind','/etc','/etc',
 *   //  '--dev','/dev','--proc','/proc','--tmpfs','/tmp','--tmpfs','/run',…,
 *   //  '--bind','/home/me/.local/state/bottle/bwrap/demo/home','/home/node',
 *   //  '--bind','/src/app','/src/app','--remount-ro','/','--uid','1000','--gid','1000',
 *   //  '--chdir','/src/app','--setenv','HOME','/home/node',…,'--']
 *
 * What a bottle is, on the host (`$XDG_STATE_HOME/bottle/bwrap/NAME`):
 *   home/               bound read-write at the user's HOME on every run
 *   system-prompt.md    the prompt file, bound read-only at /tmp/bottle/system-prompt.md
 * The root is an allow-list: the rootfs' system directories read-only (src/host.ts says which),
 * fresh tmpfs for the rest, root-only files masked when bottle is root, the state root and the
 * host home never shown, and the workdir bound read-write at its own path.
 *
 * The bwrap process's env holds a fixed PATH and the secrets' values only; everything plain goes
 * in as --setenv. An interactive guest runs under util-linux `script`, on a pty of its own; any
 * other in a new session: no TIOCSTI into the user's terminal either way.
 * Traps (bwrap 0.8): mounts apply in order, so the masks follow what they mask and the workdir
 * comes after the tmpfs mounts; bwrap's own failures exit 1.
 */
import * as E from 'fp-ts/lib/Either.js'
import { readBwrapFacts } from './bwrap-host.js'
import { masksFromFd, scanThenRun } from './bwrap-scan.js'
import { gitGuardFile } from '../workspace-guard.js'
import { compileError, show } from '../plan/errors.js'
import {
  type EnvVar,
  type GuestIntent,
  type OpName,
  type ProcessEnv,
  type Step,
  type Wrapper,
  guestArgv,
  inheritEnv,
  plain,
  secret,
  secretAs,
  step,
} from '../plan/types.js'
import { doorOf, guestSocketDir, relayPrefix, socketDir } from './egress.js'
import { type BottleSpec, defaultUser } from '../bottle-spec/spec.js'
import { setLimits } from '../bottle-spec/limits.js'
import { type Checked, absolutePath, homeOf } from '../bottle-spec/validate.js'
import {
  type Backend,
  type BottleRow,
  type BwrapBottleFacts,
  type BwrapFacts,
  type CopyIn,
  type HostFacts,
  type Ids,
  launchLabels,
  managedLabel,
  specHashLabel,
} from './backend.js'
import { authMount } from '../auth.js'
import { bindsHostWorkdir } from '../workspace.js'

// -------------------------------------------------------------------------------------------------
// the layout
// -------------------------------------------------------------------------------------------------

/** Where the prompt file appears in the bottle: under /tmp, one of the few places a bind can go. */
export const promptGuestPath = '/tmp/bottle/system-prompt.md'
const bottleMounts = '/tmp/bottle'
/** Where `cp` binds its source, read-only, for the copy that runs inside the sandbox. */
const copySourcePath = '/tmp/bottle/copy-source'

/** One path segment that cannot be `.`, `..` or read as a flag: the state directory's name. */
const validName = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

/**
 * The ids a name runs as: root is 0; otherwise the rootfs' passwd entry; the default user `node`,
 * when the rootfs has no such account (a plain Debian host), 1000:1000. Any other name must be
 * listed (checkSpec refuses it otherwise). Own properties only: a user named `constructor` is a name.
 */
export const idsOf = (user: string, accounts: Readonly<Record<string, Ids>>): Ids =>
  user === 'root' ? { uid: 0, gid: 0 } : Object.hasOwn(accounts, user) ? (accounts[user] as Ids) : { uid: 1000, gid: 1000 }

/** A user the sandbox can run as: root, one the rootfs lists, or the default user. */
const knownUser = (user: string, accounts: Readonly<Record<string, Ids>>): boolean =>
  user === 'root' || user === defaultUser || Object.hasOwn(accounts, user)

/**
 * The bwrap process's own PATH. Fixed, and not the guest's (which names the guest's home): the
 * process env carries nothing from the spec but secret values, and bwrap needs no PATH itself
 * (the plan names it by absolute path); the guest's PATH goes in with --setenv.
 */
export const bwrapProcessPath = '/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * The guest PATH: fixed, not the host's, which names host-only places and would make runs differ
 * by who starts them. `~/.local/bin` comes first: it is in the bottle's home, where an agent
 * installed in the bottle (Claude Code's installer puts `claude` there) lives between runs.
 */
export const guestPath = (home: string): string =>
  `${home}/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`

const stateOf = (facts: BwrapFacts, spec: BottleSpec): string => `${facts.stateDir}/${spec.name}`

/**
 * Where the bottles are, without facts about one of them: all `down` needs, so `down --all`
 * (which compiles from a listing, with no per-bottle facts) can remove bwrap bottles too.
 */
const stateRootOf = (host: HostFacts): BwrapFacts => {
  if (host.bwrap === null) throw new Error('bug: bwrap compiled without bwrap host facts')
  return host.bwrap
}

/** Equal to `ancestor`, or below it. */
const within = (path: string, ancestor: string): boolean =>
  path === ancestor || path.startsWith(ancestor === '/' ? '/' : `${ancestor}/`)

/** The compiler always runs checkSpec first, which turns missing facts into a Left. */
const factsOf = (host: HostFacts): { facts: BwrapFacts; bottle: BwrapBottleFacts } => {
  const facts = host.bwrap
  if (facts === null || facts.bottle === null) throw new Error('bug: bwrap compiled without bwrap host facts')
  return { facts, bottle: facts.bottle }
}

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

const launchFirst = (spec: BottleSpec, state: string) =>
  `bwrap bottle ${show(spec.name)} was never launched (no ${show(state)}); launch it first: bottle run launch ${spec.name}`

/**
 * What bwrap could enforce, and why it does not: it has no resource flag of its own. setrlimit
 * does not fit: RLIMIT_NPROC counts every process of the outer user (root, when bottle runs as
 * root: the whole host's), RLIMIT_AS makes V8 fail to start, RLIMIT_CPU is CPU seconds, not
 * CPUs. A cgroup would (pids.max, memory.limit_in_bytes, cpu.cfs_quota_us on these cgroup v1
 * hosts, where root may make one), but every command would first have to join it from a host
 * step, and systemd-run needs a systemd that is not there. So a limit is refused at launch, by
 * name, rather than written down and not enforced.
 */
const unenforcedLimits = (spec: BottleSpec): Checked<BottleSpec> => {
  const set = setLimits(spec.limits)
  return set.length === 0
    ? E.right(spec)
    : E.left(compileError(`${set.map((n) => `limits.${n}`).join(', ')} cannot be enforced on bwrap: it has no resource limits, and setrlimit cannot stand in (RLIMIT_NPROC counts the outer user's processes, RLIMIT_AS breaks V8); remove ${set.length === 1 ? 'it' : 'them'}, or use docker or podman`))
}

const checkSpec = (spec: BottleSpec, op: OpName, host: HostFacts): Checked<BottleSpec> => {
  if (op === 'launch') {
    const limits = unenforcedLimits(spec)
    if (E.isLeft(limits)) return limits
  }
  const facts = host.bwrap
  if (facts === null || facts.bottle === null)
    return E.left(compileError('internal: the CLI did not read the host facts bwrap needs'))
  if (!validName.test(spec.name))
    return E.left(compileError(
      `bottle name ${show(spec.name)} is not a valid bwrap bottle name: letters, digits, _, . and -, starting with a letter or digit, at most 128 characters`,
    ))
  let image = spec.image
  if (image !== null) {
    const rootfs = absolutePath('image', image)
    if (E.isLeft(rootfs))
      return E.left(compileError(
        `image ${show(image)} is not a root filesystem directory: bwrap takes an absolute path to one (--image / for the host's)`,
      ))
    image = rootfs.right
  }
  // A workdir bound over the home or the prompt's directory would hide them.
  for (const [what, path] of [['home', homeOf(spec.user)], ['prompt directory', bottleMounts]] as const)
    if (within(path, spec.workdir))
      return E.left(compileError(`workdir ${show(spec.workdir)} would cover the bottle's ${what} ${path}; choose a project directory`))
  // Nothing to run programs from: a missing directory, or one that is not a root filesystem.
  if (!facts.system.some((e) => e.path === '/usr' || e.path === '/bin'))
    return E.left(compileError(`image ${show(image ?? bwrap.defaultImage)} has no /usr or /bin: not a root filesystem directory`))
  const state = stateOf(facts, spec)
  const { launched, promptInstalled, unsafe, users, accounts } = facts.bottle
  // A sandbox that would show the state root (every bottle's home, the records) or the host home.
  for (const [what, path] of [['bottle\'s state directory', facts.stateRoot], ['home directory', facts.hostHome]] as const)
    if (path !== '/' && within(path, spec.workdir))
      return E.left(compileError(`workdir ${show(spec.workdir)} contains your ${what} ${show(path)}; choose a project directory`))
  // Exit 2 before anything runs: unknown ids would otherwise run the guest as some other uid.
  const rootfs = spec.image ?? bwrap.defaultImage
  for (const user of users)
    if (!knownUser(user, accounts))
      return E.left(compileError(`user ${show(user)} is not in ${show(`${rootfs === '/' ? '' : rootfs}/etc/passwd`)}: bwrap runs a user by the ids listed there (root, and the default user ${defaultUser}, need none)`))
  if (unsafe !== null && op !== 'down' && op !== 'ls')
    return E.left(compileError(`bwrap bottle ${show(spec.name)} cannot be trusted: ${unsafe}; nothing was run (take it down: bottle run down ${spec.name})`))
  switch (op) {
    case 'launch':
      if (launched)
        return E.left(compileError(`bwrap bottle ${show(spec.name)} already exists (${show(state)}); take it down first: bottle run down ${spec.name}`))
      break
    case 'agent':
    case 'resume':
      if (!launched) return E.left(compileError(launchFirst(spec, state)))
      // The agent would be handed a flag naming a file that is not there.
      if (spec.prompt !== null && !promptInstalled)
        return E.left(compileError(
          `bwrap bottle ${show(spec.name)} was launched without a prompt file; put one in: bottle run cp ${spec.name} ${spec.prompt} ${promptGuestPath}`,
        ))
      break
    case 'exec':
    case 'shell':
    case 'cp':
    case 'update':
    case 'probe':
    case 'fetch':
      if (!launched) return E.left(compileError(launchFirst(spec, state)))
      break
    case 'down':
    case 'ls':
      break
  }
  return E.right({ ...spec, image })
}

// -------------------------------------------------------------------------------------------------
// the sandbox
// -------------------------------------------------------------------------------------------------

interface Sandbox {
  readonly user: string
  readonly cwd: string
  readonly tty: boolean
  /** Extra binds, placed after the bottle's own (the copy source). */
  readonly binds: readonly string[]
}

/**
 * Only `network: host` keeps the host's network namespace. Every other sandbox has one of its own
 * with loopback only: `none`; `open`, bwrap's own default (bwrap has no network of its own to
 * give, so open is what it was as `default`: none); and a bottle with a door, whose one way out
 * is the proxy's socket.
 */
const sharesNet = (spec: BottleSpec): boolean => spec.network.mode === 'host'

/**
 * Fresh, empty and writable in every sandbox: the host's homes (/home, /root), its runtime
 * sockets (/run: the session bus, ssh and gpg agents, the docker socket), its variable data
 * (/var: databases, caches, logs, other users' mail and spools), its scratch space (/tmp) and its
 * mount points (/mnt, /media, /srv).
 */
const freshDirs = ['/tmp', '/run', '/var', '/home', '/root', '/mnt', '/media', '/srv'] as const

/** `--tmpfs D` for each fresh directory: the same words in every sandbox, built once. */
const freshTmpfs: readonly string[] = freshDirs.flatMap((d) => ['--tmpfs', d])

/**
 * The root the guest sees: bwrap starts from an empty tmpfs, and this is all that goes in it,
 * read-only: the allow-listed system directories of the rootfs (`image`, else the host's `/`,
 * src/host.ts says which and why), bind-mounted or, for merged-/usr symlinks, made again as
 * symlinks. With bottle running as root, every file there that only root or a group may read
 * is masked by /dev/null and every such directory by an empty tmpfs (the guest is host root to
 * the kernel, whatever --uid says): the step scans for them as it starts, and bwrap reads the
 * masks from fd 3 at this point (src/backends/bwrap-scan.ts). Then fresh /dev, /proc and the
 * fresh directories.
 */
const rootMounts = (spec: BottleSpec, facts: BwrapFacts): string[] => {
  const rootfs = spec.image ?? bwrap.defaultImage
  const source = (path: string): string => (rootfs === '/' ? path : `${rootfs}${path}`)
  // Pushed word by word: every guest step of a plan frames its own sandbox.
  const argv: string[] = []
  for (const e of facts.system) {
    if (e.kind === 'dir') argv.push('--ro-bind', source(e.path), e.path)
    else argv.push('--symlink', e.target, e.path)
  }
  if (facts.rootOnlyScan.length > 0) argv.push(...masksFromFd)
  argv.push('--dev', '/dev', '--proc', '/proc', ...freshTmpfs)
  // systemd-resolved's resolv.conf lives under /run: only a sandbox with a network needs it.
  if (sharesNet(spec) && facts.resolvConf !== null) argv.push('--ro-bind-try', facts.resolvConf, facts.resolvConf)
  return argv
}

/**
 * The state root and the host home are never visible: an empty tmpfs over either when a
 * directory the sandbox shows (a system directory, the workdir) contains it. After the binds, so
 * it covers them; the bottle's own home is bound from the state root before, at another path, and
 * keeps its mount.
 */
const hiddenHostPaths = (spec: BottleSpec, facts: BwrapFacts): string[] => {
  const shown = [...facts.system.filter((e) => e.kind === 'dir').map((e) => e.path), spec.workdir]
  return [facts.stateRoot, facts.hostHome]
    .filter((p) => p !== '/' && shown.some((dir) => within(p, dir) && p !== dir))
    .flatMap((p) => ['--tmpfs', p])
}

/** The git paths to bind read-only: the launch's own (read at launch), else what it recorded. */
const gitGuardOf = (host: HostFacts, bottle: BwrapBottleFacts): readonly string[] => host.gitGuard ?? bottle.gitGuard ?? []

const sharedAuthBind = (spec: BottleSpec, host: HostFacts, user: string): string[] => {
  const mount = authMount(spec, host, 'bwrap', user)
  return mount === null ? [] : ['--bind', mount.source, mount.target]
}

/** `bwrap OPTIONS --`: everything before the command, one argv word per word. */
const sandboxFraming = (spec: BottleSpec, host: HostFacts, box: Sandbox, setenv: readonly string[]): string[] => {
  const { facts, bottle } = factsOf(host)
  const state = stateOf(facts, spec)
  const { uid, gid } = idsOf(box.user, bottle.accounts)
  const door = doorOf(spec)
  const argv = [
    facts.binary,
    // Every namespace, the user namespace required: --uid/--gid need it, and -try would not.
    '--unshare-all', '--unshare-user',
    ...(sharesNet(spec) ? ['--share-net'] : []),
    '--die-with-parent',
    // setsid(): the guest loses the caller's terminal as its controlling terminal, so TIOCSTI
    // cannot push keystrokes into the user's shell (CVE-2017-5226). A guest with a terminal gets
    // one of its own instead (see ptyWrapper) and keeps it as its controlling terminal, so that
    // Ctrl-C and window-size changes reach it.
    ...(box.tty ? [] : ['--new-session']),
    ...rootMounts(spec, facts),
    ...(bottle.promptInstalled ? ['--ro-bind', `${state}/system-prompt.md`, promptGuestPath] : []),
    '--bind', `${state}/home`, homeOf(box.user),
    // auth: shared: the host's sign-in directory as the user's ~/.claude, read-write, over the
    // home (src/auth.ts); its ids map to the host user's, as the home's do.
    ...sharedAuthBind(spec, host, box.user),
    // Last, so it wins over the tmpfs mounts; the same path as on the host, so an agent that
    // files its sessions by cwd finds them again on resume. workspace: copy: the bottle's own
    // workdir in its state directory, which launch fills with the copy (src/workspace.ts).
    ...(bindsHostWorkdir(bwrap, spec)
      // Over the workdir's bind: its git directory, read-only (src/workspace-guard.ts).
      ? ['--bind', spec.workdir, spec.workdir, ...gitGuardOf(host, bottle).flatMap((p) => ['--ro-bind', p, p])]
      : ['--bind', `${state}/${copiedWorkdir}`, spec.workdir]),
    ...hiddenHostPaths(spec, facts),
    // The door's socket directory (not the socket: a restarted proxy's new socket shows too),
    // read-only, over the fresh /run; connect() works through a read-only bind.
    ...(door === null ? [] : ['--ro-bind', socketDir('bwrap', spec, host), guestSocketDir]),
    ...box.binds,
    // The empty root bwrap started from, read-only now that every mount point is made.
    '--remount-ro', '/',
    '--uid', String(uid),
    '--gid', String(gid),
    '--chdir', box.cwd,
    ...setenv,
    '--',
    // No process outlives a bwrap sandbox, so every command of a bottle with a door starts its
    // own relay, in its own network namespace, and then becomes the command (egress.ts).
    ...(door === null ? [] : relayPrefix),
  ]
  return facts.rootOnlyScan.length === 0 ? argv : scanThenRun(state, spec.image ?? bwrap.defaultImage, facts.rootOnlyScan, argv)
}

/**
 * A guest with a terminal gets a pseudo-terminal of its own: util-linux `script` on the host
 * holds the master, relays the user's terminal to it (raw, so Ctrl-C arrives as a keystroke and
 * the pty turns it into SIGINT for the guest), passes window-size changes on (SIGWINCH), and
 * exits with the guest's code (-e; 128+n for a signal). The guest's TIOCSTI can reach only that
 * pty; it has no descriptor of the user's terminal at all. `-q`: no start and done lines;
 * /dev/null: no typescript file. script runs the command with `$SHELL -c`: its env has
 * SHELL=/bin/sh whatever the secrets (a secret named SHELL, the user's login shell say, would
 * otherwise choose a shell on the host that may not read sh). That secret travels as
 * shellSecretAlias, and the prelude puts it back under its name; `exec` leaves no shell in between.
 */
const ptyWrapper = (facts: BwrapFacts): Wrapper => ({
  before: [facts.script, '-q', '-e', '-c'],
  after: ['/dev/null'],
  prelude: ptyPrelude,
})

/** The name a secret named SHELL has in script's env (bottle_…: no secret can be named so). */
export const shellSecretAlias = 'bottle_secret_SHELL'

/** The shell that script runs the command with, whatever the secrets. */
export const ptyShell = '/bin/sh'

/**
 * sh text, the same for every spec (argv never depends on secret names): script's SHELL is not
 * the guest's; the secret named SHELL, if any, goes back under its name. References, never values.
 */
const ptyPrelude =
  `unset SHELL; [ -z "\${${shellSecretAlias}+x}" ] || { SHELL=$${shellSecretAlias}; export SHELL; unset ${shellSecretAlias}; }; `

/**
 * The guest's env, in two parts. The bwrap process (whose env the guest inherits) gets only a
 * fixed PATH and the secrets' values: nothing from the spec, so no `LD_PRELOAD` or the like can
 * reach a host process (under a pty, script also gets SHELL=/bin/sh). Everything plain goes in as `--setenv K V`: HOME, USER, the guest PATH,
 * TERM when there is a terminal, the spec's env. An env or secret named PATH or TERM replaces
 * bottle's default.
 */
const guestEnv = (intent: GuestIntent, facts: BwrapFacts): { process: ProcessEnv; setenv: string[] } => {
  const given = new Set([...intent.env.map(([k]) => k), ...intent.secrets])
  // TERM only with a terminal: without one it would have tools write escape codes into output.
  const defaults: [string, string | null][] = [
    ['PATH', guestPath(intent.home)],
    ['TERM', intent.tty ? facts.term : null],
  ]
  // `--setenv K V`, pushed word by word: every guest step of a plan builds its own.
  const setenv = ['--setenv', 'HOME', intent.home, '--setenv', 'USER', intent.user]
  for (const [k, v] of defaults) if (v !== null && !given.has(k)) setenv.push('--setenv', k, v)
  for (const [k, v] of intent.env) setenv.push('--setenv', k, v)
  const vars: EnvVar[] = [
    ...(intent.secrets.includes('PATH') ? [] : [plain('PATH', bwrapProcessPath)]),
    ...(intent.tty ? [plain('SHELL', ptyShell)] : []),
    ...intent.secrets.map((n) => (intent.tty && n === 'SHELL' ? secretAs(shellSecretAlias, n) : secret(n))),
  ]
  return { process: { inheritHost: false, vars }, setenv }
}

/** The framing, env and wrapper that run `intent` in the bottle. */
const execIn = (spec: BottleSpec, host: HostFacts, intent: GuestIntent, binds: readonly string[] = []) => {
  const { facts } = factsOf(host)
  const env = guestEnv(intent, facts)
  const framing = sandboxFraming(spec, host, { user: intent.user, cwd: intent.cwd, tty: intent.tty, binds }, env.setenv)
  return { framing, env: env.process, ...(intent.tty ? { wrapper: ptyWrapper(facts) } : {}) }
}

/** A step that runs a command in the bottle, with its intent recorded for people and the laws. */
const inBottle = (spec: BottleSpec, host: HostFacts, title: string, intent: GuestIntent, binds: readonly string[] = []): Step => {
  const { framing, env, wrapper } = execIn(spec, host, intent, binds)
  return step(title, guestArgv(framing, intent.argv, wrapper), {
    env,
    guest: { framing, tail: intent.argv, intent, ...(wrapper === undefined ? {} : { wrapper }) },
  })
}

/** Plumbing as the bottle's user: no spec env, no secrets, no terminal. */
const plumbing = (spec: BottleSpec, cwd: string, argv: readonly string[]): GuestIntent => ({
  user: spec.user,
  home: homeOf(spec.user),
  env: [],
  secrets: [],
  cwd,
  argv,
  tty: false,
  stdin: false,
})

// -------------------------------------------------------------------------------------------------
// operations
// -------------------------------------------------------------------------------------------------

const removeState = (spec: BottleSpec, host: HostFacts): Step => {
  const state = stateOf(stateRootOf(host), spec)
  return step(`remove the bottle's state directory ${state}`, ['rm', '-rf', '--', state])
}

/** The file in a bottle's state directory that holds the launch id of the run that made it. */
export const launchIdFile = 'launch-id'

/** `sh -c SCRIPT sh STATE ID`: a plain mkdir (fails if STATE exists), the id, then the home. */
const claimScript = `mkdir -m 700 -- "$1" && printf '%s\\n' "$2" > "$1/${launchIdFile}" && mkdir -m 700 -- "$1/home"`

/**
 * `sh -c SCRIPT sh STATE ID`: remove STATE only if its launch id is this run's. Another run's
 * bottle, or a directory whose id was never written, is left; a missing one is nothing to do.
 */
const removeOwnScript = [
  `[ "$(cat -- "$1/${launchIdFile}" 2>/dev/null)" = "$2" ] || exit 0`,
  // Read-only directories (Go's module cache, say) would stop rm for a user who is not root.
  'chmod -R u+w -- "$1" 2>/dev/null',
  'exec rm -rf -- "$1"',
].join('\n')

/** The create's undo: this run's state directory, by its launch id. */
const removeOwnState = (spec: BottleSpec, host: HostFacts): Step => {
  const state = stateOf(factsOf(host).facts, spec)
  return step(`remove the bottle's state directory ${state} if this run created it`, ['sh', '-c', removeOwnScript, 'sh', state, ''], {
    launchId: [5],
  })
}

/** Messages that tolerated failures match are read in the C locale, whatever the user's LANG. */
const cLocale: ProcessEnv = { ...inheritEnv, vars: [plain('LC_ALL', 'C')] }

const create = (spec: BottleSpec, host: HostFacts, _guest: unknown, door: readonly Step[]): Step[] => {
  const { facts } = factsOf(host)
  const state = stateOf(facts, spec)
  return [
    step('make the directory that holds bwrap bottles', ['mkdir', '-p', '--', facts.stateDir]),
    // No -p: if the bottle appeared meanwhile (another launch of the name), this fails, and the
    // id written next is never this run's, so the undo leaves that bottle alone. 700: the home
    // may come to hold the agent's credentials.
    step(`create the bottle's state directory, with this run's launch id and its home`, ['sh', '-c', claimScript, 'sh', state, ''], {
      launchId: [5],
      undo: [removeOwnState(spec, host)],
    }),
    // What the other backends keep as labels (ls reads it back to tell drift): KEY=VALUE lines,
    // on stdin, so the plan shows them and argv stays short. They hold no secret or env value.
    step(`record the spec that shaped the bottle in ${state}/${labelsFile}`, ['sh', '-c', 'cat > "$1"', 'sh', `${state}/${labelsFile}`], {
      stdin: { _tag: 'text', text: launchLabels(spec, bwrap.defaultImage).map(([k, v]) => `${k}=${v}\n`).join('') },
    }),
    // Every later sandbox binds these again (bwrap-host.ts reads them back; no file: none); the
    // file is outside every bind, so the agent cannot add to it or take a path out.
    ...((host.gitGuard ?? []).length === 0 ? [] : [
      step(`record the git paths bound read-only in ${state}/${gitGuardFile}`, ['sh', '-c', 'cat > "$1"', 'sh', `${state}/${gitGuardFile}`], {
        stdin: { _tag: 'text', text: `${JSON.stringify(host.gitGuard)}\n` },
      }),
    ]),
    // workspace: copy: the workdir every sandbox binds, the bottle's own (mode 700, like the home).
    ...(bindsHostWorkdir(bwrap, spec) ? [] : [step(`make the bottle's own workdir ${state}/${copiedWorkdir}`, ['mkdir', '-m', '700', '--', `${state}/${copiedWorkdir}`])]),
    // The proxy's directory is in the state directory, made just now; the first sandbox needs its socket.
    ...door,
    // A launch that cannot start a sandbox (no user namespaces, a rootfs without the workdir's
    // path) fails here, and is undone, rather than at the first exec.
    inBottle(spec, host, 'check that the sandbox starts', plumbing(spec, spec.workdir, ['true'])),
  ]
}

/** workspace: copy: the bottle's workdir in its state directory, beside home/, bound at the spec's workdir. */
export const copiedWorkdir = 'workdir'

/** The labels file in a bottle's state directory, beside home/. */
export const labelsFile = 'labels'

/** The most of a labels file the listing reads: bottle writes a few hundred bytes there. */
export const labelsReadLimit = 65536

/**
 * One line per entry of the state root: KIND (dir, link or other), TAB, the entry's name as hex;
 * for a directory then TAB, its mtime in Unix seconds, TAB, the first labelsReadLimit bytes of its
 * labels file as hex (empty when there is no regular file there). Hex because nothing in the
 * state root can be trusted to be a well-formed name or text: a name may hold a TAB or a newline,
 * a labels file any byte, and one such entry must not garble the lines of the others. A symlink
 * is reported as one and never followed.
 */
const listScript = [
  'cd -- "$1" || exit',
  'hex() { od -An -v -tx1 | tr -d \' \\n\'; }',
  'for n in *; do',
  // The unmatched pattern of an empty directory is the word `*` itself.
  '  [ -e "$n" ] || [ -L "$n" ] || continue',
  '  if [ -L "$n" ]; then k=link; elif [ -d "$n" ]; then k=dir; else k=other; fi',
  // printf and tr read these escapes themselves: the plan shows `\t`, not a raw TAB.
  `  printf '%s\\t%s' "$k" "$(printf %s "$n" | hex)"`,
  '  if [ "$k" = dir ]; then',
  `    printf '\\t%s\\t' "$(stat -c %Y -- "$n")"`,
  `    if [ -f "$n/${labelsFile}" ] && [ ! -L "$n/${labelsFile}" ]; then head -c ${labelsReadLimit} -- "$n/${labelsFile}" | hex; fi`,
  '  fi',
  `  printf '\\n'`,
  'done',
].join('\n')

/** KEY=VALUE entries, as the labels file holds them; anything else is skipped. */
const labelsOf = (entries: readonly string[]): Map<string, string> =>
  new Map(entries.filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))

/** What bottle writes into a labels file: `key=value` lines of printable ASCII. */
const labelsLine = /^[A-Za-z0-9._/-]+=[\x20-\x7e]*$/

/** The labels file's text, or null when it is not one bottle wrote (not UTF-8, not key=value lines). */
const labelsText = (bytes: Buffer): string | null => {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return null
  }
  return text.split('\n').every((l) => l === '' || labelsLine.test(l)) ? text : null
}

/**
 * A launched bottle as its labels file describes it, for drift: what `ls` would list, read from
 * the file alone (no listing runs, so `bottle plan` can say it and still run nothing).
 */
export const bottleFromLabels = (name: string, labelsText: string): BottleRow => {
  const labels = labelsOf(labelsText.split('\n'))
  return {
    name,
    backend: 'bwrap',
    state: 'ready',
    createdAt: null,
    image: null,
    specHash: labels.get(specHashLabel) || null,
    spec: null,
  }
}

/** What a listing of the state root holds: the bottles, and one line for each entry skipped. */
export interface StateRootListing {
  readonly rows: readonly BottleRow[]
  readonly skipped: readonly string[]
}

const fromHex = (hex: string): Buffer | null => (/^(?:[0-9a-f]{2})*$/.test(hex) ? Buffer.from(hex, 'hex') : null)

/**
 * Reads listScript's lines. Each entry stands alone: one that is not a bottle directory (a
 * symlink, a file, a name bottle would never give) is skipped with a line saying which and why,
 * and the others are still listed. A labels file bottle did not write (random bytes, say) does
 * not hide its bottle: the bottle is listed with no record, and a line says so.
 */
export const parseStateRoot = (stdout: string): StateRootListing => {
  const rows: BottleRow[] = []
  const skipped: string[] = []
  for (const [i, line] of stdout.split('\n').entries()) {
    if (line === '') continue
    const [kind = '', hexName = '', mtime = '', hexLabels = '', ...rest] = line.split('\t')
    const nameBytes = fromHex(hexName)
    if (nameBytes === null || nameBytes.length === 0 || rest.length > 0) {
      skipped.push(`bwrap state root, line ${i + 1}: not a line the listing prints: ${show(line.slice(0, 80))}`)
      continue
    }
    // Shown with show(): JSON escapes, so a newline or a control character stays visible.
    const name = nameBytes.toString('utf8')
    const entry = `bwrap state root: skipped ${show(name)}`
    if (kind === 'link') {
      skipped.push(`${entry}: a symlink, not a bottle directory`)
      continue
    }
    if (kind !== 'dir') {
      skipped.push(`${entry}: not a directory`)
      continue
    }
    if (!validName.test(name) || Buffer.compare(Buffer.from(name, 'utf8'), nameBytes) !== 0) {
      skipped.push(`${entry}: not a name bottle gives a bottle (letters, digits, _, . and -, starting with a letter or digit, at most 128 characters)`)
      continue
    }
    const seconds = Number(mtime)
    if (!/^\d+$/.test(mtime) || !Number.isSafeInteger(seconds)) {
      skipped.push(`${entry}: its age cannot be read`)
      continue
    }
    const bytes = fromHex(hexLabels)
    const text = bytes === null ? null : labelsText(bytes)
    if (text === null)
      skipped.push(`bwrap state root: ${show(name)} is listed without a record: its ${labelsFile} file is not one bottle wrote`)
    const labels = labelsOf((text ?? '').split('\n'))
    // Only bottle makes directories here; one without the managed label was made by an older
    // bottle (before the labels file) and is still listed, with no record to compare against.
    if (labels.size > 0 && labels.get(managedLabel) !== 'true') continue
    rows.push({
      name,
      backend: 'bwrap',
      // There is no process to be running or stopped: the bottle is its directory, ready to run.
      state: 'ready',
      createdAt: seconds * 1000,
      // The root the sandbox sees is in the launch record, which the CLI reads (no label has it).
      image: null,
      specHash: labels.get(specHashLabel) || null,
      spec: null,
    })
  }
  return { rows, skipped }
}

/**
 * The copy runs inside a sandbox, as the bottle's user, with the source bound read-only: a
 * symlink the agent left in its home or the workdir then points into the sandbox's view, where
 * everything but those two is read-only, never at a host file. The prompt file is the exception:
 * it lives beside the home, where no guest can reach, so a host `cp` replaces it.
 */
const copyIn = (spec: BottleSpec, copy: CopyIn, host: HostFacts): Checked<readonly Step[]> => {
  const state = stateOf(factsOf(host).facts, spec)
  if (copy.dest === promptGuestPath)
    return copy.kind === 'dir'
      ? E.left(compileError(`${promptGuestPath} is the bottle's prompt file; copy a file there, not a directory`))
      // --remove-destination: whatever is at the destination (a planted symlink) is unlinked, never
      // written through; the edge has also refused a state directory with one (stateProblem).
      : E.right([step(`copy ${copy.source} to be the bottle's prompt file`, ['cp', '--remove-destination', '--', copy.source, `${state}/system-prompt.md`])])
  const home = homeOf(spec.user)
  if (!within(copy.dest, spec.workdir) && !within(copy.dest, home))
    return E.left(compileError(
      `guest path ${show(copy.dest)} is outside what a bwrap bottle keeps: copy into the workdir ${spec.workdir} or the home ${home}`,
    ))
  const target = copy.kind === 'dir' ? copy.dest : copy.dest.slice(0, Math.max(1, copy.dest.lastIndexOf('/')))
  return E.right([
    inBottle(spec, host, `make ${target} in the bottle`, plumbing(spec, '/', ['mkdir', '-p', '--', target])),
    inBottle(
      spec, host,
      `copy ${copy.source} to ${copy.dest} in the bottle`,
      // `DIR/.` copies the directory's contents into dest, which the step before made.
      plumbing(spec, '/', copy.kind === 'dir' ? ['cp', '-R', '--', `${copySourcePath}/.`, copy.dest] : ['cp', '--', copySourcePath, copy.dest]),
      ['--ro-bind', copy.source, copySourcePath],
    ),
  ])
}

const down = (spec: BottleSpec, host: HostFacts): Step[] => {
  const state = stateOf(stateRootOf(host), spec)
  return [
    // Read-only directories (Go's module cache, say) would stop rm for a user who is not root.
    step(`make everything in ${state} removable`, ['chmod', '-R', 'u+w', '--', state], {
      env: cLocale,
      tolerate: [{ exitCode: 1, stderrIncludes: 'No such file or directory' }],
    }),
    // rm -rf of a missing path exits 0: idempotent as it stands.
    removeState(spec, host),
  ]
}

const list = (host: HostFacts): Step[] => {
  const facts = stateRootOf(host)
  return [
    // Before the first launch the directory is not there; made here, ls lists nothing rather
    // than failing (a tolerated failure would still print ls's complaint on a passthrough step).
    step('make the directory that holds bwrap bottles', ['mkdir', '-p', '--', facts.stateDir]),
    step('list the bwrap bottles: each directory, its age and its labels file', ['sh', '-c', listScript, 'sh', facts.stateDir], { stdio: 'capture' }),
  ]
}

export const bwrap: Backend = {
  name: 'bwrap',
  binary: 'bwrap',
  install: 'install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap)',
  unusable: ({ onPath }) => (onPath('bwrap') ? null : 'bwrap is not on PATH'),
  // Last in the detection order (src/backends/index.ts): it needs nothing running.
  autoDetected: true,
  // Its bottles are host directories: whether one exists, and what its rootfs holds, are host facts.
  hostFacts: (query, host) => ({ bwrap: readBwrapFacts(host, query) }),
  checkSpec,
  // The host's own root, read-only; a spec's image is a rootfs directory in its place.
  defaultImage: '/',
  bindsWorkdir: true,
  promptPath: () => promptGuestPath,
  create,
  exec: (spec, intent, host) => execIn(spec, host, intent),
  relayPerCommand: true,
  hostBinaries: true,
  bottlesAreStateDirs: true,
  copyIn,
  down,
  list,
  parseList: (stdout) => E.right(parseStateRoot(stdout).rows),
  listWarnings: (stdout) => parseStateRoot(stdout).skipped,
}
