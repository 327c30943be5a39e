/**
 * A Request for one bottle → its Plan: reads the manifest and the launch record, picks the
 * backend, checks the workdir and prompt, reads the backend's host facts, and compiles.
 *
 *   await planFor(request, cli)   // Right(plan), or Left(one-line CompileError): exit 2, nothing run
 */
import * as E from 'fp-ts/lib/Either.js'
import { basisOfLayer, unlaunched } from '../plan/basis.js'
import { compile, copyOutPaths } from '../compile.js'
import { promptFileProblem, readEgressFacts, readFetchFacts, readGitDirFacts, readHostFacts, readWorkdirFacts, readWorkspaceFacts } from '../host.js'
import { bindsHostWorkdir, workspaceOf } from '../workspace.js'
import { gitGuard } from '../workspace-guard.js'
import { doorOf, egressDir } from '../backends/egress.js'
import { show } from '../plan/errors.js'
import { type BackendName, type Note, type Plan, backendNames } from '../plan/types.js'
import type { Request } from './request.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import type { Checked } from '../bottle-spec/validate.js'
import { workdirRefusal } from '../workdir.js'
import type { Cli } from './io.js'
import { fail, flagLayer, clusterFlagsFit, chooseBackend, cpSides, toOperation, entryOf, specFor, updateSpecs, clusterOf } from './spec-layers.js'
import { loadManifest, readRecorded } from './reads.js'
import { checkDrift } from './listing.js'

