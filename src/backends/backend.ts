/**
 * A backend is a record of pure functions from a validated spec to steps: one file per backend,
 * one shared law suite (tests/laws) that every backend passes.
 *
 *   docker.exec(spec, intent, host)   // { framing: ['docker','exec','-u','node',…,'demo'], env }
 *
 * The generic parts (which guest command an op runs, the prompt flag, the resume fallback) live
 * in compile.ts; a backend only knows how its own CLI spells things.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Checked } from '../bottle-spec/validate.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import { recordOf, specHash } from '../bottle-spec/record.js'
import { oneLine } from '../plan/errors.js'
import type { BackendName, GuestIntent, LiveCheck, Note, OpName, ProcessEnv, Step, Wrapper } from '../plan/types.js'
import type { Surroundings } from '../host.js'
import type { EgressFacts } from './egress.js'
import type { FetchFacts } from '../fetch.js'
import type { WorkspaceFacts } from '../workspace.js'

/** Facts about the host, read once at the CLI edge; the compilers read nothing else. */
/** What is at a host path: `other` is a FIFO, a device or a socket, which bottle never copies. */
export type PathKind = 'file' | 'dir' | 'other' | 'missing'

export interface HostFacts {
  readonly cwd: string
  /** The invoking user's home ($HOME, else the passwd entry's): a workdir must not expose it. */
  readonly home: string
  /** bottle's state root on the host (`$XDG_STATE_HOME/bottle`): launch records live below it. */
  readonly stateRoot: string
  readonly stdinIsTTY: boolean
  /** What each host path named by the input is (the cp source, the prompt file). */
  readonly pathKinds: Readonly<Record<string, PathKind>>
  /**
   * For a named path that is a directory: the first entry below it that is neither a regular
   * file, a directory nor a symlink (a FIFO, a socket, a device), which a copy would recreate in
   * the bottle as that special file. Absent: none found (or the path is no directory).
   */
  readonly specialEntries?: Readonly<Record<string, SpecialEntry>>
  /** Where host-side scratch files go (a tarball for a directory copy). */
  readonly tmpdir: string
  /** bottle's effective uid: podman is rootless, and maps ids differently, iff it is not 0. */
  readonly uid: number
  /** Read only when the backend is bwrap, which keeps its bottles on the host; null otherwise. */
  readonly bwrap: BwrapFacts | null
  /**
   * kubernetes, for the ops that name no bottle (ls, down --all): which cluster and namespace to
   * look in, from --context and --namespace. An op on one bottle reads its spec's context and
   * namespace (the CLI puts the same here).
   */
  readonly cluster: ClusterScope
  /**
   * For a bottle with an egress door (src/backends/egress.ts): how to run the host proxy, and
   * whether it runs now. Absent: `node` on PATH, the proxy bundle by its bare name, not running.
   */
  readonly egress?: EgressFacts
  /**
   * At launch, on a backend that binds the workdir: the workdir's git paths, each bound read-only
   * over itself (src/workspace-guard.ts). Absent: none (and bwrap reads its launch's list back).
   */
  readonly gitGuard?: readonly string[]
  /** For fetch: the host repository and whether the workdir is one (src/fetch.ts). */
  readonly fetch?: FetchFacts
  /** At launch, for `workspace: copy`: the host repository the workdir is in (src/workspace.ts). Absent: none. */
  readonly workspace?: WorkspaceFacts
}

/** An entry below a directory that bottle will not copy: its path, and what it is. */
export interface SpecialEntry {
  readonly path: string
  readonly what: 'a FIFO' | 'a socket' | 'a device'
}

/** A kubeconfig context and namespace; null: kubectl's current context, that context's namespace. */
export interface ClusterScope {
  readonly context: string | null
  readonly namespace: string | null
}

export const defaultCluster: ClusterScope = { context: null, namespace: null }

/** A user's numeric ids, as a passwd file lists them. */
export interface Ids {
  readonly uid: number
  readonly gid: number
}

/**
 * What the bwrap backend needs from the host. A bwrap bottle has no daemon that remembers it: it
 * is a directory, so whether it exists is a fact the CLI reads, like the current directory.
 */
