/**
 * The interpreter: the only module that spawns. It executes a plan's fields and decides nothing.
 *
 *   const outcome = await interpret(plan, { hostEnv: process.env, quiet: false, log })
 *   // { _tag: 'exited', code: 42 }  — the guest command's exit code
 *
 * One primitive, `runStep`, spawns one step; `interpret` runs the steps in order, keeps the undo
 * stack, and rolls back (newest first) when a step fails or SIGINT/SIGTERM/SIGHUP arrives. Secret values
 * are read from `hostEnv` here and handed to the backend process through its environment only.
 */
import { type ResultPromise, execa } from 'execa'
import { constants } from 'node:os'
import { clientEnv } from './plan/client-env.js'
import { fillJson, jsonParts } from './plan/json.js'
import { quoteShArgv } from './plan/quote.js'
import { progressLine } from './plan/render.js'
import { type Plan, type Stdin, type Step, absurd, secretSource, stepUsesLaunchId, withLaunchId } from './plan/types.js'
import { envStringTooBig } from './spec/validate.js'

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
  /** This run's launch id; absent: a fresh one (a test may fix it). */
  readonly launchId?: string
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
// the primitive
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

const signalExitCode = (signal: string | undefined): number =>
  128 + ((signal !== undefined && constants.signals[signal as NodeJS.Signals]) || 0)

/** How long a step stopped at its time limit gets to exit after SIGTERM, before SIGKILL. */
const killAfterMs = 2000

/** Signals a process group (negative pid); one that is gone already is fine. */
const signalGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // the group has exited
  }
}

/**
 * Spawns one step and waits for it. `ctx.launchId` fills the step's launch id slots. Every step but
 * a `terminal` one runs in a process group (and session) of its own, so a key the user presses
 * (Ctrl-C, or the hangup of a closed terminal) reaches bottle and not the backend client: the
 * interpreter decides what happens to the step in flight. A terminal step stays in ours, the
 * terminal's foreground group: the key goes to the agent, as with `docker run -it`.
 * `onSpawn` hands the child to the signal handling.
 */