/** Everything up to the plan; reads the host (cwd, manifest, launch record, stat of named paths) once. */
export const planFor = async (req: Request, io: Cli): Promise<Checked<Plan>> => {
  const cwd = io.host.cwd
  const name = req.positional[0]
  const manifest = await loadManifest(req.flags.file, cwd)
  // A launched bottle runs with its launch record. A manifest that no longer reads (the agent in
  // the bottle can write ./bottle.yaml) must not lock the user out of their bottle, down included:
  // it becomes a warning. launch and update read the manifest, so for them it stays an error.
  const unreadable = E.isLeft(manifest) && name !== undefined ? launchedDespite(manifest.left.message, req, name, io) : null
  if (E.isLeft(manifest) && unreadable === null) return manifest
  const m = E.isLeft(manifest) ? null : manifest.right
  // ls and down --all list first (listOrReap); every other op names one bottle.
  if (name === undefined) return fail(req.op === 'down' ? 'down needs a bottle name, or --all' : `${req.op} needs a bottle name`)
  const flags = flagLayer(req.flags, cwd)
  if (E.isLeft(flags)) return flags
  const entry = entryOf(m, name)
  const chosen = chooseBackend(req.flags.backend ?? unreadable?.backend, entry?.backend ?? m?.backend, io.env)
  if (E.isLeft(chosen)) return chosen
  const backend = chosen.right.backend
  const fits = clusterFlagsFit(req.flags, backend)
  if (E.isLeft(fits)) return fits
  const recorded = readRecorded(io.host, backend.name, name)
  if (E.isLeft(recorded)) return recorded
  if (req.op === 'cp') {
    const sides = cpSides(req.positional[1] ?? '', req.positional[2] ?? '', cwd)
    if (E.isLeft(sides)) return sides
  }
  const resolved =
    req.op === 'update'
      ? updateSpecs(m, name, backend, flags.right, recorded.right, cwd)
      : E.map((r: { spec: BottleSpec; notes: Note[] }) => ({ ...r, op: toOperation(req, cwd, io.env) }))(specFor(req, m, name, backend, flags.right, recorded.right, cwd))
  if (E.isLeft(resolved)) return resolved
  const { spec, op } = resolved.right
  if (op === null) return fail('internal: ls has no bottle')
  // Launch binds the workdir into the bottle for its whole life (unless it copies: src/workspace.ts); later ops use the recorded one.
  const binds = bindsHostWorkdir(backend, spec)
  if (op._tag === 'launch' && binds) {
    const { workdir, guard } = readWorkdirFacts(spec.workdir, io.host)
    const refused = workdirRefusal(workdir, guard)
    if (refused !== null) return fail(refused)
  }
  // Launch binds the workdir's .git read-only over itself (src/workspace-guard.ts).
  const git = op._tag === 'launch' && binds ? gitGuard(readGitDirFacts(spec.workdir), backend.bindsDirsOnly === true ? backend.name : null) : null
  if (git !== null && git._tag === 'refused') return fail(git.reason)
  // workspace: copy: the repository the workdir is in goes into the bottle whole, so it is held to what a bound workdir is.
  const workspace = op._tag === 'launch' && workspaceOf(backend, spec) === 'copy' ? readWorkspaceFacts(spec.workdir) : null
  if (workspace?.repo != null) {
    const { workdir, guard } = readWorkdirFacts(workspace.repo, io.host)
    const refused = workdirRefusal(workdir, guard)
    if (refused !== null) return fail(`workspace: copy would copy the repository ${show(workspace.repo)}, which is refused as a workdir would be: ${refused}`)
  }
  // The prompt launch or update copies in: a FIFO would hang the copy, /dev/zero fill the bottle.
  const copiedPrompt = op._tag === 'launch' ? spec.prompt : op._tag === 'update' && op.declared.prompt !== spec.prompt ? op.declared.prompt : null
  const promptProblem = copiedPrompt === null ? null : promptFileProblem(copiedPrompt)
  if (promptProblem !== null) return fail(`prompt file ${show(copiedPrompt ?? '')} ${promptProblem}`)
  const named = [spec.prompt, op._tag === 'cp' && op.out !== true ? op.source : null, op._tag === 'update' ? op.declared.prompt : null].filter((p): p is string => p !== null)
  // A backend that keeps its bottles on the host (bwrap) reads what it needs of it; others read nothing.
  const own = backend.hostFacts?.({ name, image: spec.image, users: [spec.user, ...(op._tag === 'exec' && op.user !== null ? [op.user] : [])] }, io.host)
  // cp out: what is at the destination, its parent, and the path the copy would take in it.
  const landing = op._tag === 'cp' && op.out === true ? copyOutPaths(op.source, op.dest) : []
  const facts = readHostFacts(named, own ?? {}, clusterOf(spec), io.host, landing)
  // Only a bottle with a door needs to know how to start its proxy, and whether it runs (file reads).
  const egress = doorOf(spec) === null ? null : readEgressFacts(egressDir(backend.name, spec, facts))
  const guarded = git !== null
    ? { ...facts, gitGuard: git.paths }
    : workspace !== null
      ? { ...facts, workspace }
      : op._tag === 'fetch' ? { ...facts, fetch: readFetchFacts(cwd, spec.workdir, binds) } : facts
  const compiled = compile(backend, spec, op, egress === null ? guarded : { ...guarded, egress })
  if (E.isLeft(compiled)) return compiled
  if (op._tag === 'launch' && recorded.right._tag === 'recorded')
    return fail(`${name} is launched already on ${backend.name} (its launch record is ${recorded.right.path}); take it down first: bottle run down ${name}`)
  const p = compiled.right
  const checked = req.flags.checkDrift === true ? [await checkDrift(backend, spec, io)] : []
  const why = unreadable !== null && req.flags.backend === undefined ? `the one backend with a launch record of ${name}` : chosen.right.why
  const chosenNote: Note = { _tag: 'backend', backend: p.backend, why }
  const notes = [...p.notes, chosenNote, ...(unreadable === null ? [] : [unreadable.note]), ...resolved.right.notes, ...checked]
  // What a saved copy of this plan checks the bottle against before it runs (src/saved-plan.ts):
  // only in the JSON a plan is saved as, since its spec hash loads node:crypto.
  if (!(req.mode === 'plan' && req.flags.format === 'json')) return E.right({ ...p, notes })
  const basis = recorded.right._tag === 'absent' ? E.right(unlaunched) : basisOfLayer(recorded.right.layer, name, backend.defaultImage, cwd)
  return E.isLeft(basis) ? basis : E.right({ ...p, notes, basis: basis.right })
}

/**
 * When the manifest does not read: the backend of the one launch record this bottle has (the one
 * -b names, else the only backend that has a record of that name), and the warning the plan
 * carries; null when the op needs the manifest or no single launched bottle answers to the name.
 */
const launchedDespite = (problem: string, req: Request, name: string, io: Cli): { backend: BackendName; note: Note } | null => {
  if (req.op === 'launch' || req.op === 'update') return null
  const candidates = req.flags.backend === undefined ? backendNames : backendNames.filter((b) => b === req.flags.backend)
  const launched = candidates.filter((b) => {
    const r = readRecorded(io.host, b, name)
    return E.isRight(r) && r.right._tag === 'recorded'
  })
  const [backend] = launched
  if (backend === undefined || launched.length > 1) return null
  const text = `${problem}; ${name} runs with its launch record, and the manifest is not read`
  return { backend, note: { _tag: 'drift', against: 'manifest', text } }
}
