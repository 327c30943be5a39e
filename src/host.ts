/**
 * The edge: everything bottle reads about the host, read once per invocation. Nothing to the
 * right of the CLI reads process.env, the filesystem, the clock or isTTY.
 *
 *   const host = readSurroundings(process.env)   // in main, once: env, cwd, clock, isTTY, uid, home, state root
 *   readHostFacts(['/src/app/notes.md'], {}, defaultCluster, host)
 *   // { cwd, stdinIsTTY, pathKinds: { '/src/app/notes.md': 'file' }, tmpdir, uid, bwrap: null, cluster: { context: null, namespace: null } }
 *   unusable(backends.docker, process.env)   // 'docker is not on PATH', or null
 */
import { type Stats, accessSync, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path'
import type { Backend, BackendFacts, ClusterScope, HostFacts, HostProbe, PathKind, SpecialEntry } from './backends/backend.js'
import { isTerminal } from './stdio.js'
import { loadBuiltin } from './builtin.js'
import type { WorkdirFacts, WorkdirGuard } from './workdir.js'
import { type DotGit, type GitDirFacts, gitdirOf } from './workspace-guard.js'
import type { FetchFacts } from './fetch.js'
import type { WorkspaceFacts } from './workspace.js'
import type { EgressFacts } from './backends/egress.js'
import { proxyRunning } from './egress/state.js'

export type Env = Readonly<Record<string, string | undefined>>

/**
 * What bottle reads about the host before it looks at the request: read once, by main (the
 * edge), and handed down as this one value. Reads that depend on the request (the manifest, a
 * launch record, a backend's facts about one bottle, a path's kind) take it as a parameter.
 */
export interface Surroundings {
  readonly env: Env
  readonly cwd: string
  /** The clock, once (ms since the epoch): ls's ages are relative to it. */
  readonly now: number
  readonly stdinIsTTY: boolean
  readonly stderrIsTTY: boolean
  /** The effective uid; null where there are no uids (Windows). */
  readonly uid: number | null
  /** $HOME when absolute, else the passwd entry's. */
  readonly home: string
  /** bottle's state root: `$XDG_STATE_HOME/bottle`, else `~/.local/state/bottle`. */
  readonly stateRoot: string
  readonly tmpdir: string
}

/** The one read of the host's surroundings; `env` is the whole host environment (process.env). */
export const readSurroundings = (env: Env): Surroundings => ({
  env,
  cwd: process.cwd(),
  now: Date.now(),
  // Not process.stdin.isTTY (its getter builds a whole stdin stream) nor tty.isatty (it loads
  // node:tty and node:net): src/stdio.ts answers the same from an fstat.
  stdinIsTTY: isTerminal(0),
  stderrIsTTY: isTerminal(2),
  uid: process.geteuid?.() ?? null,
  home: homeOf(env),
  stateRoot: stateRootOf(env),
  tmpdir: tmpdirOf(env),
})

/** Windows has no uids; podman there runs in a VM as a rootless user. */
export const uidOf = (host: Surroundings): number => host.uid ?? 1000

/**
 * What is at a path, following symlinks: a regular file, a directory, something else (a FIFO, a
 * device, a socket: nothing bottle copies), or nothing. stat never opens the path, so a FIFO
 * does not block it.
 */
export const kindOf = (path: string): PathKind => {
  try {
    const st = statSync(path)
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
  } catch {
    return 'missing'
  }
}

/**
 * The first FIFO, socket or device below `dir`, depth first, symlinks not followed (cp -R, docker
 * cp and tar copy a symlink as a symlink). readdir's entry types need no stat of each file, and
 * nothing is opened, so a FIFO cannot block the walk. An unreadable directory is passed over:
 * the copy itself then fails on it, with the tool's own message.
 */
export const firstSpecialEntry = (dir: string): SpecialEntry | null => {
  const pending = [dir]
  for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
    let entries
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      const path = join(d, e.name)
      let st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean } = e
      // A file system that does not say the type (DT_UNKNOWN): lstat, which opens nothing.
      if (![e.isFile(), e.isDirectory(), e.isSymbolicLink(), e.isFIFO(), e.isSocket(), e.isBlockDevice(), e.isCharacterDevice()].some(Boolean)) {
        try {
          st = lstatSync(path)
        } catch {
          continue
        }
      }
      if (st.isDirectory()) pending.push(path)
      else if (st.isFile() || st.isSymbolicLink()) continue
      else return { path, what: st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device' }
    }
  }
  return null
}

/** The most bottle reads of a manifest: hand-written YAML is a few KiB; this is 100 times more. */
export const manifestLimit = 1024 * 1024

/**
 * The largest prompt file launch copies in: a system prompt is read into the agent's context,
 * which holds at most a few hundred thousand tokens (about 1 MiB of text); 4 MiB leaves room, and
 * stops a `--prompt /dev/zero`-sized mistake before it fills a bottle.
 */
