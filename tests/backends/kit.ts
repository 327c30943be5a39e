/**
 * A backend's test kit: what the shared law suite (tests/laws) must know about one backend that
 * its Backend value does not say — an independent decoder of its exec argv, where its CLI puts
 * the user switch and the env, what its launch creates — in one file, tests/backends/NAME.kit.ts,
 * which exports it as `kit`. tests/backends/kits.ts finds every kit.
 *
 *   export const kit: BackendKit = { backend: docker, decode: (step) => decodeDockerExec(step.argv), … }
 */
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import type { Step } from '../../src/plan/types.js'
import type { Scenario } from '../arbitraries.js'
import type { StepDecoder } from '../laws/decode.js'

type Framing = readonly string[]

export interface BackendKit {
  readonly backend: Backend
  /** Reads a guest step back into the intent it was built from (invariant 7), as its CLI would. */
  readonly decode: StepDecoder
  /**
   * What the backend refuses by design, replaced by the nearest input it takes, so that the laws
   * run every backend on the same generated scenarios (its own examples check each refusal).
   */
  readonly fit: (s: Scenario) => Scenario
  /** The user switch sits in the framing, before the tail, whatever the tail says (invariant 4). */
  readonly userSwitchPrecedesTail: (framing: Framing, user: string, bottle: string, host: HostFacts) => boolean
  /** How many times the framing carries the guest env entry K=V (invariant 5: exactly once). */
  readonly envCount: (framing: Framing, k: string, v: string) => number
  /** How many marks in the framing ask for a TTY (invariant 5: one iff interactive). */
  readonly ttyMarks: (framing: Framing) => number
  /**
   * How a guest command gets the host's secrets: forwarded by name from the backend process's env
   * on every exec, or already in the bottle's own env (kubernetes: the Pod's, by secretKeyRef).
   */
  readonly secretsReachGuestVia: 'process env' | 'bottle env'
  /** Whether a launch step creates something that outlives it: the bottle, or a scratch file on the host. */
  readonly createsSomething: (s: Step) => boolean
  /** The host scratch path a launch step leaves behind (a staged copy), if any. */
  readonly scratchMadeBy: (s: Step) => string | undefined
  /** A down step that needs no tolerated failure: idempotent as it stands. */
  readonly idempotentAsIs: (s: Step) => boolean
  /** Its list steps all run its binary (false for bwrap, whose bottles are host directories listed with host tools). */
  readonly listsWithItsBinary: boolean
}

/** `count(xs, x)`: how many times x is in xs. */
export const count = <A>(xs: readonly A[], x: A): number => xs.filter((y) => y === x).length
