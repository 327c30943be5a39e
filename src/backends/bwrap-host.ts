/**
 * What the bwrap backend reads of the host, at the CLI edge (its `hostFacts`): a bwrap bottle has
 * no daemon that remembers it, so its state directory, and the root filesystem it binds, are host
 * facts like the current directory. src/backends/bwrap.ts compiles from what this returns.
 *
 *   readBwrapFacts(readSurroundings(process.env), { name: 'demo', image: null, users: ['node'] })
 *   // { stateDir: '/home/me/.local/state/bottle/bwrap', binary: '/usr/bin/bwrap', term: 'xterm', bottle: { launched: false, … } }
 */
import { type Dirent, type Stats, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { type Surroundings, kindOf, uidOf, which } from '../host.js'
import type { BottleQuery, BwrapFacts, Ids, SystemEntry } from './backend.js'

/** uid and gid of the named users in /etc/passwd text (`name:pw:uid:gid:…`); others are left out. */
export const parsePasswd = (text: string, users: readonly string[]): Record<string, Ids> => {
  // No prototype: a user named `constructor` or `toString` must not find Object's members.
  const out: Record<string, Ids> = Object.create(null) as Record<string, Ids>
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':')
    if (name === undefined || !users.includes(name) || Object.hasOwn(out, name)) continue
    if (!/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) continue
    out[name] = { uid: Number(uid), gid: Number(gid) }
  }
  return out
}

const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

const lstatOf = (path: string): Stats | null => {
  try {
    return lstatSync(path)
  } catch {
    return null
  }
}

/**
 * The system directories a bottle sees, read-only, in this order: what programs need to run
 * (/usr, and /bin, /sbin, /lib* — symlinks into /usr on a merged-/usr system, made again as
 * symlinks), the configuration they read (/etc: passwd, resolv.conf, ssl certificates, ld.so
 * config), and locally installed software (/opt). Everything else at the top is left out: /home,
 * /root, /run, /var, /tmp, /mnt, /media and /srv are fresh tmpfs in the sandbox (src/backends/bwrap.ts).
 */
export const systemDirs = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'] as const

/** How each allow-listed directory appears in the root filesystem `rootfs`. */
const systemEntries = (rootfs: string): SystemEntry[] =>
  systemDirs.flatMap((path): SystemEntry[] => {
    const st = lstatOf(join(rootfs, path))
    if (st === null) return []
    if (st.isSymbolicLink()) return [{ path, kind: 'symlink', target: readlinkSync(join(rootfs, path)) }]
    return st.isDirectory() ? [{ path, kind: 'dir' }] : []
  })

/** More entries than this under one directory and it is not scanned, so not bound (see rootOnlyUnder). */
const scanBudget = 20_000

/**
 * A directory's entries as a scan listed them (symlinks left out), with what identified the
 * directory then: device, inode, mtime and ctime. Creating, removing or renaming an entry sets
 * the directory's mtime and ctime (POSIX, for every call that does it: creat, link, unlink,
 * rename, mkdir, rmdir), and no one can set a ctime back; a mount over it changes its device and
 * inode. So while the four are the same, so are the names: the scan need not list it again.
 * Nothing is taken from the memo but names: every entry is lstat'ed on every scan, so a chmod,
 * which changes only the entry's own ctime and no directory's, is always seen.
 */
export interface Listed {
  readonly key: string
  readonly names: readonly string[]
}

/** The listings a scan starts from (`known`), and those it leaves for the next (`found`). */
export interface ScanMemo {
  readonly known: ReadonlyMap<string, Listed>
  readonly found: Map<string, Listed>
  /**
   * Only a directory whose mtime and ctime are both before this (ms since the epoch) goes into
   * `found`: a change in the same clock tick as the one the key holds would leave the key as it
   * was (filesystem timestamps come from a coarse clock, some filesystems' in whole seconds).
   */
  readonly settledBefore: number
  /** How many directories this scan listed (read with readdir) rather than took from `known`. */
  listed: number
}

/** What identifies a directory's state for ScanMemo: device, inode, mtime and ctime. */
export const listingKey = (st: Stats): string => `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`

/**
 * What under `dir` (a guest path, read in `rootfs`) only root or a group may read: files with no
 * read bit for others, directories others cannot list or enter (not descended into). Symlinks
 * are skipped: what they lead to is checked where it lives. Null when there are too many entries.
 * /usr is not scanned (100k+ entries, seconds cold): distributions keep it world-readable.
 * Exported for its test over generated trees.
 *
 * readdir's entry types say which entries are symlinks without an lstat each (a fifth of /etc;
 * node itself lstats an entry whose type the filesystem does not report). Every other entry is
 * lstat'ed for its mode, and skipped again if that says symlink (it was swapped in meanwhile).
 * With a `memo`, a directory whose key is unchanged since a scan listed it is not listed again
 * (listing is most of the scan's system calls: open, stat, getdents, close per directory).
 */
