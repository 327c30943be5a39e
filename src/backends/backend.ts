/**
 * A backend is a record of pure functions from a validated spec to steps: one file per backend,
 * one shared law suite (tests/laws) that every backend passes.
 *
 *   docker.exec(spec, intent)   // { framing: ['docker','exec','-u','node',…,'demo'], tail: ['claude'] }
 *
 * The generic parts (which guest command an op runs, the prompt flag, the resume fallback) live
 * in compile.ts; a backend only knows how its own CLI spells things.
 */
import type { Checked } from '../spec/validate.js'
import type { BottleSpec } from '../spec/spec.js'
import type { BackendName, GuestIntent, OpName, ProcessEnv, Step } from '../plan/types.js'

/** Facts about the host, read once at the CLI edge; the compilers read nothing else. */
export interface HostFacts {
  readonly cwd: string
  readonly stdinIsTTY: boolean
  /** What each host path named by the input is (the cp source, the prompt file). */
  readonly pathKinds: Readonly<Record<string, 'file' | 'dir' | 'missing'>>
  /** Where host-side scratch files go (a tarball for a directory copy). */
  readonly tmpdir: string
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
}

export interface Backend {
  readonly name: BackendName
  /** The executable every step of this backend spawns first. */
  readonly binary: string
  /** One line: how to get the binary. */
  readonly install: string
  /** The backend's own rules on top of the spec's (name syntax, paths its CLI cannot take). */
  readonly checkSpec: (spec: BottleSpec) => Checked<BottleSpec>
  /** The image used when the spec names none. */
  readonly defaultImage: string
  /** Where the prompt file lives inside the bottle. */
  readonly promptPath: (spec: BottleSpec) => string
  /**
   * Create and start the bottle; every step that creates something carries its undo. `guest`
   * builds a plumbing step in the bottle, for backends that must prepare it (kubernetes makes the
   * workdir, which no host directory is bound to).
   */
  readonly create: (spec: BottleSpec, host: HostFacts, guest: GuestStep) => readonly Step[]
  /** The framing that runs `intent.argv` in the bottle as `intent.user`. */
  readonly exec: (spec: BottleSpec, intent: GuestIntent) => ExecFraming
  /**
   * Steps that put a host file or directory at `dest` in the bottle (parent directories are made
   * by compile.ts first). `guest` builds a helper guest step, for backends that need one.
   */
  readonly copyIn: (spec: BottleSpec, copy: CopyIn, host: HostFacts, guest: GuestStep) => Checked<readonly Step[]>
  /** Stop and delete; a bottle that is already gone is not an error. */
  readonly down: (spec: BottleSpec) => readonly Step[]
  /** List this tool's bottles. */
  readonly list: (scope: ListScope) => readonly Step[]
  /** Facts for people about an op on this backend, added to the plan's notes; spec is null for ls. */
  readonly notes?: (op: OpName, spec: BottleSpec | null, scope: ListScope) => readonly string[]
}

/** Where `ls` looks, for backends with more than one place (a kubeconfig context and namespace). */
export interface ListScope {
  readonly context: string | null
  readonly namespace: string | null
}

export const anywhere: ListScope = { context: null, namespace: null }

/** Builds a step that runs `argv` in the bottle as root, with no user env: for plumbing. */
export type GuestStep = (title: string, argv: readonly string[]) => Step

/** Labels that mark what bottle created, so ls and down find exactly this tool's bottles. */
export const managedLabel = 'dev.bottle.managed'
export const nameLabel = 'dev.bottle.name'
