/**
 * The plan: plain, readonly, JSON-serialisable data that says everything `bottle run` will do.
 *
 *   const plan: Plan = { op: 'exec', backend: 'docker', bottle: 'demo', secrets: [], notes: [],
 *     steps: [{ title: 'run the script', argv: ['docker', 'exec', ...], env: inheritEnv, ... }] }
 *   JSON.parse(JSON.stringify(plan))  // deep-equals plan: no classes, functions or Options inside
 *
 * Nothing here decides anything; `interpret` executes exactly these fields (the Terraform rule).
 */

import type { PlanBasis } from './basis.js'
import type { OpName } from './operation.js'
import { quoteShArgv } from './quote.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export const backendNames = ['smolvm', 'docker', 'podman', 'bwrap', 'kubernetes'] as const
export type BackendName = (typeof backendNames)[number]

export { type OpName, opNames } from './operation.js'

/** A variable of the spawned backend process's environment: a plain value, or a secret by name. */
export type EnvVar =
  | { readonly _tag: 'plain'; readonly name: string; readonly value: string }
  /**
   * The value is read from the host env var `from` (absent: the same name) when the step runs;
   * never stored. A different name keeps a value away from names a shell treats specially.
   */
  | { readonly _tag: 'secret'; readonly name: string; readonly from?: string }

/** The environment of the process a step spawns. */
export interface ProcessEnv {
  /**
   * Start from the host variables a backend client needs (src/plan/client-env.ts: PATH, HOME,
   * DOCKER_HOST, KUBECONFIG, …), never the whole host env; bwrap starts empty.
   */
  readonly inheritHost: boolean
  readonly vars: readonly EnvVar[]
}

/**
 * How a step's standard streams are wired.
 * - `terminal`: all three inherit ours (interactive agent).
 * - `passthrough`: stdin is empty; stdout/stderr go to ours as they come (exec).
 * - `quiet`: stdin is empty; output is kept and shown only if the step fails (lifecycle steps).
 * - `capture`: stdin is empty; stdout is handed back to bottle, which reads it (ls parses the
 *   backend's listing); stderr goes to ours, so the tool's own complaint is seen as it wrote it.
 */
export type Stdio = 'terminal' | 'passthrough' | 'quiet' | 'capture'

/** Plain JSON data: what a `json` stdin holds (a Kubernetes manifest). */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }

/** A place in a JSON document: a path of object keys and array indexes. */
export type JsonPath = readonly (string | number)[]

/** Where a secret's value goes in a JSON document. */
export interface SecretSlot {
  readonly path: JsonPath
  /** The host env var whose value is written there, as a JSON string, when the step runs. */
  readonly secret: string
}

/** What a step reads on stdin when it is not `terminal`. */
export type Stdin =
  | { readonly _tag: 'none' }
  | { readonly _tag: 'text'; readonly text: string }
  /**
   * A JSON document, written compactly. Each slot's placeholder (an empty string in `document`)
   * is replaced by the value of a host env var at run time: the plan holds the names only.
   * `launchId` lists the places (empty strings in `document`) that get the run's launch id, as a
   * JSON string, when the step runs: like Step.launchId, the plan holds the slot, never a value.
   */
  | {
      readonly _tag: 'json'
      readonly document: Json
      readonly secrets: readonly SecretSlot[]
      readonly launchId?: readonly JsonPath[]
    }

/** A non-zero exit that still counts as success, e.g. "vm not found" when deleting. */
export interface Tolerated {
  readonly exitCode: number
  /** The failure is tolerated only if stderr contains this text. */
  readonly stderrIncludes: string
}

/**
 * What a guest command is meant to do, independent of any backend: the law suite decodes every
 * backend's exec argv back into this record (invariant 7).
 */
export interface GuestIntent {
  readonly user: string
  readonly home: string
  /** Plain env for the guest command, in spec order, HOME and USER excluded. */
  readonly env: readonly (readonly [string, string])[]
  /** Names of host env vars handed to the guest command. */
  readonly secrets: readonly string[]
  readonly cwd: string
  /** The command itself: the tail of the argv. */
  readonly argv: readonly string[]
  /** A pseudo-terminal is allocated. */
  readonly tty: boolean
  /** Our stdin is connected to the guest command. */
  readonly stdin: boolean
}

/**
 * A host program that runs the guest command given as one `sh -c` string: argv is
 * `[...before, 'exec FRAMING… TAIL…' (quoted), ...after]`. bwrap's interactive ops run under
 * util-linux `script -q -e -c CMD /dev/null`, which gives the guest a pseudo-terminal of its own.
 */