export const rootOnlyUnder = (rootfs: string, dir: string, memo?: ScanMemo): { files: string[]; dirs: string[] } | null => {
  const files: string[] = []
  const dirs: string[] = []
  // The host path of a guest path: a plain concatenation (path.join normalizes, a third of the
  // scan's own time), right because every guest path here is absolute and built from readdir's
  // names, which are never empty, `.`, `..` or hold a slash.
  const base = rootfs === '/' ? '' : rootfs.replace(/\/+$/, '')
  let seen = 0
  /** The names in a directory (symlinks left out), from the memo when its key still holds; null if it cannot be listed. */
  const namesIn = (host: string, st: Stats | undefined): readonly string[] | null => {
    const key = st === undefined ? null : listingKey(st)
    const known = key === null ? undefined : memo?.known.get(host)
    if (known !== undefined && known.key === key) {
      memo?.found.set(host, known)
      return known.names
    }
    let entries: Dirent[]
    try {
      entries = readdirSync(host, { withFileTypes: true })
    } catch {
      return null
    }
    const names = entries.filter((e) => !e.isSymbolicLink()).map((e) => e.name)
    if (memo !== undefined) {
      memo.listed++
      // The key was read before the listing: a change in between makes the next scan list it again.
      if (key !== null && st !== undefined && st.mtimeMs < memo.settledBefore && st.ctimeMs < memo.settledBefore) memo.found.set(host, { key, names })
    }
    return names
  }
  const walk = (guest: string, st: Stats | undefined): boolean => {
    const names = namesIn(base + guest, st)
    if (names === null) {
      dirs.push(guest)
      return true
    }
    for (const name of names) {
      if (++seen > scanBudget) return false
      const path = `${guest}/${name}`
      // Gone meanwhile: nothing to mask (throwIfNoEntry: no exception built for it).
      const entry = lstatSync(base + path, { throwIfNoEntry: false })
      if (entry === undefined || entry.isSymbolicLink()) continue
      if (entry.isDirectory()) {
        if ((entry.mode & 0o005) !== 0o005) dirs.push(path)
        else if (!walk(path, entry)) return false
      } else if ((entry.mode & 0o004) === 0) files.push(path)
    }
    return true
  }
  // Sorted: the same host gives the same plan, whatever order readdir returns.
  return walk(dir, lstatSync(base + dir, { throwIfNoEntry: false })) ? { files: files.sort(), dirs: dirs.sort() } : null
}

/**
 * The scan's memo between runs: one JSON file in the state root (the user's own, which no sandbox
 * sees and no workdir may contain: src/backends/bwrap.ts, src/workdir.ts), beside the bwrap
 * directory rather than in it, where `ls` and `down --all` would meet it among the bottles:
 * `{ v: 1, dirs: { HOST_PATH: [KEY, [NAME, …]] } }`. Anything else in it, or a name that is not
 * one path segment, and the memo is not used: the scan then lists every directory, as with none.
 */
export const scanMemoFile = (stateRoot: string): string => `${stateRoot}/.bwrap-root-only-scan.json`

const isSegment = (x: unknown): x is string => typeof x === 'string' && x !== '' && x !== '.' && x !== '..' && !x.includes('/') && !x.includes('\0')

export const readScanMemo = (stateRoot: string): Map<string, Listed> => {
  const memo = new Map<string, Listed>()
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(scanMemoFile(stateRoot), 'utf8'))
  } catch {
    return memo
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== 1) return memo
  const dirs = (parsed as { dirs?: unknown }).dirs
  if (typeof dirs !== 'object' || dirs === null) return memo
  for (const [host, value] of Object.entries(dirs)) {
    if (!Array.isArray(value) || value.length !== 2) return new Map()
    const [key, names] = value as unknown[]
    if (typeof key !== 'string' || !Array.isArray(names) || !names.every(isSegment)) return new Map()
    memo.set(host, { key, names })
  }
  return memo
}

/**
 * Writes the memo for the next scan when it changed: what this scan found under the directories
 * it scanned (`roots`, host paths), and what the old memo had elsewhere (another image's). Only
 * once bwrap's state directory is there (a real directory: no bwrap bottle, nothing to write
 * for), through a new file renamed over the old, so a concurrent scan reads one or the other.
 * A memo that cannot be written is no error: the next scan lists what it must.
 */
