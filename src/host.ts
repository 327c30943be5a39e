/**
 * The edge: everything bottle reads about the host, read once per invocation. Nothing to the
 * right of the CLI reads process.env, the filesystem, the clock or isTTY.
 *
 *   readHostFacts(['/src/app/notes.md'], null, defaultCluster)
 *   // { cwd, stdinIsTTY, pathKinds: { '/src/app/notes.md': 'file' }, tmpdir, uid, bwrap: null, cluster: { context: null, namespace: null } }
 *   readBwrapFacts(process.env, { name: 'demo', image: null, users: ['node'] })
 *   // { stateDir: '/home/me/.local/state/bottle/bwrap', binary: '/usr/bin/bwrap', term: 'xterm', bottle: { launched: false, … } }
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { delimiter, isAbsolute, join } from 'node:path'
import type { BwrapFacts, ClusterScope, HostFacts, Ids } from './backends/backend.js'
import { type BackendName, absurd } from './plan/types.js'

type Env = Readonly<Record<string, string | undefined>>

const kindOf = (path: string): 'file' | 'dir' | 'missing' => {
  try {
    const st = statSync(path)
    return st.isDirectory() ? 'dir' : 'file'
  } catch {
    return 'missing'
  }
}

/** `cluster` comes from the --context and --namespace flags, which the CLI has already checked. */
export const readHostFacts = (paths: readonly string[], bwrap: BwrapFacts | null, cluster: ClusterScope): HostFacts => ({
  cwd: process.cwd(),
  stdinIsTTY: process.stdin.isTTY === true,
  pathKinds: Object.fromEntries(paths.map((p) => [p, kindOf(p)])),
  tmpdir: tmpdir(),
  // Windows has no uids; podman there runs in a VM as a rootless user.
  uid: process.geteuid?.() ?? 1000,
  bwrap,
  cluster,
})

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
export const onPath = (binary: string, pathVar: string | undefined = process.env.PATH): boolean =>
  which(binary, pathVar) !== null

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

/** The user's home: $HOME when it is an absolute path, else the passwd entry's. */
const homeOf = (env: Env): string => (env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir())

/**
 * Null when the backend looks usable, else one clause saying why not. A binary on PATH is not
 * enough: the docker client is often installed where no engine runs, and smolvm needs KVM.
 */
export const unusable = (name: BackendName, env: Env): string | null => {
  switch (name) {
    case 'smolvm':
      if (!onPath('smolvm', env.PATH)) return 'smolvm is not on PATH'
      if (process.platform === 'linux' && kindOf('/dev/kvm') === 'missing') return 'smolvm is on PATH but /dev/kvm does not exist'
      return null
    case 'docker': {
      if (!onPath('docker', env.PATH)) return 'docker is not on PATH'
      // A remote engine or a named context: only docker itself can tell, so trust it.
      if (env.DOCKER_HOST !== undefined || env.DOCKER_CONTEXT !== undefined) return null
      const sockets = [
        '/var/run/docker.sock',
        ...(env.XDG_RUNTIME_DIR === undefined ? [] : [`${env.XDG_RUNTIME_DIR}/docker.sock`]),
        `${homeOf(env)}/.docker/run/docker.sock`,
        `${homeOf(env)}/.docker/desktop/docker.sock`,
      ]
      return sockets.some(isSocket) ? null : `docker is on PATH but no engine socket was found (${sockets[0]}; DOCKER_HOST is unset)`
    }
    case 'podman':
      // Rootless podman needs no daemon: installed is usable.
      return onPath('podman', env.PATH) ? null : 'podman is not on PATH'
    case 'bwrap':
      return onPath('bwrap', env.PATH) ? null : 'bwrap is not on PATH'
    // Never auto-detected (src/backends/index.ts); only a cluster could tell whether it is usable.
    case 'kubernetes':
      return onPath('kubectl', env.PATH) ? null : 'kubectl is not on PATH'
    default:
      return absurd(name)
  }
}

// -------------------------------------------------------------------------------------------------
// bwrap
// -------------------------------------------------------------------------------------------------

/** `$XDG_STATE_HOME`, else `~/.local/state`; the XDG spec says to ignore a relative value. */
export const stateHome = (env: Env): string =>
  env.XDG_STATE_HOME !== undefined && isAbsolute(env.XDG_STATE_HOME)
    ? env.XDG_STATE_HOME
    : `${homeOf(env)}/.local/state`

/** uid and gid of the named users in /etc/passwd text (`name:pw:uid:gid:…`); others are left out. */
export const parsePasswd = (text: string, users: readonly string[]): Record<string, Ids> => {
  const out: Record<string, Ids> = {}
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':')
    if (name === undefined || !users.includes(name) || name in out) continue
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

/** The bottle an op names, as far as bwrap's facts go; null for `ls`. */
export interface BwrapBottleQuery {
  readonly name: string
  /** The spec's image: a rootfs directory, or null for the host's `/`. */
  readonly image: string | null
  /** The users the op may run as: the spec's, and exec's --user. */
  readonly users: readonly string[]
}

export const readBwrapFacts = (env: Env, query: BwrapBottleQuery | null): BwrapFacts => {
  const stateDir = `${stateHome(env)}/bottle/bwrap`
  const state = query === null ? null : `${stateDir}/${query.name}`
  // A relative image is not a rootfs (the compiler says so); do not read files next to the cwd.
  const rootfs = query?.image ?? '/'
  const passwd = isAbsolute(rootfs) ? readText(join(rootfs, 'etc/passwd')) : ''
  return {
    stateDir,
    binary: which('bwrap', env.PATH) ?? 'bwrap',
    term: env.TERM ?? null,
    bottle:
      query === null || state === null
        ? null
        : {
            launched: kindOf(state) === 'dir',
            promptInstalled: kindOf(`${state}/system-prompt.md`) === 'file',
            accounts: parsePasswd(passwd, query.users),
          },
  }
}

/** bottle's stdin is a terminal: what `run agent --tty` needs (docker refuses -t without one). */
export const stdinIsTerminal = (): boolean => process.stdin.isTTY === true
