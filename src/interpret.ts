/**
 * The interpreter: executes a plan's fields and decides nothing. It spawns nothing itself: the
 * process primitive is a parameter (src/spawn.ts wires execa in production; a test may hand it a
 * model of a backend's world), and what it has to say comes out as events the caller renders.
 *
 *   const outcome = await interpret(plan, { hostEnv: process.env, onEvent: (e) => show(e) }, spawnProcess)
 *   // { _tag: 'exited', code: 42 }  — the guest command's exit code
 *   // { _tag: 'stepFailed', index: 1, argv: ['docker', 'start', 'demo'], code: 1, stderr: '…' }
 *
 * `runStep` spawns one step; `interpret` runs the steps in order, keeps the undo stack, and rolls
 * back (newest first) when a step fails or SIGINT/SIGTERM/SIGHUP arrives. Secret values are read
 * from `hostEnv` here and handed to the spawn primitive for the backend process's environment only.
 */
import { loadBuiltin } from './builtin.js'
import { clientEnv } from './plan/client-env.js'
import { fillJson, jsonParts } from './plan/json.js'
import { type BackendName, type OpName, type Plan, type Stdin, type Stdio, type Step, absurd, launchIdShown, secretSource, stepUsesLaunchId, withLaunchId } from './plan/types.js'
import { envStringTooBig } from './bottle-spec/validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** The signals that interrupt a run: Ctrl-C, `kill`, and a closed terminal or dropped ssh. */
export const interruptSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
export type InterruptSignal = (typeof interruptSignals)[number]

/** Where interrupts come from: subscribes a handler, returns how to unsubscribe it. */
export type Interrupts = (handler: (signal: InterruptSignal) => void) => () => void

/** This process's own SIGINT/SIGTERM/SIGHUP (listening replaces node's default of dying). */
export const processInterrupts: Interrupts = (handler) => {
  for (const sig of interruptSignals) process.on(sig, handler)
  return () => {
    for (const sig of interruptSignals) process.off(sig, handler)
  }
}

/** What the spawn primitive is asked to start: one step, everything already filled in. */
export interface SpawnRequest {
  readonly file: string
  readonly args: readonly string[]
  /** The whole environment of the process (nothing is added to it). */
  readonly env: Readonly<Record<string, string>>
  /**
   * How its streams are wired (see Stdio). Every step but a `terminal` one gets a process group
   * (and session) of its own, so a key the user presses reaches bottle, not the backend client.
   */
  readonly stdio: Stdio
  /** A `passthrough` step whose stderr is also kept (its tolerated failures are matched on it). */
  readonly keepStderr: boolean
  /** What it reads on stdin (not `terminal`): null is nothing, an empty stdin. */
  readonly input: string | null
}

/** How a spawned process ended. */
export type Exit =
  | { readonly _tag: 'exited'; readonly code: number; readonly stdout: string; readonly stderr: string }
  | { readonly _tag: 'signalled'; readonly signal: string; readonly stdout: string; readonly stderr: string }
  /** It could not be started: `error` is the spawn error's code (ENOENT, EACCES). */
  | { readonly _tag: 'notStarted'; readonly error: string }

/** A started process. */
export interface Spawned {
  readonly exit: Promise<Exit>
  /** Signals the process itself. */
  readonly kill: (signal: NodeJS.Signals) => void
  /** Signals its whole process group (its own, for all but a terminal step); one that is gone is fine. */
  readonly killGroup: (signal: NodeJS.Signals) => void
}

/** The process primitive: starts one process. It never throws; a failure to start is an Exit. */
export type Spawn = (request: SpawnRequest) => Spawned