export const runStep = async (
  s: Step,
  ctx: RunContext,
  onSpawn: (child: ResultPromise) => void = () => {},
): Promise<StepResult> => {
  if (stepUsesLaunchId(s) && ctx.launchId === undefined) throw new Error('a launch id slot with no launch id: interpret fills it')
  const [file, ...args] = withLaunchId(s, ctx.launchId ?? '')
  if (file === undefined) throw new Error('a step with an empty argv is a compiler bug')
  const captureErr = s.tolerate.length > 0
  const input = s.stdio === 'terminal' ? null : stdinText(s.stdin, ctx.hostEnv, ctx.launchId)
  // A step that owns the terminal stays in the foreground group, where a limit cannot apply. The
  // others have a process group of their own: the limit stops the whole group, since a grandchild
  // that keeps the output pipe open would otherwise keep us waiting.
  const limited = s.timeoutMs !== undefined && s.stdio !== 'terminal'
  const child = execa(file, args, {
    env: processEnv(s, ctx.hostEnv),
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    detached: s.stdio !== 'terminal',
    ...(s.stdio === 'terminal'
      ? { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }
      : s.stdio === 'passthrough'
        ? { stdout: 'inherit', stderr: captureErr ? ['pipe', 'inherit'] : 'inherit' }
        : s.stdio === 'capture'
          ? { stdout: 'pipe', stderr: 'pipe' }
          : { stdout: 'pipe', stderr: 'pipe' }),
    ...(s.stdio === 'terminal' ? {} : input !== null ? { input } : { stdin: 'ignore' }),
  } as const)
  onSpawn(child)
  let timedOut = false
  const timers: NodeJS.Timeout[] = []
  if (limited)
    timers.push(setTimeout(() => {
      timedOut = true
      signalGroup(child.pid, 'SIGTERM')
      timers.push(setTimeout(() => signalGroup(child.pid, 'SIGKILL'), killAfterMs))
    }, s.timeoutMs))
  const r = await child
  for (const t of timers) clearTimeout(t)
  const text = (x: unknown): string => (typeof x === 'string' ? x : '')
  if (r.exitCode === undefined && r.signal === undefined)
    return { code: null, spawnError: typeof r.code === 'string' ? r.code : 'EUNKNOWN', bySignal: false, timedOut: false, stdout: '', stderr: '' }
  return {
    code: r.exitCode ?? signalExitCode(r.signal),
    spawnError: null,
    bySignal: r.exitCode === undefined,
    timedOut,
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

/**
 * A step may have created something when it succeeded, or was ended by a signal, or exited with
 * 128+n as a client does when a signal stopped it (docker exits 130 within ~30 ms of a SIGINT
 * while the engine finishes the create seconds later). One that exited with an error of its own
 * (a create refused because the name is taken) created nothing, and its undo, which would only
 * look for what carries this run's launch id, is not run. That saves the undo's wait, not a
 * bottle: an undo never removes what another run created either way.
 */
const mayHaveCreated = (r: StepResult): boolean => r.code === 0 || r.bySignal || (r.code !== null && r.code > 128)

/** A fresh launch id: 64 random bits as 16 hex digits (the sh rendering makes the same shape). */
export const newLaunchId = (): string => globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)

/** The signals that interrupt a run: Ctrl-C, `kill`, and a closed terminal or dropped ssh. */
const interruptSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Ends a detached step's whole process group: politely, then for good. */
const stopGroup = (child: ResultPromise): void => {
  const pid = child.pid
  if (pid === undefined) return
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig)
    } catch {
      // Already gone.
    }
  }
  kill('SIGTERM')
  setTimeout(() => kill('SIGKILL'), 2000).unref()
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
  const missing = plan.secrets.filter((n) => hostValue(given.hostEnv, n) === undefined)
  if (missing.length > 0) return { _tag: 'missingSecrets', names: missing }
  const oversized = plan.secrets.filter((n) => envStringTooBig(n, hostValue(given.hostEnv, n) ?? ''))
  if (oversized.length > 0) return { _tag: 'oversizedSecrets', names: oversized }
  const launchId = given.launchId ?? newLaunchId()
  const ctx: RunContext = { ...given, launchId }

  // Interrupts, the way Terraform handles them. The first SIGINT/SIGTERM/SIGHUP is announced;
  // the step in flight, in a process group of its own, never sees it and is left to finish;
  // then what this run created is undone, newest first, the in-flight step's own undo included
  // (it may have created something however it ended: an undo removes only what carries this
  // run's launch id, so that is safe even for a create refused because the name is taken). The
  // plan's result step (the guest command) is the exception: the signal is passed on to it, and
  // its onInterrupt steps run. A second signal forces: the step in flight (or the undo step) is
  // stopped, nothing more runs, and bottle says what may be left and how to remove it.
  let interrupted: NodeJS.Signals | null = null
  let forced = false
  let current: { readonly child: ResultPromise; readonly step: Step; readonly label: string; readonly result: boolean } | null = null
  const sideTasks: Promise<unknown>[] = []
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted === null) {
      interrupted = sig
      if (current === null) return
      if (current.result) {
        // A terminal step's child got the keyboard's signal itself; a `kill` reached only us.
        current.child.kill(sig)
      } else if (!ctx.quiet) {
        ctx.log(`bottle: ${sig}: letting ${current.label} finish, then undoing what this run created (again to force)`)
      }
      for (const h of current.step.onInterrupt ?? []) sideTasks.push(runStep(h, ctx))
      return
    }
    if (forced) return
    forced = true
    ctx.log(`bottle: ${sig} again: forcing: stopping ${current === null ? 'now' : current.label}; nothing more is undone`)
    if (current !== null) stopGroup(current.child)
  }
  for (const sig of interruptSignals) process.on(sig, onSignal)

  const run = (s: Step, label: string, result: boolean): Promise<StepResult> =>
    runStep(s, ctx, (child) => {
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
      if (!ctx.quiet) ctx.log(`undo: ${u.title}`)
      const r = await run(u, `the undo step "${u.title}"`, false)
      if (!succeeded(u, r)) {
        ctx.log(`bottle: undo step failed (exit ${r.code ?? r.spawnError}): ${u.title}`)
        left.push(u)
      }
    }
    if (left.length === 0) {
      if (!ctx.quiet && undo.length > 0) ctx.log('bottle: undone: nothing this run created is left')
      return
    }
    ctx.log(`bottle: this run (launch id ${launchId}) may have left: ${left.map((u) => u.title).join('; ')}`)
    if (plan.op === 'launch') ctx.log(`bottle: to remove it: bottle run down ${plan.bottle} -b ${plan.backend}`)
    else for (const u of left) ctx.log(`bottle: to undo by hand: ${quoteShArgv(withLaunchId(u, launchId))}`)
  }

  const undo: Step[] = []
  const captured: string[] = []
  const hasCapture = plan.steps.some((s) => s.stdio === 'capture')
  const done = (code: number): Outcome => (hasCapture ? { _tag: 'exited', code, captured } : { _tag: 'exited', code })
  const interruptedCode = (): number => 128 + (interrupted === null ? 0 : (constants.signals[interrupted] ?? 0))
  try {
    for (const [i, s] of plan.steps.entries()) {
      if (interrupted !== null) {
        await rollback(undo)
        return done(interruptedCode())
      }
      if (!ctx.quiet && plan.steps.length > 1) ctx.log(progressLine(plan, i, launchId))
      const r = await run(s, `step ${i + 1}/${plan.steps.length}`, i === plan.exitCodeFrom)
      await Promise.all(sideTasks.splice(0))
      // What this step may have created: its undo joins the stack unless it failed on its own.
      const own = mayHaveCreated(r) ? s.undo : []
      if (interrupted !== null && i !== plan.exitCodeFrom) {
        await rollback([...undo, ...own])
        return done(interruptedCode())
      }
      if (r.timedOut && s.timeoutMs !== undefined) {
        await rollback(undo)
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
      if (i === plan.exitCodeFrom) return (await backendFailure(s, r.code, plan, ctx)) ?? done(r.code)
      if (!succeeded(s, r)) {
        if (s.stdio === 'quiet' && r.stdout !== '') ctx.log(redact(r.stdout.trimEnd(), plan.secrets, ctx.hostEnv))
        // A capture step's stderr is kept (a listing's failure becomes one line naming why).
        if ((s.stdio === 'quiet' || s.stdio === 'capture') && r.stderr !== '') ctx.log(redact(r.stderr.trimEnd(), plan.secrets, ctx.hostEnv))
        ctx.log(`bottle: step ${i + 1}/${plan.steps.length} failed with exit code ${r.code}: ${s.title}`)
        await rollback([...undo, ...own])
        return done(r.code)
      }
      undo.push(...s.undo)
      if (s.stdio === 'capture') captured.push(r.stdout)
    }
    return done(0)
  } finally {
    for (const sig of interruptSignals) process.off(sig, onSignal)
  }
}
