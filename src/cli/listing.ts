/**
 * Everything that lists before it plans: `ls`, `down --all` (the plan must name what it will
 * remove) and `--check-drift`. Each runs the backend's read-only list plan and reads its output;
 * a backend that cannot be listed is one line, and the others are still listed.
 *
 *   await listOrReap(request, cli)   // `bottle ls`'s exit code, the table or JSON on stdout
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, BottleRow, ClusterScope, HostFacts } from '../backends/backend.js'
import { backends, detectionOrder } from '../backends/index.js'
import { compile, compileDoorList } from '../compile.js'
import { type Surroundings, onPath, proxyCommand, readHostFacts } from '../host.js'
import type { Outcome } from '../interpret.js'
import { type ListedBottle, driftAgainst, driftFor, driftSentence, renderLsJson, renderLsText } from '../ls.js'
import { hashAndEncode, recordOf } from '../bottle-spec/record.js'
import { oneLine } from '../plan/errors.js'
import { type Format, render } from '../plan/render.js'
import { type BackendName, type Note, type Plan, info } from '../plan/types.js'
import type { Request } from './request.js'
import { type BottleSpec, resolveSpec } from '../bottle-spec/spec.js'
import { type Checked, bottleName } from '../bottle-spec/validate.js'
import type { Io, Cli } from './io.js'
import { exitInvalid, exitMissingBinary, exitCannotExecute, exitBackendFailed, missingBinaryMessage, tooBigMessage, timedOutReason } from './exit.js'
import { fail, scopeFlags, clusterFlagsFit, namedBackend, clusterOf } from './spec-layers.js'
import { bottlesWithRunningProxy, loadManifest, readRecorded } from './reads.js'
import { runAndSay } from './run.js'

/** ls and down --all look at the backend given with -b, else at every backend on PATH. */
const backendsToList = (flag: string | undefined, env: Io['env']): Checked<{ backends: Backend[]; why: string }> => {
  if (flag !== undefined) return namedBackend(flag, (backend) => ({ backends: [backend], why: 'given with -b' }))
  // Installed is enough here, unlike auto-detection for one bottle: a docker client whose engine
  // is down should say so in `ls`, not hide that engine's bottles.
  const found = detectionOrder.filter((b) => onPath(backends[b].binary, env.PATH)).map((b) => backends[b])
  return found.length === 0
    ? fail(`no backend found: none of ${detectionOrder.join(', ')} is on PATH; install one, or pass -b`)
    : E.right({ backends: found, why: 'on PATH (without -b, every backend on PATH is listed)' })
}

/**
 * What listing needs to know about the host: the backend's own facts (bwrap: where its bottles,
 * host directories, are); kubernetes, which cluster and namespace to look in.
 */
const listingHost = (backend: Backend, host: Surroundings, cluster: ClusterScope): HostFacts =>
  readHostFacts([], backend.hostFacts?.(null, host) ?? {}, cluster, host)

export type Listing =
  | { readonly _tag: 'rows'; readonly rows: readonly BottleRow[] }
  /** Not listed: `reason` is one clause for people; `code` the exit code it stands for. */
  | { readonly _tag: 'failed'; readonly code: number; readonly reason: string }

/** The most of a backend's own message that goes into bottle's one line. */
const reasonLimit = 300

/**
 * Why a listing failed, in one clause: the last line the backend's tool wrote on stderr (docker:
 * "Cannot connect to the Docker daemon at …"), else its exit code.
 */