/** What a run has to say, as it happens; the caller renders it (src/run-events.ts). */
export type RunEvent =
  /** Step `index` (of `total`) starts: its argv, with this run's launch id in its slots. */
  | { readonly _tag: 'stepStarted'; readonly index: number; readonly total: number; readonly argv: readonly string[] }
  /** The first interrupt: `inFlight` (a label) is left to finish, unless it is the result step, which was passed the signal. */
  | { readonly _tag: 'interrupted'; readonly signal: InterruptSignal; readonly inFlight: string | null; readonly passedOn: boolean }
  /** A second interrupt: the step in flight (if any) is stopped and nothing more is undone. */
  | { readonly _tag: 'forced'; readonly signal: InterruptSignal; readonly stopping: string | null }
  | { readonly _tag: 'undoStarted'; readonly title: string }
  /** An undo step failed: its exit code, or why it could not start. */
  | { readonly _tag: 'undoFailed'; readonly title: string; readonly result: string }
  /** The rollback removed everything this run created. */
  | { readonly _tag: 'undone' }
  /**
   * What this run may have left after its rollback, and how to remove it: each undo step not done,
   * its argv with this run's launch id (an argv holds no secret values; those travel in the env).
   */
  | {
      readonly _tag: 'left'
      readonly launchId: string
      readonly op: OpName
      readonly backend: BackendName
      readonly bottle: string
      readonly steps: readonly { readonly title: string; readonly argv: readonly string[] }[]
    }

export interface RunContext {
  /** The host environment, read once at the CLI edge. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  /** Where the run's events go, in the order they happen. */
  readonly onEvent: (event: RunEvent) => void
  /** This run's launch id; absent: a fresh one (a test may fix it). */
  readonly launchId?: string
  /** Where interrupts come from; absent: this process's signals. */
  readonly interrupts?: Interrupts
}

/** The most of a failed step's output an outcome carries: its end, where tools say why. */
export const outputTailChars = 8192

export type Outcome =
  /**
   * Every step ran, or the guest command ran: this is `bottle run`'s exit code. `captured` holds
   * the stdout of each `capture` step that succeeded, in step order; it is there only when the plan
   * has such steps (ls reads it), so every other outcome keeps its plain shape.
   */
  | { readonly _tag: 'exited'; readonly code: number; readonly captured?: readonly string[] }
  /**
   * A step other than the guest command failed on its own (not a tolerated failure); what this run
   * created has been undone. `argv` is the plan's, the launch id as its slot; `stdout` (a quiet
   * step's) and `stderr` (a quiet or capture step's; what else a step wrote went to the terminal)
   * are their last `outputTailChars` characters, secret values in them replaced by their names.
   */
  | {
      readonly _tag: 'stepFailed'
      readonly index: number
      readonly total: number
      readonly title: string
      readonly argv: readonly string[]
      readonly code: number
      readonly stdout: string
      readonly stderr: string
    }
  /** Secrets the plan needs are not in the host env; nothing ran. */
  | { readonly _tag: 'missingSecrets'; readonly names: readonly string[] }
  /**
   * Secrets whose `NAME=VALUE` does not fit in one exec string (MAX_ARG_STRLEN): no backend could
   * be handed them; nothing ran.
   */
  | { readonly _tag: 'oversizedSecrets'; readonly names: readonly string[] }
  /**
   * A step's program could not be started because its argv and environment together are over the
   * kernel's limit (E2BIG); `secrets` names the secrets the step's environment held, never a
   * value. What was created before it has been undone.
   */
  | { readonly _tag: 'tooBigForExec'; readonly binary: string; readonly secrets: readonly string[] }
  /**
   * A step's program could not be started: not installed (ENOENT), or found but not executable
   * (EACCES); what was created before it has been undone.
   */
  | { readonly _tag: 'missingBinary'; readonly binary: string; readonly error: string }
  /** A step ran past its time limit (`timeoutMs`) and was stopped; what this run created has been undone. */
  | { readonly _tag: 'timedOut'; readonly step: string; readonly binary: string; readonly timeoutMs: number }
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
  /** The step ran past its timeoutMs and was stopped. */
  readonly timedOut: boolean
  readonly stdout: string
  readonly stderr: string
}

// -------------------------------------------------------------------------------------------------
// one step
// -------------------------------------------------------------------------------------------------

