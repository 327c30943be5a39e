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
import { clientEnv } from './plan/client-env.js'
import { fillJson, jsonParts } from './plan/json.js'
import { progressLine } from './plan/render.js'
import { type Plan, type Stdin, type Step, absurd, secretSource } from './plan/types.js'

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
  const env: Record<string, string> = s.env.inheritHost ? clientEnv(hostEnv) : {}
  for (const v of s.env.vars) {
    const value = v._tag === 'plain' ? v.value : hostValue(hostEnv, secretSource(v))
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
        const value = hostValue(hostEnv, name)
        // interpret checks plan.secrets, which lists every slot's name, before the first step.
        if (value === undefined) throw new Error(`secret ${name} is not in the host env: a missing check`)
        return value
      })
    default:
      return absurd(stdin)
  }
}

/**
 * The ways a secret's value can appear in a backend's output: as it is; as a JSON string holds it
 * (how a `json` stdin sends it); as Go's encoding/json writes it, which also escapes `<`, `>`, `&`,
 * U+2028 and U+2029 as `\u003c`… (kubectl quoting our Secret back); and in base64, with and without
 * padding (a Secret's `data`, which kubectl prints).
 */
export const secretForms = (value: string): string[] => {
  if (value === '') return []
  const json = JSON.stringify(value).slice(1, -1)
  const goJson = json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  const base64 = Buffer.from(value, 'utf8').toString('base64')
  return [...new Set([value, json, goJson, base64, base64.replace(/=+$/, '')])]
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

/** Spawns one step and waits for it. `onSpawn` hands the child to the signal forwarder. */
export const runStep = async (
  s: Step,
  ctx: RunContext,
  onSpawn: (child: ResultPromise) => void = () => {},
): Promise<StepResult> => {
  const [file, ...args] = s.argv
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

export const interpret = async (plan: Plan, ctx: RunContext): Promise<Outcome> => {
  const missing = plan.secrets.filter((n) => hostValue(ctx.hostEnv, n) === undefined)
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
      if (interrupted !== null && i !== plan.exitCodeFrom) {
        const mayHaveCreated = r.code === 0 || r.bySignal
        await rollback(mayHaveCreated ? [...undo, ...s.undo] : undo, ctx)
        return done(128 + (constants.signals[interrupted] ?? 0))
      }
      if (r.code === null) {
        await rollback(undo, ctx)
        return { _tag: 'missingBinary', binary: s.argv[0] ?? '', error: r.spawnError ?? 'EUNKNOWN' }
      }
      if (i === plan.exitCodeFrom) return done(r.code)
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
