/**
 * bwrap's test kit (tests/backends/kit.ts): an independent decoder of a bwrap command line and
 * the environment it hands on (its own option parser, util-linux script for a pty), and what the
 * law suite must know about bwrap, whose bottles are host directories.
 */
import type { HostFacts } from '../../src/backends/backend.js'
import { bwrap, idsOf } from '../../src/backends/bwrap.js'
import { guestSocketDir, relayPrefix } from '../../src/backends/egress.js'
import { homeOf } from '../../src/bottle-spec/validate.js'
import { type GuestIntent, type Step, secretSource } from '../../src/plan/types.js'
import { rootfsForBwrap } from '../arbitraries.js'
import { unwrapCommand } from '../laws/decode.js'
import type { BackendKit } from './kit.js'

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
  const readOnly = new Set<string>()
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
      case '--ro-bind': readOnly.add(args[1] as string); break
      // The value a name ends with, in the order the options set them (environ order means nothing).
      case '--setenv': env.delete(args[0] as string); env.set(args[0] as string, args[1] as string); break
      case '--unsetenv': env.delete(args[0] as string); break
      case '--clearenv': env.clear(); break
    }
  }
  let command = argv.slice(i)
  // A bottle with a door: each sandbox starts its relay, then execs the command. The relay is
  // reachable only with the proxy's socket directory bound in, read-only, and without the host's
  // network: a relay over the host network would be a second way out.
  if (command[0] === relayPrefix[0] && command[1] === relayPrefix[1] && command[2] === relayPrefix[2]) {
    if (command[3] !== relayPrefix[3]) throw new Error('the relay prefix takes $0')
    if (!readOnly.has(guestSocketDir)) throw new Error(`a relay with no read-only ${guestSocketDir} bound in: it has nothing to reach`)
    if (argv.includes('--share-net')) throw new Error('a relay in a sandbox that shares the host network')
    command = command.slice(relayPrefix.length)
  }
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

const within = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`)

export const kit: BackendKit = {
  backend: bwrap,
  decode: (step, { host }) => decodeBwrap(step, host),
  // bwrap wants an image that is a rootfs directory, not a reference, and a cp destination in the
  // workdir or the home (the only places a bwrap bottle keeps).
  fit: (s) => {
    const spec = s.spec.image === null || s.spec.image.startsWith('/') ? s.spec : { ...s.spec, image: rootfsForBwrap }
    const op =
      s.op._tag === 'cp' && !within(s.op.dest, spec.workdir) && !within(s.op.dest, homeOf(spec.user))
        ? { ...s.op, dest: `${spec.workdir}${s.op.dest}` }
        : s.op
    // A workdir that holds bottle's state root is refused; keep the state where users keep it.
    const facts = s.host.bwrap
    const host =
      facts !== null && within(facts.stateRoot, spec.workdir)
        ? { ...s.host, bwrap: { ...facts, stateDir: '/home/me/.local/state/bottle/bwrap', stateRoot: '/home/me/.local/state/bottle' } }
        : s.host
    return { spec, op, host }
  },
  // Numeric, before the `--` that ends bwrap's options: root is 0, else the rootfs passwd's ids, else 1000.
  userSwitchPrecedesTail: (framing, user, _bottle, host) => {
    const { uid, gid } = idsOf(user, host.bwrap?.bottle?.accounts ?? {})
    const pair = (flag: string, value: number) => framing.some((w, i) => w === flag && framing[i + 1] === String(value))
    // With a door, the relay prefix follows the `--` (the framing runs it before the command).
    const end = framing.at(-1) === '--' ? framing.length - 1 : framing.length - 1 - relayPrefix.length
    return framing[end] === '--' && framing.slice(end + 1).every((w, i) => w === relayPrefix[i]) && pair('--uid', uid) && pair('--gid', gid)
  },
  // bwrap's `--setenv K V` (its process env holds only a fixed PATH and the secrets).
  envCount: (framing, k, v) => framing.filter((w, i) => w === '--setenv' && framing[i + 1] === k && framing[i + 2] === v).length,
  // With a TTY, no new session, since the guest runs on a pseudo-terminal of its own (the wrapper).
  ttyMarks: (framing) => (framing.includes('--new-session') ? 0 : 1),
  secretsReachGuestVia: 'process env',
  // The state directory (mkdir without -p); the prompt copied into it goes when it goes.
  createsSomething: (s: Step) => s.argv[0] === 'mkdir' && !s.argv.includes('-p'),
  scratchMadeBy: () => undefined,
  idempotentAsIs: (s) => s.argv[0] === 'rm' && s.argv[1] === '-rf',
  // Its bottles are host directories: its listing is host tools, not bwrap.
  listsWithItsBinary: false,
}