const listingFailure = (outcome: Outcome): { code: number; reason: string } => {
  switch (outcome._tag) {
    case 'exited':
      return { code: exitBackendFailed, reason: `the listing exited with code ${outcome.code}` }
    case 'stepFailed': {
      const said = [outcome.stdout, outcome.stderr].flatMap((t) => t.split('\n')).map((l) => l.trim()).filter((l) => l !== '')
      const last = said.at(-1)
      const reason = last === undefined ? `the listing exited with code ${outcome.code}` : last.length > reasonLimit ? `${last.slice(0, reasonLimit)}…` : last
      return { code: exitBackendFailed, reason: oneLine(reason) }
    }
    case 'timedOut':
      return { code: exitBackendFailed, reason: timedOutReason(outcome) }
    case 'missingBinary':
      return outcome.error === 'EACCES'
        ? { code: exitCannotExecute, reason: `${outcome.binary} cannot be run: permission denied` }
        : { code: exitMissingBinary, reason: missingBinaryMessage(outcome.binary).replace(/^bottle: /, '') }
    case 'missingSecrets':
      return { code: exitInvalid, reason: `secrets ${outcome.names.join(', ')} are not set` }
    case 'oversizedSecrets':
      return { code: exitInvalid, reason: `secrets ${outcome.names.join(', ')} are too big for exec` }
    case 'tooBigForExec':
      return { code: exitCannotExecute, reason: tooBigMessage(outcome).replace(/^bottle: /, '') }
    case 'backendFailed':
      return { code: exitBackendFailed, reason: oneLine(outcome.detail) }
  }
}

/**
 * Runs the backend's list plan (read-only, each step with its time limit) and parses what it
 * printed. A failure is returned, not printed: the caller says it in one line, beside the others.
 */
export const listOn = async (backend: Backend, io: Cli, cluster: ClusterScope): Promise<Listing> => {
  const { runPlan } = await import('../spawn.js')
  // Silent: a listing creates nothing to undo, and what a failed one said comes back in its
  // outcome, to become one line beside the other backends'.
  const outcome = await runPlan(listPlan(backend, listingHost(backend, io.host, cluster)), { hostEnv: io.env, onEvent: () => {} })
  if (outcome._tag !== 'exited' || outcome.code !== 0) return { _tag: 'failed', ...listingFailure(outcome) }
  const stdout = outcome.captured?.at(-1) ?? ''
  const parsed = backend.parseList(stdout)
  // Entries the backend could not read are skipped, each with a line, and the rest still listed.
  for (const w of backend.listWarnings?.(stdout) ?? []) io.err(`bottle: warning: ${oneLine(w)}`)
  if (E.isLeft(parsed)) return { _tag: 'failed', code: exitBackendFailed, reason: `its listing cannot be read: ${parsed.left.message}` }
  // Sorted by name, so the order does not depend on when each bottle was created.
  return { _tag: 'rows', rows: [...parsed.right].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) }
}

/** Where to see the listing's exact argv, which is long (docker's is a whole template). */
const seeListing = (backend: Backend): string => `read-only; \`bottle plan ls -b ${backend.name}\` shows the command`

/**
 * --check-drift: a plan note saying whether the live bottle still carries the spec hash of the
 * spec this op runs with (its launch record, and this command's flags). `plan` runs nothing
 * unless asked; this is the asking.
 */
export const checkDrift = async (backend: Backend, spec: BottleSpec, io: Cli): Promise<Note> => {
  const how = `(${seeListing(backend)})`
  const live = (text: string): Note => ({ _tag: 'drift', against: 'live', text })
  const listed = await listOn(backend, io, clusterOf(spec))
  if (listed._tag === 'failed') return live(`not checked: listing the bottles on ${backend.name} failed: ${listed.reason} ${how}`)
  const found = listed.rows.find((r) => r.name === spec.name)
  if (found === undefined) return live(`${spec.name} was not found on ${backend.name} ${how}`)
  const row = withRecord(found, io.host)
  return live(`${driftSentence(spec.name, backend.name, 'this spec', driftAgainst(row, spec))} ${how}`)
}

/**
 * A listed bottle with its launch record read (a file read): the recorded spec in the form
 * drift compares, and the image when the backend does not report one (bwrap).
 */
export const withRecord = (row: BottleRow, host: Surroundings): BottleRow => {
  const cwd = host.cwd
  const recorded = readRecorded(host, row.backend, row.name)
  if (E.isLeft(recorded) || recorded.right._tag === 'absent') return row
  const spec = resolveSpec({ name: row.name, fromManifest: recorded.right.layer, fromFlags: {}, cwd })
  if (E.isLeft(spec)) return row
  const r = recordOf(spec.right, backends[row.backend].defaultImage)
  // The labels keep the hash the bottle was launched with, and a container's labels cannot
  // change; `update` rewrites the record, which is what the bottle runs with: its hash counts.
  const { hash, encoded } = hashAndEncode(r)
  return { ...row, specHash: hash, spec: encoded, image: row.image ?? r.image }
}