export interface BwrapFacts {
  /** `$XDG_STATE_HOME/bottle/bwrap`, else `$HOME/.local/state/bottle/bwrap`: one directory per bottle. */
  readonly stateDir: string
  /**
   * bwrap's absolute path on the host PATH, or `bwrap` if it is not there. The bwrap process gets
   * the guest's env, PATH included, so the plan must not depend on PATH to find bwrap itself.
   */
  readonly binary: string
  /** The host's TERM, for a guest that has a terminal; null when unset. */
  readonly term: string | null
  /**
   * util-linux `script`'s absolute path on the host PATH, or `script`: an interactive guest gets
   * a pseudo-terminal of its own from it, never the user's terminal (src/backends/bwrap.ts).
   */
  readonly script: string
  /** bottle's state root (`$XDG_STATE_HOME/bottle`): never visible inside any bottle. */
  readonly stateRoot: string
  /** The invoking user's home on the host: never visible inside any bottle. */
  readonly hostHome: string
  /** The allow-listed system directories, as the root filesystem has them (missing ones left out). */
  readonly system: readonly SystemEntry[]
  /**
   * The system directories (guest paths, all of kind `dir` in `system`) whose root-only files and
   * directories every sandbox's step masks, scanning them as it starts (src/backends/bwrap-scan.ts):
   * bottle runs as root, whose guest is host root to the kernel. Empty when bottle is not root.
   */
  readonly rootOnlyScan: readonly string[]
  /** Where the host's /etc/resolv.conf symlink leads when that is under /run (systemd-resolved); else null. */
  readonly resolvConf: string | null
  /** About the bottle the operation names; null for `ls`, which names none. */
  readonly bottle: BwrapBottleFacts | null
}

/** A top-level entry of the root filesystem: a directory bound read-only, or a symlink made again. */
export type SystemEntry =
  | { readonly path: string; readonly kind: 'dir' }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string }

export interface BwrapBottleFacts {
  /** The bottle's state directory exists: it was launched and not taken down. */
  readonly launched: boolean
  /** The state directory holds a prompt file (copied in at launch): a regular file, not a symlink. */
  readonly promptInstalled: boolean
  /**
   * Why the state directory cannot be trusted (its `home` is a symlink or not ours, its prompt is
   * a symlink or not a regular file), or null: a host step must never follow what was planted.
   */
  readonly unsafe: string | null
  /**
   * The git paths launch bound read-only (src/workspace-guard.ts), as the state directory records
   * them, less any that is no longer a plain directory or file: every sandbox binds them again.
   * Absent: none.
   */
  readonly gitGuard?: readonly string[]
  /** The users the op may run as (the spec's, exec's --user): each must be in the rootfs passwd. */
  readonly users: readonly string[]
  /** uid/gid of the users the input names, from the root filesystem's /etc/passwd; absent if unlisted. */
  readonly accounts: Readonly<Record<string, Ids>>
}

/** What a backend needs to copy one host path into the bottle. */
export interface CopyIn {
  readonly source: string
  readonly kind: 'file' | 'dir'
  readonly dest: string
}

/** The exec prefix and how the backend process must be started for one guest command. */
export interface ExecFraming {
  readonly framing: readonly string[]
  readonly env: ProcessEnv
  /** A host program the command runs under, given it as one shell string (bwrap's pty). */
  readonly wrapper?: Wrapper
}

/**
 * The host reads a backend's detection may make, handed in by src/host.ts: a backend file reads
 * nothing itself, so detection is a pure function of these (and testable with made-up ones).
 */
export interface HostProbe {
  readonly env: Readonly<Record<string, string | undefined>>
  /** `process.platform`: smolvm needs KVM only on Linux. */
  readonly platform: string
  /** The invoking user's home ($HOME, else the passwd entry's). */
  readonly home: string
  readonly onPath: (binary: string) => boolean
  readonly isSocket: (path: string) => boolean
  readonly exists: (path: string) => boolean
}