export interface Wrapper {
  readonly before: readonly string[]
  readonly after: readonly string[]
  /**
   * Shell text the `sh -c` string starts with, before `exec`: fixed text, never a value (see
   * src/backends/bwrap.ts, which moves a secret named SHELL back under its name there).
   */
  readonly prelude?: string
}

/**
 * The guest part of a step: argv = [...framing, ...tail], or that command inside `wrapper`; the
 * tail is never found by search.
 */
export interface GuestCommand {
  readonly framing: readonly string[]
  readonly tail: readonly string[]
  readonly intent: GuestIntent
  readonly wrapper?: Wrapper
}

/** The argv that runs a guest command: framing + tail, inside the wrapper if there is one. */
export const guestArgv = (framing: readonly string[], tail: readonly string[], wrapper: Wrapper | undefined): string[] =>
  wrapper === undefined
    ? [...framing, ...tail]
    : [...wrapper.before, `${wrapper.prelude ?? ''}${quoteShArgv(['exec', ...framing, ...tail])}`, ...wrapper.after]

export interface Step {
  /** One line for people: `[2/4] create the machine`. */
  readonly title: string
  readonly argv: readonly string[]
  readonly env: ProcessEnv
  readonly stdio: Stdio
  readonly stdin: Stdin
  /** Present when the step runs a command inside the bottle. */
  readonly guest?: GuestCommand
  /** Failures that count as success (idempotent teardown). */
  readonly tolerate: readonly Tolerated[]
  /** Steps that undo this one, run in order if a later step fails or the run is interrupted. */
  readonly undo: readonly Step[]
  /**
   * For a guest step whose backend client exits with the same code for its own failures as the
   * guest command may (docker exec: 1 for a missing container or an unreachable engine): after one
   * of `codes`, `step` (read-only) is run; unless it exits 0 printing `running` (trimmed), the
   * code was the backend's, and bottle exits 125 with one line saying so.
   */
  readonly liveCheck?: LiveCheck
  /**
   * Present when the step opens a tmux pane: the step the pane runs, as `bottle run` would run
   * it. Its words are already in argv; this is what they mean, for people and for the laws.
   */
  readonly pane?: Step
  /**
   * The longest the step may run, in milliseconds: then the interpreter stops it (SIGTERM) and
   * the run ends as timed out. Absent: no limit. Listing has one, so that an engine that accepts
   * a connection and never answers cannot hang `ls`.
   */
  readonly timeoutMs?: number
  /**
   * The run's launch id goes here: the positions of the argv elements it is appended to when the
   * step runs (`dev.bottle.launch-id=` becomes `dev.bottle.launch-id=3f09…`; an empty element
   * becomes the id itself). Like a secret, the plan holds the slot, never a value: each run of a
   * plan (a saved one, a `--format sh` script run twice) gets an id of its own, so an undo can tell
   * what this run created from what another run did.
   */
  readonly launchId?: readonly number[]
  /**
   * Steps run, once, when the first interrupt arrives while this step is in flight (beside it:
   * the step itself is not signalled unless it is the plan's result step). A hook for a step
   * whose work lives somewhere a signal to its client does not reach (a guest command behind
   * `docker exec`).
   */
  readonly onInterrupt?: readonly Step[]
}

/** See Step.liveCheck. */
export interface LiveCheck {
  readonly codes: readonly number[]
  readonly step: Step
  /** What `step` prints on stdout (trimmed) when the bottle is there and running. */
  readonly running: string
}

/**
 * A fact for people in a plan. `render` prints each as one `note: …` line; `--format json` keeps
 * the value, so a program reads the tag and fields, not the sentence.
 */
export type Note =
  /** Why this backend: `backend docker: given with -b`. */
  | { readonly _tag: 'backend'; readonly backend: BackendName; readonly why: string }
  /**
   * The bottle differs, or may differ, from what it was launched with: `against` the manifest
   * (the record and the manifest compared, no listing) or the live bottle (--check-drift listed
   * it). `bottle run` prints these on stderr as warnings; the op still runs.
   */
  | { readonly _tag: 'drift'; readonly against: 'manifest' | 'live'; readonly text: string }
  /** update: a change to the record that is applied (`update: env CI: 1 → 2`). */
  | { readonly _tag: 'update'; readonly change: string }
  /** update: a change that cannot be made to a live bottle (`not applied: network … (relaunch to apply)`). */
  | { readonly _tag: 'notApplied'; readonly change: string }
  /** update: the record already says what the manifest and flags say; nothing is written. */
  | { readonly _tag: 'nothingToUpdate'; readonly bottle: string }
  /**
   * How the agent signs in (src/auth.ts): `token`, with the sign-in secrets the bottle has (none:
   * it will not be signed in); `shared`, with the host directory mounted as its config directory.
   */
  | { readonly _tag: 'signIn'; readonly how: 'token' | 'shared'; readonly secrets: readonly string[]; readonly dir: string | null }
  /** Any other fact: the sentence itself. */
  | { readonly _tag: 'info'; readonly text: string }