/**
 * Several backends' plans: one plan as usual with -b; without it, the text plans one after another
 * and the JSON ones as an array (the shape follows the flags, not what is installed). A script
 * runs one plan: sh with several backends is refused before anything runs.
 */
const renderPlans = (plans: readonly Plan[], format: Format, single: boolean): string =>
  single && plans.length === 1
    ? render(plans[0] as Plan, format)
    : format === 'json'
      ? `${JSON.stringify(plans, null, 2)}\n`
      : plans.map((p) => render(p, format)).join('\n')

const withNote = (p: Plan, note: Note): Plan => ({ ...p, notes: [...p.notes, note] })

/** The plan of ls on a backend: it names no bottle, so it has no spec, and it cannot be refused. */
const listPlan = (backend: Backend, host: HostFacts): Plan => {
  const p = compile(backend, null, { _tag: 'ls' }, host)
  if (E.isLeft(p)) throw new Error(`ls on ${backend.name} was refused: ${p.left.message}`)
  return p.right
}

/** `ls` and `down --all`: everything that lists before it plans. */
export const listOrReap = async (req: Request, io: Cli): Promise<number> => {
  const reap = req.op === 'down'
  if (reap && req.positional.length > 0) {
    io.err('bottle: down --all takes no bottle name')
    return exitInvalid
  }
  const single = req.flags.backend !== undefined
  // Without -b, cluster flags are refused before looking at PATH: no backend listed would take them.
  const early = single ? E.right(null) : clusterFlagsFit(req.flags, null)
  const chosen = E.isLeft(early) ? early : backendsToList(req.flags.backend, io.env)
  if (E.isLeft(chosen)) {
    io.err(`bottle: ${chosen.left.message}`)
    return exitInvalid
  }
  const { backends: targets, why } = chosen.right
  const fits = single ? clusterFlagsFit(req.flags, targets[0] ?? null) : E.right(null)
  const cluster = E.isLeft(fits) ? fits : scopeFlags(req.flags)
  if (E.isLeft(cluster)) {
    io.err(`bottle: ${cluster.left.message}`)
    return exitInvalid
  }
  const format = req.flags.format as Format
  if (req.mode === 'plan' && format === 'sh' && !single && targets.length > 1) {
    io.err(`bottle: --format sh prints one backend's script, and ${targets.map((b) => b.name).join(' and ')} are on PATH: pass -b`)
    return exitInvalid
  }
  if (!reap) {
    if (req.mode === 'plan') {
      io.out(renderPlans(targets.map((b) => withNote(listPlan(b, listingHost(b, io.host, cluster.right)), { _tag: 'backend', backend: b.name, why })), format, single))
      return 0
    }
    return listBottles(req, io, targets, cluster.right)
  }
  // down --all: the plan must show exactly what would be deleted, so even `plan` lists first.
  // A backend that cannot be listed is one line, and the others are still cleaned up; the exit
  // code still says that something may be left (on that backend).
  let code = 0
  const plans: Plan[] = []
  for (const b of targets) {
    const listed = await listOn(b, io, cluster.right)
    if (listed._tag === 'failed') {
      io.err(notListedLine(b, listed.reason))
      code ||= listed.code
      continue
    }
    const all = listed.rows.map((r) => r.name)
    const left = await leftBehind(b, io, cluster.right)
    if (left._tag === 'failed') {
      io.err(`bottle: cannot list the ${b.name} egress proxies of bottles that are gone: ${left.reason}`)
      code ||= left.code
    }
    const gone = left._tag === 'failed' ? [] : left.names.filter((n) => !all.includes(n))
    const planned = compile(b, null, { _tag: 'down', all, gone }, { ...listingHost(b, io.host, cluster.right), egress: proxyCommand() })
    if (E.isLeft(planned)) {
      io.err(`bottle: ${b.name}: ${planned.left.message}`)
      code ||= exitInvalid
      continue
    }
    const p = withNote(
      withNote(planned.right, { _tag: 'backend', backend: b.name, why }),
      info(`the bottles to remove were found by listing just now (${seeListing(b)}); bottle run down --all lists again and removes what it finds then`),
    )
    if (req.mode === 'plan') plans.push(p)
    else {
      code ||= await runAndSay(p, req.flags.quiet === true, io)
    }
  }
  if (req.mode === 'plan' && plans.length > 0) io.out(renderPlans(plans, format, single))
  return code
}