/** The bottle an op names, as a backend that reads the host for it needs to know it. */
export interface BottleQuery {
  readonly name: string
  /** The spec's image (bwrap: a rootfs directory, or null for the host's `/`). */
  readonly image: string | null
  /** The users the op may run as: the spec's, and exec's --user. */
  readonly users: readonly string[]
}

/**
 * The host facts that belong to one backend: a backend that keeps its bottles on the host (bwrap)
 * fills its field with its `hostFacts` reader; every other backend leaves it null.
 */
export type BackendFacts = Pick<HostFacts, 'bwrap'>

export interface Backend {
  readonly name: BackendName
  /** The executable every step of this backend spawns first. */
  readonly binary: string
  /** One line: how to get the binary. */
  readonly install: string
  /**
   * Null when the backend looks usable here, else one clause saying why not. A binary on PATH is
   * not always enough: the docker client is often installed where no engine runs.
   */
  readonly unusable: (probe: HostProbe) => string | null
  /**
   * Whether a bottle without -b or `backend:` may land here (src/backends/index.ts tries those in
   * order), and whether `ls` without -b lists it.
   */
  readonly autoDetected: boolean
  /**
   * The --context and --namespace flags choose where its bottles are (kubernetes); any other
   * backend refuses them rather than ignore them.
   */
  readonly clusterScoped?: boolean
  /**
   * Reads the host facts this backend needs beyond the common ones, at the CLI edge; `query` is
   * the bottle the op names, null for ops that name none (ls, down --all). Absent: it needs none.
   */
  readonly hostFacts?: (query: BottleQuery | null, host: Surroundings) => BackendFacts
  /**
   * The backend's own rules on top of the spec's (name syntax, paths its CLI cannot take), and,
   * for a backend that keeps its bottles on the host, whether `op` fits the bottle's state.
   */
  readonly checkSpec: (spec: BottleSpec, op: OpName, host: HostFacts) => Checked<BottleSpec>
  /** The image used when the spec names none. */
  readonly defaultImage: string
  /**
   * The workdir is a host directory bound into the bottle, so launch refuses one that would expose
   * the host (src/workdir.ts). False on kubernetes, where it is only a directory made in the Pod.
   */
  readonly bindsWorkdir: boolean
  /**
   * It can bind a host directory into the bottle but not a single file (smolvm's virtiofs): a
   * workdir whose .git is a gitfile cannot be guarded there (src/workspace-guard.ts).
   */
  readonly bindsDirsOnly?: true
  /** Where the prompt file lives inside the bottle. */
  readonly promptPath: (spec: BottleSpec) => string
  /**
   * Create and start the bottle; every step that creates something carries its undo. `guest`
   * builds a plumbing step in the bottle, for backends that must prepare it (kubernetes makes the
   * workdir, which no host directory is bound to). `door` is the egress proxy's start (empty for a
   * bottle without one): the backend puts it before the bottle starts, and after the step that
   * claims the name (create; bwrap: the state directory), so that a second launch of the name
   * fails before it and its undo never stops the proxy of the bottle the first launch made.
   */
  readonly create: (spec: BottleSpec, host: HostFacts, guest: GuestStep, door: readonly Step[]) => readonly Step[]
  /** The framing that runs `intent.argv` in the bottle as `intent.user`. */
  readonly exec: (spec: BottleSpec, intent: GuestIntent, host: HostFacts) => ExecFraming
  /**
   * The guest command goes on running when the backend client ends (the client forwards no
   * signal and the command is not its child): agent, exec and resume then get a stop step for
   * an interrupt (src/guest.ts). False for bwrap, whose sandbox dies with it (--die-with-parent).
   */
  readonly guestOutlivesClient?: boolean
  /**
   * No process outlives one guest command (bwrap: each command is its own sandbox), so the egress
   * relay is started by each command's framing; otherwise launch starts it once, and an op that
   * finds the proxy stopped (after a reboot) starts both again.
   */
  readonly relayPerCommand?: boolean
  /**
   * The sandbox runs the host's own binaries, bound read-only (bwrap): launch installs nothing
   * into it and refuses provision scripts (src/provision.ts), which could change nothing that lasts.
   */
  readonly hostBinaries?: boolean
  /**
   * Its bottles are their state directories in bottle's state root (bwrap): a bottle that is gone
   * has left nothing there, and one the listing skipped (unreadable labels) is still a bottle, so
   * down --all looks there for nothing beyond the listing.
   */
  readonly bottlesAreStateDirs?: boolean
  /**
   * The egress door's proxy is the backend's own (kubernetes: a proxy Pod and its Service, made by
   * create, removed by down, restarted by the cluster): compile plans no host proxy for the bottle,
   * not at launch, not again on later ops. `relayStart` starts the guest's relay to it; `probe` is
   * the probe as that guest runs it; `remove` takes the proxy away, after the bottle (down of a
   * bottle with a door, and down --all, which reads no record). `list` (read-only, captured) and
   * `parseList` find the bottles that have door objects, so that down --all also removes what is
   * left of a bottle that is gone: `leftovers`, found by label only (its door, and its Secret,
   * which holds the bottle's secrets). Absent: the host proxy (src/backends/egress.ts).
   */
  readonly ownProxy?: {
    readonly relayStart: (spec: BottleSpec) => readonly string[]
    readonly probe: readonly string[]
    readonly remove: (spec: BottleSpec) => readonly Step[]
    readonly leftovers: (spec: BottleSpec) => readonly Step[]
    readonly list: (host: HostFacts) => Step
    readonly parseList: (stdout: string) => E.Either<ListingError, readonly string[]>
  }
  /**
   * How to tell the backend's own failure from the guest command's exit code, when the client
   * uses the same codes for both (see Step.liveCheck); absent when its own codes are its own.
   */
  readonly liveCheck?: (spec: BottleSpec, host: HostFacts) => LiveCheck
  /**
   * Every step that puts a host file or directory at `dest` in the bottle, owned by the bottle's
   * user, making parent directories as needed. `guest` builds a helper guest step run as root,
   * for backends whose copy lands as root (see `ownedByUser`).
   */
  readonly copyIn: (spec: BottleSpec, copy: CopyIn, host: HostFacts, guest: GuestStep) => Checked<readonly Step[]>
  /** Stop and delete; a bottle that is already gone is not an error. */
  readonly down: (spec: BottleSpec, host: HostFacts) => readonly Step[]
  /** List this tool's bottles: steps whose last one is a `capture` step that parseList reads. */
  readonly list: (host: HostFacts) => readonly Step[]
  /**
   * Reads what the list step printed: this tool's bottles only (entries without the managed
   * label are skipped, whatever the command's own filter did), in the order printed.
   */
  readonly parseList: (stdout: string) => E.Either<ListingError, readonly BottleRow[]>
  /**
   * One line for each entry of the listing that parseList skipped because it cannot be read,
   * for `ls` to print as a warning (bwrap, whose state root may hold anything); none if absent.
   */
  readonly listWarnings?: (stdout: string) => readonly string[]
  /**
   * Facts for people about an op on this backend, added to the plan's notes; spec is null for
   * ops that name no bottle (ls, down --all).
   */
  readonly notes?: (op: OpName, spec: BottleSpec | null, host: HostFacts) => readonly Note[]
  /**
   * The bottle's secrets are fixed when it is launched (kubernetes: the Pod's env, from the Secret
   * made at launch), so `update` cannot change their names on a live bottle. Absent: they are
   * handed to each command.
   */
  readonly secretsAtLaunch?: boolean
}