export const promptLimit = 4 * 1024 * 1024

const mib = (bytes: number): string => `${bytes / (1024 * 1024)} MiB`

/** What a stat says a path is, for a message: "a FIFO", "a device", … */
const kindWord = (st: Stats): string =>
  st.isFIFO()
    ? 'a FIFO'
    : st.isCharacterDevice() || st.isBlockDevice()
      ? 'a device'
      : st.isSocket()
        ? 'a socket'
        : st.isDirectory()
          ? 'a directory'
          : 'not a regular file'

/** What reading a text file at the edge gave: its text, nothing there, or why it was refused (one clause). */
export type FileRead =
  | { readonly _tag: 'text'; readonly text: string }
  | { readonly _tag: 'missing' }
  | { readonly _tag: 'refused'; readonly reason: string }

/**
 * Reads a regular file of at most `limit` bytes. Opened with O_NONBLOCK, so a FIFO cannot block
 * the open, then checked with fstat on that same descriptor (no window in which the path can be
 * swapped for something else), and read from it.
 */
export const readRegularFile = (path: string, limit: number): FileRead => {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? { _tag: 'missing' } : { _tag: 'refused', reason: `cannot be opened (${code ?? 'error'})` }
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return { _tag: 'refused', reason: `is ${kindWord(st)}, not a regular file` }
    if (st.size > limit) return { _tag: 'refused', reason: `is ${st.size} bytes, more than the ${mib(limit)} bottle reads` }
    // At most limit + 1 bytes: a file that grew since fstat is refused too.
    const buf = Buffer.alloc(limit + 1)
    let n = 0
    for (;;) {
      const got = readSync(fd, buf, n, limit + 1 - n, null)
      n += got
      if (got === 0 || n > limit) break
    }
    if (n > limit) return { _tag: 'refused', reason: `is more than the ${mib(limit)} bottle reads` }
    return { _tag: 'text', text: buf.subarray(0, n).toString('utf8') }
  } catch (e) {
    return { _tag: 'refused', reason: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` }
  } finally {
    closeSync(fd)
  }
}

/**
 * Null when a prompt file is fit to copy into a bottle: a regular file (through symlinks) of at
 * most promptLimit bytes; else why not. stat only: nothing is opened, so a FIFO cannot block.
 * A missing file is the compiler's to report, with the rest of the spec.
 */
export const promptFileProblem = (path: string): string | null => {
  let st: Stats
  try {
    // lstat: a prompt in the workdir is a file the agent can replace, and a link there could name
    // any host file (~/.ssh/id_ed25519) that launch, running as you, would then copy in.
    if (lstatSync(path).isSymbolicLink()) return 'is a symbolic link: name the file itself (a link in a directory the agent can write could point at any host file)'
    st = statSync(path)
  } catch {
    return null
  }
  if (!st.isFile()) return `is ${kindWord(st)}, not a regular file`
  if (st.size > promptLimit) return `is ${st.size} bytes, more than the ${mib(promptLimit)} a prompt file may be`
  return null
}

/** realpath of `path`, or, when it does not exist (yet), its nearest existing ancestor's realpath with the rest appended. */
const realpathOrNearest = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    const parent = dirname(path)
    return parent === path ? path : join(realpathOrNearest(parent), basename(path))
  }
}

/**
 * What launch needs to judge a workdir (src/workdir.ts): what is at it and where its symlinks
 * lead, and the home and state root both as written and resolved, so that neither a symlink to
 * the home nor a state root reached through one slips past the check.
 */
export const readWorkdirFacts = (workdir: string, host: Surroundings): { workdir: WorkdirFacts; guard: WorkdirGuard } => {
  const kind = kindOf(workdir)
  let real: string | null = null
  try {
    real = realpathSync(workdir)
  } catch {
    // missing, or a dangling or looping symlink: refused as missing
  }
  const { home, stateRoot } = host
  return {
    workdir: { path: workdir, kind, real },
    guard: { home: [...new Set([home, realpathOrNearest(home)])], stateRoot: [...new Set([stateRoot, realpathOrNearest(stateRoot)])] },
  }
}

/** What lstat finds at a path, symlinks not followed. */
const entryKind = (path: string): 'dir' | 'file' | 'symlink' | 'other' | 'missing' => {
  try {
    const st = lstatSync(path)
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
  } catch {
    return 'missing'
  }
}

/**
 * What is at WORKDIR/.git (src/workspace-guard.ts): lstat, and for a gitfile the directory its
 * `gitdir:` line names and what is there. A gitfile is read at most 4 KiB, as a regular file only.
 */
export const readGitDirFacts = (workdir: string): GitDirFacts => {
  const path = join(workdir, '.git')
  const kind = entryKind(path)
  const dotGit = ((): DotGit => {
    if (kind !== 'file') return { kind }
    const read = readRegularFile(path, 4096)
    const gitdir = read._tag === 'text' ? gitdirOf(read.text, workdir) : null
    const found = gitdir === null ? 'missing' : entryKind(gitdir)
    return { kind, gitdir, gitdirKind: found === 'file' ? 'other' : found }
  })()
  return { workdir, dotGit }
}

/** The nearest directory from `dir` upward that has a `.git` (as git finds its repository), or null. */
const repoTopOf = (dir: string): string | null => {
  for (let d = dir; ; d = dirname(d)) {
    if (entryKind(join(d, '.git')) !== 'missing') return d
    if (dirname(d) === d) return null
  }
}

/**
 * What fetch needs of the host (src/fetch.ts): the repository the current directory is in (the
 * nearest directory upward with a `.git`, as git finds it), and, when the host workdir is bound
 * into the bottle, whether it has a `.git` (null: the workdir is the bottle's own: a copy, or
 * kubernetes').
 */
export const readFetchFacts = (cwd: string, workdir: string, bindsWorkdir: boolean): FetchFacts => {
  const dotGit = entryKind(join(workdir, '.git'))
  return { hostRepo: repoTopOf(cwd), workdirIsRepo: bindsWorkdir ? dotGit === 'dir' || dotGit === 'file' : null }
}

/** What a launch with `workspace: copy` needs (src/workspace.ts): the repository the workdir is in. */
export const readWorkspaceFacts = (workdir: string): WorkspaceFacts => ({ repo: repoTopOf(workdir) })

/** `own`: the backend's own facts (its hostFacts reader's); `cluster` comes from the --context and --namespace flags, which the CLI has already checked. */
export const readHostFacts = (
  paths: readonly string[],
  own: Partial<BackendFacts>,
  cluster: ClusterScope,
  host: Surroundings,
  /** Paths whose kind alone is wanted (where cp out would land): no walk below them. */
  kindOnly: readonly string[] = [],
): HostFacts => ({
  cwd: host.cwd,
  home: host.home,
  stateRoot: host.stateRoot,
  stdinIsTTY: host.stdinIsTTY,
  pathKinds: Object.fromEntries([...kindOnly, ...paths].map((p) => [p, kindOf(p)])),
  specialEntries: Object.fromEntries(
    paths.flatMap((p) => {
      const found = kindOf(p) === 'dir' ? firstSpecialEntry(p) : null
      return found === null ? [] : [[p, found]]
    }),
  ),
  tmpdir: host.tmpdir,
  uid: uidOf(host),
  bwrap: own.bwrap ?? null,
  cluster,
})

/**
 * How to start a bottle's egress proxy, and whether it runs now (src/backends/egress.ts): the node
 * that runs bottle, the proxy bundle beside bottle's own (dist/egress-proxy.js), and
 * proxyRunning's file reads (a pidfile and /proc; no process started, no socket opened).
 */
export const readEgressFacts = (dir: string): EgressFacts => ({
  ...proxyCommand(),
  proxy: proxyRunning(dir) ? 'running' : isDirectory(dir) ? 'stopped' : 'not launched',
})

/**
 * The node and proxy bundle alone, for a plan that stops proxies without reading whether they run
 * (down --all): without them its stop ran `node egress-proxy.js` from the current directory.
 */
export const proxyCommand = (): EgressFacts => ({
  node: process.execPath,
  // import.meta.dirname is __dirname in the bundle (scripts/build.mjs): no file URL made and read back.
  proxyScript: proxyBundle(import.meta.dirname),
  proxy: 'unread',
})

const isDirectory = (path: string): boolean => {
  try {
    return lstatSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Beside bottle's bundle; run from the sources (the tests' in-process CLI), the built one in dist/. */
const proxyBundle = (here: string): string =>
  basename(here) === 'src' ? join(here, '..', 'dist', 'egress-proxy.js') : join(here, 'egress-proxy.js')

/** The absolute path of an executable of this name on PATH, or null. */
export const which = (binary: string, pathVar: string | undefined): string | null => {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    // An empty or relative PATH entry means "the current directory": not a place to run from.
    if (dir === '' || !isAbsolute(dir)) continue
    const file = join(dir, binary)
    try {
      accessSync(file, constants.X_OK)
      if (statSync(file).isFile()) return file
    } catch {
      // not here; try the next entry
    }
  }
  return null
}

/** Whether an executable of this name is on PATH. */
export const onPath = (binary: string, pathVar: string | undefined): boolean =>
  which(binary, pathVar) !== null

/**
 * The tmux pane bottle runs in: `$TMUX_PANE` (`%N`), which tmux sets in each pane's environment,
 * when bottle runs inside tmux (`$TMUX` set too: a TMUX_PANE without it is left over from
 * elsewhere, and would name a pane of whichever server tmux reaches). Null outside tmux.
 */
export const ownTmuxPane = (env: Env): string | null =>
  env.TMUX !== undefined && env.TMUX !== '' && env.TMUX_PANE !== undefined && /^%\d+$/.test(env.TMUX_PANE) ? env.TMUX_PANE : null

// -------------------------------------------------------------------------------------------------
// auto-detection: is a backend usable here, and if not, why not
// -------------------------------------------------------------------------------------------------

const isSocket = (path: string): boolean => {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

/** The user's home: $HOME when it is an absolute path, else the passwd entry's (node:os, loaded only then). */
export const homeOf = (env: Env): string =>
  env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : loadBuiltin<typeof import('node:os')>('node:os').homedir()

/**
 * os.tmpdir(), read from `env` rather than by loading node:os on every start: on POSIX, the first
 * of TMPDIR, TMP and TEMP that is set and not empty, else /tmp, less one trailing slash (node's
 * lib/os.js). Windows' rules are longer: there it is node's own answer.
 */
export const tmpdirOf = (env: Env): string => {
  if (process.platform === 'win32') return loadBuiltin<typeof import('node:os')>('node:os').tmpdir()
  const path = [env.TMPDIR, env.TMP, env.TEMP].find((v) => v !== undefined && v !== '') ?? '/tmp'
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}

/** What detection may read of the host (a backend's `unusable` reads nothing itself). */
export const hostProbe = (env: Env): HostProbe => ({
  env,
  platform: process.platform,
  home: homeOf(env),
  onPath: (binary) => onPath(binary, env.PATH),
  isSocket,
  exists: (path) => kindOf(path) !== 'missing',
})

/** Null when the backend looks usable here, else one clause saying why not (its own rule). */
export const unusable = (backend: Backend, env: Env): string | null => backend.unusable(hostProbe(env))

// -------------------------------------------------------------------------------------------------
// bottle's state root and launch records
// -------------------------------------------------------------------------------------------------

/** `$XDG_STATE_HOME`, else `~/.local/state`; the XDG spec says to ignore a relative value. */
export const stateHome = (env: Env): string =>
  env.XDG_STATE_HOME !== undefined && isAbsolute(env.XDG_STATE_HOME)
    ? env.XDG_STATE_HOME
    : `${homeOf(env)}/.local/state`

/** bottle's host state root: one directory per backend, one per bottle below it (the record, the launch id, bwrap's home). */
export const stateRootOf = (env: Env): string => `${stateHome(env)}/bottle`

/** What reading a bottle's launch record found. */
export type RecordRead =
  | { readonly _tag: 'absent' }
  | { readonly _tag: 'read'; readonly text: string }
  /** Something is there that bottle did not write as it writes records: never trusted. */
  | { readonly _tag: 'refused'; readonly reason: string }

/**
 * Reads a launch record, refusing what bottle would not have written: a symlink (O_NOFOLLOW), a
 * FIFO or device (O_NONBLOCK, then fstat: a regular file only), a file another user owns or
 * others may write. A plain read: `bottle plan` still runs no process.
 */
export const readRecordFile = (path: string, host: Surroundings): RecordRead => {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { _tag: 'absent' }
    if (code === 'ELOOP') return { _tag: 'refused', reason: `${path} is a symbolic link` }
    return { _tag: 'refused', reason: `${path} cannot be read (${code ?? 'error'})` }
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return { _tag: 'refused', reason: `${path} is not a regular file` }
    const uid = host.uid
    if (uid !== null && st.uid !== uid) return { _tag: 'refused', reason: `${path} is owned by uid ${st.uid}, not by this user` }
    if ((st.mode & 0o022) !== 0) return { _tag: 'refused', reason: `${path} is writable by others (mode ${(st.mode & 0o777).toString(8)})` }
    return { _tag: 'read', text: readFileSync(fd, 'utf8') }
  } catch (e) {
    return { _tag: 'refused', reason: `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` }
  } finally {
    closeSync(fd)
  }
}

/**
 * Asks a question on stderr and reads one line from the terminal: the answer, trimmed; '' at end
 * of input; null on Ctrl-C (readline takes the terminal's ^C itself and would otherwise pause).
 */
export const askOnTerminal = async (question: string): Promise<string | null> => {
  const { createInterface } = await import('node:readline')
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  return new Promise((done) => {
    let answered = false
    const finish = (a: string | null): void => {
      if (answered) return
      answered = true
      rl.close()
      done(a)
    }
    rl.on('SIGINT', () => {
      process.stderr.write('\n')
      finish(null)
    })
    rl.on('close', () => finish(''))
    rl.question(question, (a) => finish(a.trim()))
  })
}