/**
 * The bottles that have something of bottle's left besides what the backend lists as bottles: on
 * kubernetes, door objects (listed by their label, read-only); elsewhere an egress proxy still
 * running on the host. down --all removes (kubernetes) or stops (host proxy) what is left of those
 * the listing no longer has. A failure is returned, to be said in one line.
 */
const leftBehind = async (backend: Backend, io: Cli, cluster: ClusterScope): Promise<{ _tag: 'names'; names: readonly string[] } | Extract<Listing, { _tag: 'failed' }>> => {
  const doors = compileDoorList(backend, listingHost(backend, io.host, cluster))
  if (doors === null || backend.ownProxy === undefined) return { _tag: 'names', names: backend.bottlesAreStateDirs === true ? [] : bottlesWithRunningProxy(io.host, backend.name) }
  const { runPlan } = await import('../spawn.js')
  const outcome = await runPlan(doors, { hostEnv: io.env, onEvent: () => {} })
  if (outcome._tag !== 'exited' || outcome.code !== 0) return { _tag: 'failed', ...listingFailure(outcome) }
  const parsed = backend.ownProxy.parseList(outcome.captured?.at(-1) ?? '')
  if (E.isLeft(parsed)) return { _tag: 'failed', code: exitBackendFailed, reason: `its listing cannot be read: ${parsed.left.message}` }
  // A label anyone with access could set: a value that cannot be a bottle's name is skipped, said.
  const names = parsed.right.filter((n) => {
    const ok = E.isRight(bottleName(n))
    if (!ok) io.err(`bottle: warning: an egress proxy object is labelled for ${oneLine(JSON.stringify(n))}, which is no bottle name; left alone`)
    return ok
  })
  return { _tag: 'names', names }
}

/** One line for a backend that could not be listed: which, and why. */
const notListedLine = (b: Backend, reason: string): string => `bottle: cannot list the ${b.name} bottles: ${reason}`

/**
 * `bottle ls`: list each backend, compare with the manifest, print. A backend that cannot be
 * listed (no engine, no answer within the time limit) is one line and an `unreachable` entry; the
 * others are listed. The exit code is that backend's failure when it was the only one asked for
 * (-b), or when no backend could be listed at all; otherwise 0.
 */
const listBottles = async (req: Request, io: Cli, targets: readonly Backend[], cluster: ClusterScope): Promise<number> => {
  const cwd = io.host.cwd
  const manifest = await loadManifest(req.flags.file, cwd)
  if (E.isLeft(manifest)) {
    io.err(`bottle: ${manifest.left.message}`)
    return exitInvalid
  }
  // The clock was read once, by main; everything below gets `now`.
  const now = io.host.now
  const failures: { backend: BackendName; reason: string; code: number }[] = []
  const listed: ListedBottle[] = []
  // All at once: each backend's time limit then bounds the whole listing, not their sum.
  const results = await Promise.all(targets.map((b) => listOn(b, io, cluster)))
  for (const [i, l] of results.entries()) {
    const b = targets[i] as Backend
    if (l._tag === 'failed') {
      io.err(notListedLine(b, l.reason))
      failures.push({ backend: b.name, reason: l.reason, code: l.code })
    } else
      listed.push(...l.rows.map((r) => withRecord(r, io.host)).map((row) => ({ ...row, drift: driftFor(row, manifest.right, cwd) })))
  }
  const source = manifest.right?.file ?? 'the manifest'
  const unreachable = failures.map(({ backend, reason }) => ({ backend, reason }))
  io.out(req.flags.json === true ? renderLsJson(listed, unreachable, now, source) : renderLsText(listed, now, source))
  return failures.length === targets.length ? (failures[0]?.code ?? 0) : 0
}