/** One bottle as its backend lists it. */
export interface BottleRow {
  readonly name: string
  readonly backend: BackendName
  /** The backend's own word: running, exited, stopped, … */
  readonly state: string
  /** Milliseconds since the epoch; null when the backend did not say, or said it in a form we do not read. */
  readonly createdAt: number | null
  readonly image: string | null
  /** The spec-hash label launch put on the bottle; null when absent or empty. */
  readonly specHash: string | null
  /**
   * The spec the bottle's launch record holds (record.ts's encodeRecord form), filled in by the
   * CLI, which reads the record file; the listing parsers leave it null (no label carries it).
   */
  readonly spec: string | null
}

/** The backend printed something its parser cannot read: one line, saying where. */
export interface ListingError {
  readonly _tag: 'ListingError'
  readonly message: string
}

/** Builds a step that runs `argv` in the bottle as root, with no user env: for plumbing. */
export type GuestStep = (title: string, argv: readonly string[]) => Step

/** Labels that mark what bottle created, so ls and down find exactly this tool's bottles. */
export const managedLabel = 'dev.bottle.managed'
export const nameLabel = 'dev.bottle.name'
/**
 * The hash of the spec that shaped the bottle (src/bottle-spec/record.ts). The spec itself is in the
 * launch record on the host, not in a label: anyone who can inspect the bottle reads its labels.
 */