/**
 * A host variable by name, as an own property only: the names come from users, and
 * `process.env.toString` is a function, not the value of a variable named toString.
 */
export const hostValue = (hostEnv: RunContext['hostEnv'], name: string): string | undefined => {
  if (!Object.hasOwn(hostEnv, name)) return undefined
  const v = hostEnv[name]
  return typeof v === 'string' ? v : undefined
}

/** The environment of the spawned process: the client's host variables or nothing, then the step's vars. */
export const processEnv = (s: Step, hostEnv: RunContext['hostEnv']): Record<string, string> => {
  // A Map, then fromEntries (which defines own properties): `env[name] = value` on a plain object
  // would set its prototype for a secret named __proto__, and the value would be lost.
  const env = new Map<string, string>(s.env.inheritHost ? Object.entries(clientEnv(hostEnv)) : [])
  for (const v of s.env.vars) {
    const value = v._tag === 'plain' ? v.value : hostValue(hostEnv, secretSource(v))
    if (value !== undefined) env.set(v.name, value)
  }
  return Object.fromEntries(env)
}

/** What a step writes to the program's stdin: for a `json` stdin, secret values and the launch id go in here. */
const stdinText = (stdin: Stdin, hostEnv: RunContext['hostEnv'], launchId: string | undefined): string | null => {
  switch (stdin._tag) {
    case 'none':
      return null
    case 'text':
      return stdin.text
    case 'json':
      return fillJson(jsonParts(stdin.document, stdin.secrets, 0, stdin.launchId), (name) => {
        const value = hostValue(hostEnv, name)
        // interpret checks plan.secrets, which lists every slot's name, before the first step.
        if (value === undefined) throw new Error(`secret ${name} is not in the host env: a missing check`)
        return value
      }, launchId)
    default:
      return absurd(stdin)
  }
}

/**
 * The ways a secret's value can appear in a backend's output: as it is; as a JSON string holds it
 * (how a `json` stdin sends it); as Go's encoding/json writes it, which also escapes `<`, `>`, `&`,
 * U+2028 and U+2029 as `\u003c`… (kubectl quoting our Secret back), \b and \f as `\u0008`, `\u000c` before Go
 * 1.22; and in base64, with and without
 * padding (a Secret's `data`, which kubectl prints).
 */
export const secretForms = (value: string): string[] => {
  if (value === '') return []
  const json = JSON.stringify(value).slice(1, -1)
  const goJson = json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  // Go before 1.22 wrote \b and \f as \u0008 and \u000c (a kubectl built with it does too).
  const oldGoJson = goJson.replace(/\\\\|\\b|\\f/g, (e) => (e === '\\b' ? '\\u0008' : e === '\\f' ? '\\u000c' : e))
  const base64 = Buffer.from(value, 'utf8').toString('base64')
  return [...new Set([value, json, goJson, oldGoJson, base64, base64.replace(/=+$/, '')])]
}

/**
 * Shows secret values in a program's captured output by name: a backend CLI that quotes its
 * input in an error message must not put a value in bottle's log, in any form of secretForms.
 */
export const redact = (text: string, names: readonly string[], hostEnv: RunContext['hostEnv']): string =>
  names
    .flatMap((name) => secretForms(hostValue(hostEnv, name) ?? '').map((form) => [name, form] as const))
    // Longest first, so a form that contains another is replaced whole.
    .sort((a, b) => b[1].length - a[1].length)
    .reduce((t, [name, form]) => t.split(form).join(`<secret ${name}>`), text)

// node:os only when a signal is to be told as an exit code: not a cost of every start.
const signalNumber = (signal: NodeJS.Signals): number => loadBuiltin<typeof import('node:os')>('node:os').constants.signals[signal] ?? 0
const signalExitCode = (signal: string): number => 128 + signalNumber(signal as NodeJS.Signals)

/** How long a step stopped at its time limit, or by a forced interrupt, gets to exit after SIGTERM, before SIGKILL. */
const killAfterMs = 2000

