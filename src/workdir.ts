/**
 * Whether a host directory may be a bottle's workdir: bound read-write into the bottle, so
 * everything below it is the agent's. Pure: the edge (src/host.ts, readWorkdirFacts) reads what
 * is there and resolves symlinks; this decides.
 *
 *   workdirRefusal({ path: '/home/me', kind: 'dir', real: '/home/me' }, { home: ['/home/me'], stateRoot: ['/home/me/.local/state/bottle'] })
 *   // 'workdir "/home/me" is your home directory: …'
 *   workdirRefusal({ path: '/home/me/app', kind: 'dir', real: '/home/me/app' }, guard)   // null
 */
import { posix } from 'node:path'
import type { PathKind } from './backends/backend.js'
import { show } from './plan/errors.js'

/** What the edge found at a would-be workdir. */
export interface WorkdirFacts {
  /** As the spec has it: absolute, perhaps with `..` or a trailing slash left in. */
  readonly path: string
  /** What is there, following symlinks. */
  readonly kind: PathKind
  /** Its realpath (every symlink resolved): what a bind of `path` exposes. Null when it is missing. */
  readonly real: string | null
}

/**
 * The host paths no workdir may expose, each as written and as resolved (the two differ when a
 * symlink is on the way, e.g. HOME=/home/me with /home a link to /usr/home).
 */
export interface WorkdirGuard {
  /** The invoking user's home: no workdir may be it or hold it. */
  readonly home: readonly string[]
  /** bottle's state root (launch records, bwrap homes): no workdir may hold it or be in it. */
  readonly stateRoot: readonly string[]
}

/** `p` with `.`, `..`, repeated and trailing slashes gone: the path the kernel would be given. */
const clean = (p: string): string => posix.resolve('/', p)

/** Equal to `ancestor`, or below it (both clean). */
const within = (path: string, ancestor: string): boolean =>
  path === ancestor || path.startsWith(ancestor === '/' ? '/' : `${ancestor}/`)

const choose = 'choose a project directory'

/**
 * Null when `w` may be bound as a workdir; else why not, one line. Refused: `/`; the home or any
 * directory holding it (`/home`, `/root`…: the agent would get ~/.ssh and every credential);
 * any directory holding the state root or inside it (a guest could read other bottles' homes and
 * plant symlinks where host steps follow them); a path that does not exist (docker, podman and
 * smolvm create a missing bind source on the host, as root); anything but a directory. Each test
 * is made on the path as written and on its realpath, so neither a symlink nor `..` gets past.
 */
export const workdirRefusal = (w: WorkdirFacts, guard: WorkdirGuard): string | null => {
  const written = clean(w.path)
  const real = w.real === null ? null : clean(w.real)
  const named = real === null || real === written ? show(written) : `${show(written)} (through symlinks ${show(real)})`
  const forms = real === null ? [written] : [written, real]
  if (forms.includes('/')) return `workdir ${named} is the host's root directory: every host file would be in the bottle; ${choose}`
  for (const home of guard.home.map(clean))
    for (const f of forms)
      if (within(home, f))
        return f === home
          ? `workdir ${named} is your home directory: the agent could read and write all of it (~/.ssh, credentials); ${choose} below it`
          : `workdir ${named} holds your home directory ${show(home)}: the agent could read and write all of it; ${choose}`
  for (const root of guard.stateRoot.map(clean))
    for (const f of forms) {
      if (within(root, f))
        return `workdir ${named} holds bottle's state directory ${show(root)} (launch records, every bottle's home): ${choose} that does not hold it (or set XDG_STATE_HOME elsewhere)`
      if (within(f, root)) return `workdir ${named} is inside bottle's state directory ${show(root)}: ${choose}`
    }
  switch (w.kind) {
    case 'missing':
      return `workdir ${named} does not exist (a container engine would create it on the host, as root): create it first, or ${choose}`
    case 'file':
    case 'other':
      return `workdir ${named} is not a directory: ${choose}`
    case 'dir':
      return null
  }
}
