/**
 * Launch records for tests that plan ops on a bottle without running a launch: the record a
 * launch plan would write, written as its step would (mode 600), from the plan itself.
 *
 *   writeRecordOf(launchPlan)   // STATE_ROOT/docker/demo/record.json, as `bottle run launch` leaves it
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import type { Plan, Step } from '../src/plan/types.js'

/** The launch plan's step that writes the record: `sh -c SCRIPT sh DIR`, the record on stdin. */
export const recordStep = (plan: Plan): Step => {
  const s = plan.steps.find((st) => st.title.startsWith('record the spec the bottle is launched with'))
  if (s === undefined) throw new Error(`the ${plan.op} plan has no record step`)
  return s
}

/** Writes what the plan's record step would, where it would. */
export const writeRecordOf = (plan: Plan): string => {
  const s = recordStep(plan)
  const dir = s.argv[4]
  if (dir === undefined || s.stdin._tag !== 'text') throw new Error('the record step is not sh -c SCRIPT sh DIR with text on stdin')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  writeFileSync(`${dir}/record.json`, s.stdin.text, { mode: 0o600 })
  return `${dir}/record.json`
}

/** The steps bottle adds to every backend's launch and down for the launch record (tested in tests/bottle-spec/launch-record.test.ts). */
export const isRecordStep = (s: Step): boolean =>
  s.title.startsWith('record the spec the bottle is launched with') || s.title.startsWith('forget the launch record')

/** A backend's own steps: the plan's, without the launch record's. */
export const backendSteps = (plan: Plan): Step[] => plan.steps.filter((s) => !isRecordStep(s))

/**
 * The steps bottle adds for the egress door of a bottle with an allow-list (src/backends/egress.ts,
 * tested in tests/egress-wire/): the host proxy's start, stop and directory, and the relay's start
 * in a long-lived guest (plumbing, as root).
 */
export const isDoorStep = (s: Step): boolean =>
  (s.argv[1]?.endsWith('egress-proxy.js') === true && (s.argv[2] === 'start' || s.argv[2] === 'stop')) ||
  s.title.startsWith("remove the egress proxy's directory") ||
  s.title.startsWith('start the relay to the egress proxy') ||
  // podman checks a bind's source at create: the socket directory is made before, with its undo.
  s.title.startsWith('make the egress socket directory first') ||
  s.title.startsWith('remove the egress socket directory of')

/** The steps of a plan that are not the door's. */
export const withoutDoor = (steps: readonly Step[]): Step[] => steps.filter((s) => !isDoorStep(s))
