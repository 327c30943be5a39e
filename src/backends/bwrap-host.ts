/**
 * What the bwrap backend reads of the host, at the CLI edge (its `hostFacts`): a bwrap bottle has
 * no daemon that remembers it, so its state directory, and the root filesystem it binds, are host
 * facts like the current directory. src/backends/bwrap.ts compiles from what this returns.
 *
 *   readBwrapFacts(readSurroundings(process.env), { name: 'demo', image: null, users: ['node'] })
 *   // { stateDir: '/home/me/.local/state/bottle/bwrap', binary: '/usr/bin/bwrap', term: 'xterm', bottle: { launched: false, … } }
 */
import { type Stats, lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
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
  const system = readable ? systemEntries(rootfs) : []
  // Only root's guest can read what others cannot: only then does each sandbox's step scan (/etc
  // and /opt; /usr, 100k+ entries, is not scanned: distributions keep it world-readable).
  const rootOnlyScan = readable && uid === 0 && query !== null ? system.flatMap((e) => (e.kind === 'dir' && e.path !== '/usr' ? [e.path] : [])) : []
  return {
    stateDir,
    binary: which('bwrap', env.PATH) ?? 'bwrap',
    term: env.TERM ?? null,
    script: which('script', env.PATH) ?? 'script',
    stateRoot,
    hostHome: host.home,
    system,
    rootOnlyScan,
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