/** Ends a process group: politely, then for good (the second timer does not keep node alive). */
const stopGroup = (child: Spawned): void => {
  child.killGroup('SIGTERM')
  setTimeout(() => child.killGroup('SIGKILL'), killAfterMs).unref()
}

/** What the primitive is asked to start for a step, its launch id slots filled with `launchId`. */
export const spawnRequest = (s: Step, hostEnv: RunContext['hostEnv'], launchId: string | undefined): SpawnRequest => {
  if (stepUsesLaunchId(s) && launchId === undefined) throw new Error('a launch id slot with no launch id: interpret fills it')
  const [file, ...args] = withLaunchId(s, launchId ?? '')
  if (file === undefined) throw new Error('a step with an empty argv is a compiler bug')
  return {
    file,
    args,
    env: processEnv(s, hostEnv),
    stdio: s.stdio,
    keepStderr: s.tolerate.length > 0,
    input: s.stdio === 'terminal' ? null : stdinText(s.stdin, hostEnv, launchId),
  }
}

/**
 * Spawns one step with `spawn` and waits for it. `ctx.launchId` fills the step's launch id slots.
 * A step with a time limit (never a terminal one: the foreground group is not ours to stop) has
 * its whole process group stopped at the limit, since a grandchild that keeps the output pipe
 * open would otherwise keep us waiting. `onSpawn` hands the child to the signal handling.
 */
export const runStep = async (
  s: Step,
  ctx: Pick<RunContext, 'hostEnv' | 'launchId'>,
  spawn: Spawn,
  onSpawn: (child: Spawned) => void = () => {},
): Promise<StepResult> => {
  const child = spawn(spawnRequest(s, ctx.hostEnv, ctx.launchId))
  onSpawn(child)
  let timedOut = false
  const timers: NodeJS.Timeout[] = []
  if (s.timeoutMs !== undefined && s.stdio !== 'terminal')
    timers.push(setTimeout(() => {
      timedOut = true
      child.killGroup('SIGTERM')
      timers.push(setTimeout(() => child.killGroup('SIGKILL'), killAfterMs))
    }, s.timeoutMs))
  const r = await child.exit
  for (const t of timers) clearTimeout(t)
  switch (r._tag) {
    case 'notStarted':
      return { code: null, spawnError: r.error, bySignal: false, timedOut: false, stdout: '', stderr: '' }
    case 'exited':
      return { code: r.code, spawnError: null, bySignal: false, timedOut, stdout: r.stdout, stderr: r.stderr }
    case 'signalled':
      return { code: signalExitCode(r.signal), spawnError: null, bySignal: true, timedOut, stdout: r.stdout, stderr: r.stderr }
    default:
      return absurd(r)
  }
}

/** A step succeeded, or failed in a way the plan says is fine. */
export const succeeded = (s: Step, r: StepResult): boolean =>
  r.code === 0 ||
  (r.code !== null && s.tolerate.some((t) => t.exitCode === r.code && r.stderr.includes(t.stderrIncludes)))

// -------------------------------------------------------------------------------------------------
// the plan
// -------------------------------------------------------------------------------------------------

/**
 * A step may have created something when it succeeded, or was ended by a signal, or exited with
 * 128+n as a client does when a signal stopped it (docker exits 130 within ~30 ms of a SIGINT
 * while the engine finishes the create seconds later). One that exited with an error of its own
 * (a create refused because the name is taken) created nothing, and its undo, which would only
 * look for what carries this run's launch id, is not run. That saves the undo's wait, not a
 * bottle: an undo never removes what another run created either way.
 */
export const mayHaveCreated = (r: StepResult): boolean => r.code === 0 || r.bySignal || (r.code !== null && r.code > 128)

/** A fresh launch id: 64 random bits as 16 hex digits (the sh rendering makes the same shape). */
export const newLaunchId = (): string => globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)

