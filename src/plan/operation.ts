/**
 * What bottle is asked to do: one `Operation`, the input `compile` turns into a plan.
 *
 *   const op: Operation = { _tag: 'exec', script: 'npm test', user: null }     // on one bottle
 *   const reap: Operation = { _tag: 'down', all: ['demo', 'web'] }           // on a backend's bottles
 *   isBackendOperation(reap)   // true: compiled with no spec
 *
 * Most ops act on one bottle and compile from its spec. `ls` and `down --all` act on what a
 * backend lists and name no bottle, so they have no spec: the two kinds are told apart by type,
 * and compile's signature takes a spec exactly when the op needs one.
 */

import type { PaneMode } from '../attach.js'
import type { BottleSpec } from '../bottle-spec/spec.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** An op on one bottle: compiled from that bottle's spec. */
export type BottleOperation =
  | { readonly _tag: 'launch' }
  /** tty null: decide from the host (a TTY iff stdin is a terminal). */
  | { readonly _tag: 'agent'; readonly args: readonly string[]; readonly tty: boolean | null }
  | { readonly _tag: 'exec'; readonly script: string; readonly user: string | null }
  /** An interactive shell as the bottle's user; tty null: a TTY iff stdin is a terminal. */
  | { readonly _tag: 'shell'; readonly tty: boolean | null }
  /**
   * in (no `out`): a host source to a guest dest. out: the guest path `source` to the host path
   * `dest` (`bottle run cp demo :/home/node/out ./out`); what comes out is untrusted.
   */
  | { readonly _tag: 'cp'; readonly source: string; readonly dest: string; readonly out?: true }
  | { readonly _tag: 'resume'; readonly args: readonly string[]; readonly tty: boolean | null }
  /** The agent (or, with resume, the resume fallback) in a tmux pane; the pane is its terminal. */
  | {
      readonly _tag: 'attach'
      readonly pane: PaneMode
      readonly target: string | null
      /**
       * 'own-pane': no --target was given, and target is the pane bottle runs in ($TMUX_PANE),
       * not tmux's active pane, which may be in another window.
       */
      readonly targetFrom?: 'flag' | 'own-pane'
      readonly resume: boolean
      readonly args: readonly string[]
    }
  /**
   * Record what can change on a live bottle (src/bottle-spec/update.ts). The spec compile gets is the
   * launch record's; `declared` is what the manifest and flags give today, and `recordText` the
   * record file as read, so the rewrite refuses a record that changed since.
   */
  | { readonly _tag: 'update'; readonly declared: BottleSpec; readonly recordText: string }
  /** Run the egress probe in a bottle with a door (src/egress/probe.ts): what launch ends with. */
  | { readonly _tag: 'probe' }
  /** The bottle's commits back as the host branch bottle/NAME (src/fetch.ts). */
  /** maxBundle: --max-bundle as given (checked by compile), null for the default cap. */
  | { readonly _tag: 'fetch'; readonly maxBundle: string | null }
  /** down of the bottle the spec names (`all` is never set: see BackendOperation). */
  | { readonly _tag: 'down'; readonly all?: undefined }

/**
 * An op on the bottles a backend lists: no spec. down --all is `down` with the names a listing
 * found just now (not an op of its own: its plan is a down plan, and `down` is what the user
 * typed); the names come from the backend's listing, so compile checks them like any input.
 */
export type BackendOperation =
  | { readonly _tag: 'ls' }
  /**
   * `gone`: bottles the backend no longer has (removed behind bottle's back: `docker rm -f`, a
   * Pod deleted with kubectl) of which something is left: the host proxy and state, or on
   * kubernetes the door's objects. Only what is left is removed, by bottle's own marks.
   */
  | { readonly _tag: 'down'; readonly all: readonly string[]; readonly gone?: readonly string[] }
  /**
   * `auth import`: the host's own credentials file of `agent` copied into the backend's shared
   * sign-in directory (src/auth.ts); one that is there is kept unless `force`. Host-only: it names
   * no bottle and runs nothing in one, but the directory is the backend's.
   */
  | { readonly _tag: 'auth'; readonly action: 'import'; readonly agent: 'claude' | 'codex'; readonly force: boolean }

export type Operation = BottleOperation | BackendOperation

/** The name of an op, as the CLI spells it and a plan records it. */
export type OpName = Operation['_tag']

/**
 * Every op name, in the order help lists them: the argv parser needs the list as a value.
 * `satisfies` keeps out a name that is no op; `OpNamesComplete` fails to compile when an op is
 * missing from it.
 */
export const opNames = ['launch', 'agent', 'exec', 'shell', 'cp', 'resume', 'attach', 'update', 'probe', 'fetch', 'down', 'ls', 'auth'] as const satisfies readonly OpName[]

type IsTrue<T extends true> = T
/** Compiles only while opNames lists every member of Operation. */
export type OpNamesComplete = IsTrue<[Exclude<OpName, (typeof opNames)[number]>] extends [never] ? true : false>

// -------------------------------------------------------------------------------------------------
// guards
// -------------------------------------------------------------------------------------------------

/** The op names no bottle: it is compiled from what the backend lists, with no spec. */
export const isBackendOperation = (op: Operation): op is BackendOperation =>
  op._tag === 'ls' || op._tag === 'auth' || (op._tag === 'down' && op.all !== undefined)
