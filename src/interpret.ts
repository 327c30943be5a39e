/**
 * The interpreter: the only module that spawns. It executes a plan's fields and decides nothing.
 *
 *   const outcome = await interpret(plan, { hostEnv: process.env, quiet: false, log })
 *   // { _tag: 'exited', code: 42 }  — the guest command's exit code
 *
 * One primitive, `runStep`, spawns one step; `interpret` runs the steps in order, keeps the undo
 * stack, and rolls back (newest first) when a step fails or SIGINT/SIGTERM arrives. Secret values
 * are read from `hostEnv` here and handed to the backend process through its environment only.
 */
import { type ResultPromise, execa } from 'execa'
import { constants } from 'node:os'
import { fillJson, jsonParts } from './plan/json.js'
import { progressLine } from './plan/render.js'
import { type Plan, type Stdin, type Step, absurd, runIdMark, secretSource } from './plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export interface RunContext {
  /** The host environment, read once at the CLI edge. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  /** No progress lines. */
  readonly quiet: boolean
  /** Where bottle's own messages go (stderr). */
  readonly log: (line: string) => void
  /** This run's id, for the argv words a step's `runIdAt` names; interpret makes a fresh one. */
  readonly runId?: string
}

export type Outcome =
  /**
   * Every step ran, or the guest command ran: this is `bottle run`'s exit code. `captured` holds
   * the stdout of each `capture` step that succeeded, in step order; it is there only when the plan
   * has such steps (ls reads it), so every other outcome keeps its plain shape.
   */
  | { readonly _tag: 'exited'; readonly code: number; readonly captured?: readonly string[] }
  /** Secrets the plan needs are not in the host env; nothing ran. */
  | { readonly _tag: 'missingSecrets'; readonly names: readonly string[] }
  /**
   * A step's program could not be started: not installed (ENOENT), or found but not executable
   * (EACCES); what was created before it has been undone.
   */
  | { readonly _tag: 'missingBinary'; readonly binary: string; readonly error: string }
  /**
   * The guest step exited with a code its backend client also uses for its own failures, and the
   * live check says the bottle is not there and running: the code was the backend's. `detail`
   * is what the check found (its first line of stderr, or the state it printed), redacted.
   */
  | { readonly _tag: 'backendFailed'; readonly backend: string; readonly bottle: string; readonly code: number; readonly detail: string }

export interface StepResult {
  /** Exit code, 128+n for a signal, or null when the program could not be started. */
  readonly code: number | null
  /** The spawn error's code (ENOENT, EACCES) when the program could not be started. */
  readonly spawnError: string | null
  /** The program was ended by a signal rather than exiting by itself. */
  readonly bySignal: boolean
  readonly stdout: string
  readonly stderr: string
}

// -------------------------------------------------------------------------------------------------
// the primitive
// -------------------------------------------------------------------------------------------------

/** The environment of the spawned process: host env or nothing, then the step's vars. */
export const processEnv = (s: Step, hostEnv: RunContext['hostEnv']): Record<string, string> => {
  const env: Record<string, string> = {}
  if (s.env.inheritHost) for (const [k, v] of Object.entries(hostEnv)) if (v !== undefined) env[k] = v
  for (const v of s.env.vars) {
    const value = v._tag === 'plain' ? v.value : hostEnv[secretSource(v)]
    if (value !== undefined) env[v.name] = value
  }
  return env
}

/** What a step writes to the program's stdin: for a `json` stdin, secret values go in here. */
const stdinText = (stdin: Stdin, hostEnv: RunContext['hostEnv']): string | null => {
  switch (stdin._tag) {
    case 'none':
      return null
    case 'text':
      return stdin.text
    case 'json':
      return fillJson(jsonParts(stdin.document, stdin.secrets), (name) => {
        const value = hostEnv[name]
        // interpret checks plan.secrets, which lists every slot's name, before the first step.
        if (value === undefined) throw new Error(`secret ${name} is not in the host env: a missing check`)
        return value
      })
    default:
      return absurd(stdin)
  }
}

/**
 * Shows secret values in a program's captured output by name: a backend CLI that quotes its
 * input in an error message must not put a value in bottle's log. Both as the value is and as a
 * JSON string holds it (how a `json` stdin sends it).
 */