export const specHashLabel = 'dev.bottle.spec-hash'
/**
 * The run of launch that created the bottle (a fresh id per run, filled in by the interpreter):
 * an undo removes a bottle only if it carries this run's id, so an interrupted second launch of
 * a name never removes the bottle a first launch made.
 */
export const launchIdLabel = 'dev.bottle.launch-id'

/** How many times, a second apart, an undo looks for what an interrupted create may still be making. */
export const undoTries = 10

/** Every label launch puts on a bottle, in order; `defaultImage` is what the backend uses for no image. */
export const launchLabels = (spec: BottleSpec, defaultImage: string): (readonly [string, string])[] => [
  [managedLabel, 'true'],
  [nameLabel, spec.name],
  [specHashLabel, specHash(recordOf(spec, defaultImage))],
]

export const listingError = (message: string): ListingError => ({ _tag: 'ListingError', message: oneLine(message) })

/**
 * What a listing parser makes of a client's output: the rows it read, and one line for each entry
 * (a line, an object) it could not read and skipped. One bad entry never hides the others; only
 * output that cannot be split into entries at all (not JSON, not a list) is a ListingError.
 */
export interface ParsedListing {
  readonly rows: readonly BottleRow[]
  readonly skipped: readonly string[]
}

/** A backend's parseList and listWarnings, from one parser that reads both. */
export const listingReader = (
  parse: (stdout: string) => E.Either<ListingError, ParsedListing>,
): Pick<Backend, 'parseList' | 'listWarnings'> => ({
  parseList: (stdout) => E.map((p: ParsedListing) => p.rows)(parse(stdout)),
  // Output that cannot be read at all is parseList's error, not a warning.
  listWarnings: (stdout) => E.match(() => [], (p: ParsedListing) => p.skipped)(parse(stdout)),
})

const parentDir = (p: string): string => p.slice(0, Math.max(1, p.lastIndexOf('/')))

/**
 * For backends whose copy lands as root (docker cp, smolvm cp): make the parent in the bottle
 * first, and give the copy to the bottle's user after, or the agent could not write to it.
 */
export const ownedByUser = (
  spec: BottleSpec,
  copy: CopyIn,
  inGuest: GuestStep,
  copySteps: readonly Step[],
): Step[] => {
  const target = copy.kind === 'dir' ? copy.dest : parentDir(copy.dest)
  return [
    inGuest(`make ${target} in the bottle`, ['mkdir', '-p', '--', target]),
    ...copySteps,
    inGuest(`give ${copy.dest} to ${spec.user}`, ['chown', '-R', '--', spec.user, copy.dest]),
  ]
}

/**
 * `sh -c userCheckScript sh USER`, as root: exit 2 with a line naming USER if the image has no
 * such user (2: bad input, the launch is undone). `id` is in coreutils and busybox alike.
 */
export const userCheckScript =
  'id -u "$1" >/dev/null 2>&1 || { printf \'bottle: the image has no user %s: choose one it has (--user), or add it to the image\\n\' "$1" >&2; exit 2; }'

/**
 * The launch step, run right after the bottle starts, that refuses a user the image does not
 * have: otherwise the first command as that user fails later, with the client's own code and
 * words (docker: 126; runuser: 1, "user X does not exist"), after the launch has done its work.
 */
export const userCheck = (spec: BottleSpec, inGuest: GuestStep): Step =>
  inGuest(`check that the user ${spec.user} exists in the image`, ['/bin/sh', '-c', userCheckScript, 'sh', spec.user])