/** The end of a program's output, secret values replaced by their names (redacted whole, then cut). */
const outputTail = (text: string, plan: Plan, hostEnv: RunContext['hostEnv']): string => {
  const shown = redact(text, plan.secrets, hostEnv)
  return shown.length <= outputTailChars ? shown : shown.slice(shown.length - outputTailChars)
}

/**
 * After a code the backend client also uses for its own failures: was the bottle there and
 * running? If not, the outcome is the backend's failure; if it was, null (the code is the guest's).
 */
const backendFailure = async (s: Step, code: number, plan: Plan, ctx: RunContext, spawn: Spawn): Promise<Outcome | null> => {
  const check = s.liveCheck
  if (check === undefined || !check.codes.includes(code)) return null
  const r = await runStep(check.step, ctx, spawn)
  const printed = r.stdout.trim()
  if (r.code === 0 && printed === check.running) return null
  const detail =
    r.code === 0 ? `it is not running (${printed === '' ? 'no state' : printed})`
    : r.code === null ? `${check.step.argv[0] ?? ''} could not be started (${r.spawnError ?? 'EUNKNOWN'})`
    : (r.stderr.trim().split('\n')[0] ?? '') || `the check exited ${r.code}`
  return { _tag: 'backendFailed', backend: plan.backend, bottle: plan.bottle, code, detail: redact(detail, plan.secrets, ctx.hostEnv) }
}