export const redact = (text: string, names: readonly string[], hostEnv: RunContext['hostEnv']): string =>
  names
    .flatMap((name) => {
      const value = hostEnv[name] ?? ''
      return [[name, value], [name, JSON.stringify(value).slice(1, -1)]] as const
    })
    .filter(([, form]) => form !== '')
    // Longest first, so a form that contains another is replaced whole.
    .sort((a, b) => b[1].length - a[1].length)
    .reduce((t, [name, form]) => t.split(form).join(`<secret ${name}>`), text)

const signalExitCode = (signal: string | undefined): number =>
  128 + ((signal !== undefined && constants.signals[signal as NodeJS.Signals]) || 0)

/** Spawns one step and waits for it. `onSpawn` hands the child to the signal forwarder. */
/** The step's argv with this run's id in the words `runIdAt` names. */
export const argvOf = (s: Step, runId: string | undefined): readonly string[] => {
  const at = s.runIdAt ?? []
  if (at.length === 0) return s.argv
  if (runId === undefined) throw new Error('a step that takes the run id, run without one: a bug')
  return s.argv.map((w, i) => {
    if (!at.includes(i)) return w
    if (w !== runIdMark) throw new Error(`argv word ${i} should be the run id mark, not ${JSON.stringify(w)}: a compiler bug`)
    return runId
  })
}

/** 128 bits from the platform's CSPRNG, as hex: not guessable by the agent before the command runs. */
const freshRunId = (): string =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')

export const runStep = async (
  s: Step,
  ctx: RunContext,
  onSpawn: (child: ResultPromise) => void = () => {},
): Promise<StepResult> => {
  const [file, ...args] = argvOf(s, ctx.runId)
  if (file === undefined) throw new Error('a step with an empty argv is a compiler bug')
  const captureErr = s.tolerate.length > 0
  const input = s.stdio === 'terminal' ? null : stdinText(s.stdin, ctx.hostEnv)
  const child = execa(file, args, {
    env: processEnv(s, ctx.hostEnv),
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    ...(s.stdio === 'terminal'
      ? { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }
      : s.stdio === 'passthrough'
        ? { stdout: 'inherit', stderr: captureErr ? ['pipe', 'inherit'] : 'inherit' }
        : s.stdio === 'capture'
          ? { stdout: 'pipe', stderr: captureErr ? ['pipe', 'inherit'] : 'inherit' }
          : { stdout: 'pipe', stderr: 'pipe' }),
    ...(s.stdio === 'terminal' ? {} : input !== null ? { input } : { stdin: 'ignore' }),
  } as const)
  onSpawn(child)
  const r = await child
  const text = (x: unknown): string => (typeof x === 'string' ? x : '')
  if (r.exitCode === undefined && r.signal === undefined)
    return { code: null, spawnError: typeof r.code === 'string' ? r.code : 'EUNKNOWN', bySignal: false, stdout: '', stderr: '' }
  return {
    code: r.exitCode ?? signalExitCode(r.signal),
    spawnError: null,
    bySignal: r.exitCode === undefined,
    stdout: text(r.stdout),
    stderr: text(r.stderr),
  }
}

/** A step succeeded, or failed in a way the plan says is fine. */
export const succeeded = (s: Step, r: StepResult): boolean =>
  r.code === 0 ||
  (r.code !== null && s.tolerate.some((t) => t.exitCode === r.code && r.stderr.includes(t.stderrIncludes)))

// -------------------------------------------------------------------------------------------------
// the plan
// -------------------------------------------------------------------------------------------------

/** Runs undo steps newest first; a failing undo is reported and the rest still run. */
const rollback = async (undo: readonly Step[], ctx: RunContext): Promise<void> => {
  for (const u of [...undo].reverse()) {
    if (!ctx.quiet) ctx.log(`undo: ${u.title}`)
    const r = await runStep(u, ctx)
    if (!succeeded(u, r)) ctx.log(`bottle: undo step failed (exit ${r.code ?? r.spawnError}): ${u.title}`)
  }
}

/** Stops what an interrupted step started in the bottle; a failure is said, not fatal. */
const stopGuest = async (s: Step, sig: NodeJS.Signals, plan: Plan, ctx: RunContext): Promise<void> => {
  for (const stop of s.onInterrupt ?? []) {
    ctx.log(`bottle: interrupted (${sig}): ${stop.title}`)
    const r = await runStep(stop, ctx)
    if (!succeeded(stop, r)) {
      const why = redact(r.stderr.trim().split('\n').at(-1) ?? '', plan.secrets, ctx.hostEnv)
      ctx.log(`bottle: could not stop it (exit ${r.code ?? r.spawnError})${why === '' ? '' : `: ${why}`}`)
    }
  }
}

