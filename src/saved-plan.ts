/**
 * `bottle run --plan FILE`: run a plan saved with `bottle plan OP … --format json > FILE`, and
 * nothing else: no manifest is read and nothing is compiled again (as `terraform apply PLANFILE`
 * applies the plan that was reviewed). Before the first step, each of these refuses the plan with
 * one line and exit 2, having started no process:
 * - a file bottle will not read (not a regular file, too big), or one the bottle's agent can write
 *   (inside the bottle's workdir: the agent could have rewritten what was reviewed);
 * - another plan format version, or a file that does not match schema/plan.schema.json (where:
 *   a JSON Pointer), or one that does not hold together (src/plan/decode.ts);
 * - a stale plan: the bottle's launch record is not the one the plan was made against (what
 *   changed, from the record in the plan and the one on disk: a file read, no listing);
 * - a secret the plan names that the host env does not have.
 *
 *   await runSavedPlan({ file: 'plan.json', quiet: false }, io, host, (plan, quiet) => runAndSay(plan, quiet, io))
 */
import * as E from 'fp-ts/lib/Either.js'
import { realpathSync } from 'node:fs'
import { resolve, sep } from 'node:path'
import { backends } from './backends/index.js'
import { bottleStateDir, decodeLaunchRecord, recordFile } from './bottle-spec/record.js'
import { bottleName } from './bottle-spec/validate.js'
import { type Surroundings, readRecordFile, readRegularFile } from './host.js'
import { type PlanBasis, basisOfLayer, staleness, unlaunched } from './plan/basis.js'
import { decodePlan } from './plan/decode.js'
import { oneLine, show } from './plan/errors.js'
import type { Plan } from './plan/types.js'

/** The exit code of a refused plan: invalid input, nothing run. */
const refusedCode = 2

/**
 * The most bottle reads of a saved plan. The largest plans are launch plans, whose steps carry
 * the launch record and a Kubernetes manifest as stdin: tens of KiB; this is a hundred times more.
 */
export const planFileLimit = 4 * 1024 * 1024

export interface SavedPlanIo {
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A bottle name that can be one path segment below the state root (as the CLI reads records). */
const stateSegment = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/

/** What the bottle's launch record says now: the basis a plan made now would have. Left: why it cannot be told. */
const liveBasis = (plan: Plan, host: Surroundings): E.Either<string, { basis: PlanBasis; workdir: string | null }> => {
  const name = bottleName(plan.bottle)
  if (E.isLeft(name)) return E.left(name.left.message)
  if (!stateSegment.test(plan.bottle)) return E.left(`bottle name ${show(plan.bottle)} cannot name a state directory`)
  const path = `${bottleStateDir(host.stateRoot, plan.backend, plan.bottle)}/${recordFile}`
  const read = readRecordFile(path, host)
  if (read._tag === 'absent') return E.right({ basis: unlaunched, workdir: null })
  if (read._tag === 'refused') return E.left(`the launch record of ${plan.bottle} is refused: ${read.reason}`)
  const layer = decodeLaunchRecord(read.text, plan.backend, plan.bottle)
  if (E.isLeft(layer)) return E.left(`${path}: ${layer.left}`)
  const basis = basisOfLayer(layer.right, plan.bottle, backends[plan.backend].defaultImage, host.cwd)
  return E.isLeft(basis) ? E.left(`${path}: ${basis.left.message}`) : E.right({ basis: basis.right, workdir: layer.right.workdir ?? null })
}

/** The path with its symlinks resolved, or the path itself when it cannot be. */
const real = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`)

/** Why the plan may not run now, in one clause; null: it may. Reads files only. */
const refusal = (plan: Plan, file: string, host: Surroundings): string | null => {
  const env = host.env
  if (plan.op === 'ls') return 'is a listing plan: bottle ls lists (a listing changes nothing, so there is no plan to review)'
  // down --all names no one bottle: its steps remove what its listing found, each tolerating a
  // bottle that is gone already.
  if (plan.bottle !== '') {
    if (plan.basis === undefined) return `does not say which launch of ${plan.bottle} it was made for (no /basis): make it again with bottle plan`
    const live = liveBasis(plan, host)
    if (E.isLeft(live)) return `cannot be checked against ${plan.bottle}: ${live.left}`
    // The bottle's workdir is bound into it: a plan file there may have been rewritten by the agent.
    const workdir = live.right.workdir ?? (plan.basis._tag === 'recorded' ? plan.basis.record.workdir : null)
    if (workdir !== null && inside(real(file), real(workdir)))
      return `is inside the workdir of ${plan.bottle} (${workdir}), which the agent in the bottle can write: save plans outside it`
    const stale = staleness(plan.basis, live.right.basis, plan.bottle, plan.backend)
    if (stale !== null) return `is stale: ${stale}; make it again with bottle plan, and review it`
  }
  const missing = plan.secrets.filter((n) => !(Object.hasOwn(env, n) && typeof env[n] === 'string'))
  if (missing.length > 0)
    return `names the secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, not set in the host environment`
  return null
}

/**
 * Reads, decodes and checks the plan in `--plan FILE`, then hands it to `run` (the same path as
 * `bottle run OP`'s plan): its exit code, or 2 with one line on stderr and nothing run.
 */
export const runSavedPlan = async (
  request: { readonly file: string; readonly quiet: boolean },
  io: SavedPlanIo,
  host: Surroundings,
  run: (plan: Plan, quiet: boolean) => Promise<number>,
): Promise<number> => {
  const refuse = (message: string): number => {
    io.err(oneLine(`bottle: ${message}; nothing was run`))
    return refusedCode
  }
  // The CLI's parser (src/cli/request.ts) has already refused anything but --plan FILE and -q.
  const { file, quiet } = request
  const path = resolve(host.cwd, file)
  const read = readRegularFile(path, planFileLimit)
  if (read._tag === 'missing') return refuse(`plan file ${show(file)} does not exist`)
  if (read._tag === 'refused') return refuse(`plan file ${show(file)} ${read.reason}`)
  const plan = decodePlan(read.text)
  if (E.isLeft(plan)) return refuse(`plan file ${show(file)} ${plan.left}`)
  const refused = refusal(plan.right, path, host)
  if (refused !== null) return refuse(`plan file ${show(file)} ${refused}`)
  return run(plan.right, quiet)
}