export const interpret = async (plan: Plan, given: RunContext, spawn: Spawn): Promise<Outcome> => {
  const missing = plan.secrets.filter((n) => hostValue(given.hostEnv, n) === undefined)
  if (missing.length > 0) return { _tag: 'missingSecrets', names: missing }
  const oversized = plan.secrets.filter((n) => envStringTooBig(n, hostValue(given.hostEnv, n) ?? ''))
  if (oversized.length > 0) return { _tag: 'oversizedSecrets', names: oversized }
  const launchId = given.launchId ?? newLaunchId()
  const ctx: RunContext = { ...given, launchId }
  const emit = ctx.onEvent

  // Interrupts, the way Terraform handles them. The first SIGINT/SIGTERM/SIGHUP is announced;
  // the step in flight, in a process group of its own, never sees it and is left to finish;
  // then what this run created is undone, newest first, the in-flight step's own undo included
  // (it may have created something however it ended: an undo removes only what carries this
  // run's launch id, so that is safe even for a create refused because the name is taken). The
  // plan's result step (the guest command) is the exception: the signal is passed on to it, and
  // its onInterrupt steps run. A second signal forces: the step in flight (or the undo step) is
  // stopped, nothing more runs, and bottle says what may be left and how to remove it.
  let interrupted: InterruptSignal | null = null
  let forced = false
  let current: { readonly child: Spawned; readonly step: Step; readonly label: string; readonly result: boolean } | null = null
  const sideTasks: Promise<unknown>[] = []
  const onSignal = (sig: InterruptSignal): void => {
    if (interrupted === null) {
      interrupted = sig
      if (current === null) return
      // A terminal step's child got the keyboard's signal itself; a `kill` reached only us.
      if (current.result) current.child.kill(sig)
      emit({ _tag: 'interrupted', signal: sig, inFlight: current.label, passedOn: current.result })
      for (const h of current.step.onInterrupt ?? []) sideTasks.push(runStep(h, ctx, spawn))
      return
    }
    if (forced) return
    forced = true
    emit({ _tag: 'forced', signal: sig, stopping: current === null ? null : current.label })
    if (current !== null) stopGroup(current.child)
  }
  const unsubscribe = (ctx.interrupts ?? processInterrupts)(onSignal)

  const run = (s: Step, label: string, result: boolean): Promise<StepResult> =>
    runStep(s, ctx, spawn, (child) => {
      current = { child, step: s, label, result }
    }).finally(() => {
      current = null
    })

  /**
   * Runs undo steps newest first; a failing one is reported and the rest still run, unless the
   * run is forced. Then says what is left: nothing, or what may be and how to remove it.
   */
  const rollback = async (undo: readonly Step[]): Promise<void> => {
    const left: Step[] = []
    const pending = [...undo].reverse()
    for (const [k, u] of pending.entries()) {
      if (forced) {
        left.push(...pending.slice(k))
        break
      }
      emit({ _tag: 'undoStarted', title: u.title })
      const r = await run(u, `the undo step "${u.title}"`, false)
      if (!succeeded(u, r)) {
        emit({ _tag: 'undoFailed', title: u.title, result: `${r.code ?? r.spawnError}` })
        left.push(u)
      }
    }
    if (left.length === 0) {
      if (undo.length > 0) emit({ _tag: 'undone' })
      return
    }
    const steps = left.map((u) => ({ title: u.title, argv: withLaunchId(u, launchId) }))
    emit({ _tag: 'left', launchId, op: plan.op, backend: plan.backend, bottle: plan.bottle, steps })
  }

  const undo: Step[] = []
  const captured: string[] = []
  const hasCapture = plan.steps.some((s) => s.stdio === 'capture')
  const done = (code: number): Outcome => (hasCapture ? { _tag: 'exited', code, captured } : { _tag: 'exited', code })
  const interruptedCode = (): number => 128 + (interrupted === null ? 0 : signalNumber(interrupted))
  const total = plan.steps.length
  try {
    for (const [i, s] of plan.steps.entries()) {
      if (interrupted !== null) {
        await rollback(undo)
        return done(interruptedCode())
      }
      emit({ _tag: 'stepStarted', index: i, total, argv: withLaunchId(s, launchId) })
      const r = await run(s, `step ${i + 1}/${total}`, i === plan.exitCodeFrom)
      await Promise.all(sideTasks.splice(0))
      // What this step may have created: its undo joins the stack unless it failed on its own.
      const own = mayHaveCreated(r) ? s.undo : []
      if (interrupted !== null && i !== plan.exitCodeFrom) {
        await rollback([...undo, ...own])
        return done(interruptedCode())
      }
      if (r.timedOut && s.timeoutMs !== undefined) {
        // Stopped by a signal at its limit: it may have created something before it hung.
        await rollback([...undo, ...own])
        return { _tag: 'timedOut', step: s.title, binary: s.argv[0] ?? '', timeoutMs: s.timeoutMs }
      }
      if (r.code === null && r.spawnError === 'E2BIG') {
        await rollback(undo)
        return { _tag: 'tooBigForExec', binary: s.argv[0] ?? '', secrets: s.env.vars.flatMap((v) => (v._tag === 'secret' ? [v.name] : [])) }
      }
      if (r.code === null) {
        await rollback(undo)
        return { _tag: 'missingBinary', binary: s.argv[0] ?? '', error: r.spawnError ?? 'EUNKNOWN' }
      }
      // Interrupted while the guest command ran: 130/143 whatever the client said (docker exec
      // exits 0 when it lets go of a command that goes on running; onInterrupt stopped it).
      if (i === plan.exitCodeFrom && interrupted !== null) return done(interruptedCode())
      if (i === plan.exitCodeFrom) return (await backendFailure(s, r.code, plan, ctx, spawn)) ?? done(r.code)
      if (!succeeded(s, r)) {
        await rollback([...undo, ...own])
        return {
          _tag: 'stepFailed',
          index: i,
          total,
          title: s.title,
          argv: withLaunchId(s, launchIdShown),
          code: r.code,
          // What the step wrote that was kept rather than shown as it came.
          stdout: s.stdio === 'quiet' ? outputTail(r.stdout, plan, ctx.hostEnv) : '',
          stderr: s.stdio === 'quiet' || s.stdio === 'capture' ? outputTail(r.stderr, plan, ctx.hostEnv) : '',
        }
      }
      undo.push(...s.undo)
      if (s.stdio === 'capture') captured.push(r.stdout)
    }
    return done(0)
  } finally {
    unsubscribe()
  }
}