/**
 * After a code the backend client also uses for its own failures: was the bottle there and
 * running? If not, the outcome is the backend's failure; if it was, null (the code is the guest's).
 */
const backendFailure = async (s: Step, code: number, plan: Plan, ctx: RunContext): Promise<Outcome | null> => {
  const check = s.liveCheck
  if (check === undefined || !check.codes.includes(code)) return null
  const r = await runStep(check.step, ctx)
  const printed = r.stdout.trim()
  if (r.code === 0 && printed === check.running) return null
  const detail =
    r.code === 0 ? `it is not running (${printed === '' ? 'no state' : printed})`
      : r.code === null ? `${check.step.argv[0] ?? ''} could not be started (${r.spawnError ?? 'EUNKNOWN'})`
        : (r.stderr.trim().split('\n')[0] ?? '') || `the check exited ${r.code}`
  return { _tag: 'backendFailed', backend: plan.backend, bottle: plan.bottle, code, detail: redact(detail, plan.secrets, ctx.hostEnv) }
}

export const interpret = async (plan: Plan, given: RunContext): Promise<Outcome> => {
  const ctx: RunContext = { ...given, runId: given.runId ?? freshRunId() }
  const missing = plan.secrets.filter((n) => ctx.hostEnv[n] === undefined)
  if (missing.length > 0) return { _tag: 'missingSecrets', names: missing }

  // SIGINT/SIGTERM: pass it on to the running step, then roll back once it has ended. The
  // running step's own undo is included when it may have created something: it finished, or the
  // signal ended it mid-way. A step that exited with an error of its own is a failed step, as
  // without the signal: a create refused because the name is taken must not remove the bottle
  // that has that name.
  let interrupted: NodeJS.Signals | null = null
  let current: ResultPromise | null = null
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted ??= sig
    // A terminal step's child got the keyboard's signal itself; a `kill` reached only us.
    current?.kill(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const undo: Step[] = []
  const captured: string[] = []
  const hasCapture = plan.steps.some((s) => s.stdio === 'capture')
  const done = (code: number): Outcome => (hasCapture ? { _tag: 'exited', code, captured } : { _tag: 'exited', code })
  try {
    for (const [i, s] of plan.steps.entries()) {
      if (!ctx.quiet && plan.steps.length > 1) ctx.log(progressLine(plan, i))
      const r = await runStep(s, ctx, (child) => {
        current = child
      })
      current = null
      if (interrupted !== null) await stopGuest(s, interrupted, plan, ctx)
      // Interrupted while the guest command ran: 130/143 whatever the client said (docker exec
      // exits 0 when it lets go of a command that goes on running).
      if (interrupted !== null && i === plan.exitCodeFrom) return done(128 + (constants.signals[interrupted] ?? 0))
      if (interrupted !== null) {
        const mayHaveCreated = r.code === 0 || r.bySignal
        await rollback(mayHaveCreated ? [...undo, ...s.undo] : undo, ctx)
        return done(128 + (constants.signals[interrupted] ?? 0))
      }
      if (r.code === null) {
        await rollback(undo, ctx)
        return { _tag: 'missingBinary', binary: s.argv[0] ?? '', error: r.spawnError ?? 'EUNKNOWN' }
      }
      if (i === plan.exitCodeFrom) return (await backendFailure(s, r.code, plan, ctx)) ?? done(r.code)
      if (!succeeded(s, r)) {
        if (s.stdio === 'quiet') {
          if (r.stdout !== '') ctx.log(redact(r.stdout.trimEnd(), plan.secrets, ctx.hostEnv))
          if (r.stderr !== '') ctx.log(redact(r.stderr.trimEnd(), plan.secrets, ctx.hostEnv))
        }
        ctx.log(`bottle: step ${i + 1}/${plan.steps.length} failed with exit code ${r.code}: ${s.title}`)
        await rollback(undo, ctx)
        return done(r.code)
      }
      undo.push(...s.undo)
      if (s.stdio === 'capture') captured.push(r.stdout)
    }
    return done(0)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
