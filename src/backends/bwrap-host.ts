/**
 * What the bwrap backend reads of the host, at the CLI edge (its `hostFacts`): a bwrap bottle has
 * no daemon that remembers it, so its state directory, and the root filesystem it binds, are host
 * facts like the current directory. src/backends/bwrap.ts compiles from what this returns.
 *
 *   readBwrapFacts(readSurroundings(process.env), { name: 'demo', image: null, users: ['node'] })
 *   // { stateDir: '/home/me/.local/state/bottle/bwrap', binary: '/usr/bin/bwrap', term: 'xterm', bottle: { launched: false, … } }
 */
import { type Dirent, type Stats, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { type Surroundings, kindOf, readRegularFile, uidOf, which } from '../host.js'
import { gitGuardFile } from '../workspace-guard.js'
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
 * What under `dir` (a guest path, read in `rootfs`) only root or a group may read: files with no
 * read bit for others, directories others cannot list or enter (not descended into). Symlinks
 * are skipped: what they lead to is checked where it lives. Null when there are too many entries.
 * /usr is not scanned (100k+ entries, seconds cold): distributions keep it world-readable.
 * Exported for its test over generated trees.
 *
 * readdir's entry types say which entries are symlinks without an lstat each (a fifth of /etc;
 * node itself lstats an entry whose type the filesystem does not report). Every other entry is
 * lstat'ed for its mode, and skipped again if that says symlink (it was swapped in meanwhile).
 */
export const rootOnlyUnder = (rootfs: string, dir: string): { files: string[]; dirs: string[] } | null => {
  const files: string[] = []
  const dirs: string[] = []
  // The host path of a guest path: a plain concatenation (path.join normalizes, a third of the
  // scan's own time), right because every guest path here is absolute and built from readdir's
  // names, which are never empty, `.`, `..` or hold a slash.
  const base = rootfs === '/' ? '' : rootfs.replace(/\/+$/, '')
  let seen = 0
  const walk = (guest: string): boolean => {
    let entries: Dirent[]
    try {
      entries = readdirSync(base + guest, { withFileTypes: true })
    } catch {
      dirs.push(guest)
      return true
    }
    for (const entry of entries) {
      if (++seen > scanBudget) return false
      if (entry.isSymbolicLink()) continue
      const path = `${guest}/${entry.name}`
      // Gone meanwhile: nothing to mask (throwIfNoEntry: no exception built for it).
      const st = lstatSync(base + path, { throwIfNoEntry: false })
      if (st === undefined || st.isSymbolicLink()) continue
      if (st.isDirectory()) {
        if ((st.mode & 0o005) !== 0o005) dirs.push(path)
        else if (!walk(path)) return false
      } else if ((st.mode & 0o004) === 0) files.push(path)
    }
    return true
  }
  // Sorted: the same host gives the same plan, whatever order readdir returns.
  return walk(dir) ? { files: files.sort(), dirs: dirs.sort() } : null
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

/**
 * The git paths launch bound read-only (bwrap.ts writes them, one JSON array, in the state
 * directory, which no sandbox shows), each kept only while it is still a plain directory or file:
 * one the user removed since is not bound (a bind of a missing path fails), and a symlink is never
 * followed. Bound in every sandbox since launch, none of them can have been changed by the agent.
 */
const recordedGitGuard = (state: string): readonly string[] => {
  const read = readRegularFile(`${state}/${gitGuardFile}`, 65536)
  if (read._tag !== 'text') return []
  let paths: unknown
  try {
    paths = JSON.parse(read.text)
  } catch {
    return []
  }
  if (!Array.isArray(paths)) return []
  return paths.filter((p): p is string => typeof p === 'string' && isAbsolute(p) && !p.includes('\0')).filter((p) => {
    const st = lstatOf(p)
    return st !== null && (st.isDirectory() || st.isFile())
  })
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
  if (scanned)
    for (const e of system)
      if (e.kind === 'dir' && e.path !== '/usr') {
        const found = rootOnlyUnder(rootfs, e.path)
        if (found === null) tooBig.add(e.path)
        else {
          rootOnly.files.push(...found.files)
          rootOnly.dirs.push(...found.dirs)
        }
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
          gitGuard: recordedGitGuard(state),
          users: query.users,
          accounts: parsePasswd(passwd, query.users),
        },
  }
}