/** The plan format's version: a saved plan of another version is refused, not guessed at. */
export const planVersion = 1

export interface Plan {
  readonly version: typeof planVersion
  readonly op: OpName
  readonly backend: BackendName
  /** The bottle's name; empty for `ls`. */
  readonly bottle: string
  readonly steps: readonly Step[]
  /** Every secret any step needs from the host env: checked before the first step runs. */
  readonly secrets: readonly string[]
  /**
   * Facts for people: why this backend, what a tolerated failure means, and so on. Typed values:
   * src/plan/render.ts alone makes them text, and code acts on a note by its tag, never its words.
   */
  readonly notes: readonly Note[]
  /**
   * Which step's exit code becomes `bottle run`'s: the guest command's for agent/exec/resume.
   * Null: 0 when every step succeeded.
   */
  readonly exitCodeFrom: number | null
  /**
   * The bottle's launch record the plan was compiled against (src/plan/basis.ts), set by the CLI
   * in the JSON of an op on one bottle (the form a plan is saved in): a saved plan is refused once
   * the bottle no longer matches it. Absent elsewhere, and for ls and down --all, which name no
   * one bottle.
   */
  readonly basis?: PlanBasis
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

export const plain = (name: string, value: string): EnvVar => ({ _tag: 'plain', name, value })
export const secret = (name: string): EnvVar => ({ _tag: 'secret', name })
/** A secret handed over under another name: `name` gets the value of the host's `from`. */
export const secretAs = (name: string, from: string): EnvVar =>
  name === from ? secret(name) : { _tag: 'secret', name, from }
/** The host env var a secret's value comes from. */
export const secretSource = (v: EnvVar & { _tag: 'secret' }): string => v.from ?? v.name

export const info = (text: string): Note => ({ _tag: 'info', text })

/** The client's host variables (src/plan/client-env.ts): what backend CLIs need to find their daemon or state. */
export const inheritEnv: ProcessEnv = { inheritHost: true, vars: [] }

export const noStdin: Stdin = { _tag: 'none' }

/**
 * The empty list every step without tolerated failures or undo shares: a plan is never changed
 * once made (frozen, so nothing can), and a launch makes a score of steps.
 */
const noneOf: readonly never[] = Object.freeze([])

/** A step with the common defaults: the client's host variables, quiet, no stdin, nothing tolerated, no undo. */
export const step = (title: string, argv: readonly string[], more: Partial<Step> = {}): Step => ({
  title,
  argv,
  env: inheritEnv,
  stdio: 'quiet',
  stdin: noStdin,
  tolerate: noneOf,
  undo: noneOf,
  ...more,
})

/** A launch id: 16 lower-case hex digits (what `od -An -N8 -tx1 /dev/urandom` gives in sh). */
export const launchIdPattern = /^[0-9a-f]{16}$/

/** How `bottle plan` shows the launch id slot: the value exists only when the plan runs. */
export const launchIdShown = '<launch id>'

/** The step's argv with the launch id in its slots: `id` is the value, or how a rendering shows it. */
export const withLaunchId = (s: Step, id: string): readonly string[] =>
  s.launchId === undefined || s.launchId.length === 0 ? s.argv : s.argv.map((a, i) => (s.launchId?.includes(i) ? `${a}${id}` : a))

/** Every step and nested step (undo, on-interrupt, pane) of a plan, depth first. */
export const allSteps = (steps: readonly Step[]): Step[] =>
  steps.flatMap((s) => [s, ...allSteps(s.undo), ...allSteps(s.onInterrupt ?? []), ...(s.pane === undefined ? [] : allSteps([s.pane]))])

/** The step has a launch id slot: in its argv, or in the JSON it writes to its stdin. */
export const stepUsesLaunchId = (s: Step): boolean =>
  (s.launchId?.length ?? 0) > 0 || (s.stdin._tag === 'json' && (s.stdin.launchId?.length ?? 0) > 0)

/** The plan needs a launch id when it runs. */
export const usesLaunchId = (plan: Plan): boolean => allSteps(plan.steps).some(stepUsesLaunchId)

/** Fails to compile when a union gains a member that a switch does not handle. */
export const absurd = (x: never): never => {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`)
}