const writeScanMemo = (stateRoot: string, stateDir: string, roots: readonly string[], memo: ScanMemo): void => {
  const under = (host: string): boolean => roots.some((r) => host === r || host.startsWith(`${r}/`))
  const kept = [...memo.known].filter(([host]) => !under(host))
  const unchanged = memo.found.size === memo.known.size - kept.length && [...memo.found].every(([host, l]) => memo.known.get(host) === l)
  if (unchanged || lstatOf(stateDir)?.isDirectory() !== true) return
  const dirs = Object.fromEntries([...kept, ...memo.found].map(([host, l]) => [host, [l.key, l.names]]))
  const file = scanMemoFile(stateRoot)
  const temp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temp, JSON.stringify({ v: 1, dirs }), { mode: 0o600, flag: 'wx' })
    renameSync(temp, file)
  } catch {
    rmSync(temp, { force: true })
  }
}

/** /etc/resolv.conf's target when it is a symlink into /run, where the sandbox has a fresh tmpfs. */
const resolvConfTarget = (rootfs: string): string | null => {
  if (rootfs !== '/' || lstatOf('/etc/resolv.conf')?.isSymbolicLink() !== true) return null
  try {
    const target = realpathSync('/etc/resolv.conf')
    return target.startsWith('/run/') ? target : null
  } catch {
    return null
  }
}

/**
 * Whether a launched bottle's state directory is still what launch made: a real directory, its
 * `home` a real directory owned by us, its prompt (if any) a regular file. A symlink there was
 * planted: following it would bind or overwrite a host path. Null when all is well.
 */
const stateProblem = (state: string, uid: number): string | null => {
  const dir = lstatOf(state)
  if (dir === null) return null
  if (!dir.isDirectory()) return `${state} is not a directory (a symlink or a file was put in its place)`
  const home = lstatOf(`${state}/home`)
  if (home === null) return `${state}/home is missing`
  if (home.isSymbolicLink() || !home.isDirectory()) return `${state}/home is not a directory (a symlink or a file was put in its place)`
  if (home.uid !== uid) return `${state}/home is owned by uid ${home.uid}, not by bottle's user (${uid})`
  const prompt = lstatOf(`${state}/system-prompt.md`)
  if (prompt !== null && !prompt.isFile()) return `${state}/system-prompt.md is not a regular file (a symlink or something else was put in its place)`
  return null
}

export const readBwrapFacts = (host: Surroundings, query: BottleQuery | null): BwrapFacts => {
  const { env, stateRoot } = host
  const stateDir = `${stateRoot}/bwrap`
  const state = query === null ? null : `${stateDir}/${query.name}`
  // A relative image is not a rootfs (the compiler says so); do not read files next to the cwd.
  const rootfs = query?.image ?? '/'
  const readable = isAbsolute(rootfs)
  const passwd = readable ? readText(join(rootfs, 'etc/passwd')) : ''
  const uid = uidOf(host)
  // Only root's guest can read what others cannot: scan only then (/etc and /opt, 4.2k entries here: 60-300 ms on a loaded 2-core machine).
  const scanned = readable && uid === 0 && query !== null
  const system = readable ? systemEntries(rootfs) : []
  const rootOnly = { files: [] as string[], dirs: [] as string[] }
  const tooBig = new Set<string>()
  if (scanned) {
    const scanDirs = system.filter((e) => e.kind === 'dir' && e.path !== '/usr').map((e) => e.path)
    // Two seconds: more than a coarse clock's lag and a whole-second filesystem's granularity.
    const memo: ScanMemo = { known: readScanMemo(stateRoot), found: new Map(), settledBefore: host.now - 2000, listed: 0 }
    for (const path of scanDirs) {
      const found = rootOnlyUnder(rootfs, path, memo)
      if (found === null) tooBig.add(path)
      else {
        rootOnly.files.push(...found.files)
        rootOnly.dirs.push(...found.dirs)
      }
    }
    const base = rootfs === '/' ? '' : rootfs.replace(/\/+$/, '')
    writeScanMemo(stateRoot, stateDir, scanDirs.map((p) => base + p), memo)
  }
  return {
    stateDir,
    binary: which('bwrap', env.PATH) ?? 'bwrap',
    term: env.TERM ?? null,
    script: which('script', env.PATH) ?? 'script',
    stateRoot,
    hostHome: host.home,
    // A directory too big to scan is left out when bottle is root, rather than shown unscanned.
    system: system.filter((e) => !tooBig.has(e.path)),
    rootOnly,
    resolvConf: resolvConfTarget(rootfs),
    bottle:
      query === null || state === null
        ? null
        : {
          launched: kindOf(state) === 'dir',
          promptInstalled: lstatOf(`${state}/system-prompt.md`)?.isFile() === true,
          unsafe: stateProblem(state, uid),
          users: query.users,
          accounts: parsePasswd(passwd, query.users),
        },
  }
}
