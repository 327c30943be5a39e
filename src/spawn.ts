/**
 * The process primitive bottle runs plans with: execa behind the interpreter's `Spawn`, and
 * `runPlan`, the interpreter wired to it. The only module that starts processes (lint enforces
 * it); the interpreter itself only asks.
 *
 *   const outcome = await runPlan(plan, { hostEnv: process.env, onEvent })
 */
import { execa } from 'execa'
import { type Exit, type Outcome, type RunContext, type Spawn, interpret } from './interpret.js'

const text = (x: unknown): string => (typeof x === 'string' ? x : '')

export const spawnProcess: Spawn = (r) => {
  const child = execa(r.file, r.args, {
    env: r.env,
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    // A group (and session) of its own for all but a terminal step: see SpawnRequest.stdio.
    detached: r.stdio !== 'terminal',
    // The plan's Stdio (src/plan/types.ts) in execa's words. A passthrough step's stderr is shown
    // as it comes, and also kept when a tolerated failure is matched on it.
    ...(r.stdio === 'terminal'
      ? { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }
      : r.stdio === 'passthrough'
        ? { stdout: 'inherit', stderr: r.keepStderr ? ['pipe', 'inherit'] : 'inherit' }
        : { stdout: 'pipe', stderr: 'pipe' }),
    ...(r.stdio === 'terminal' ? {} : r.input !== null ? { input: r.input } : { stdin: 'ignore' }),
  } as const)
  const exit: Promise<Exit> = child.then((res) =>
    res.exitCode !== undefined
      ? { _tag: 'exited', code: res.exitCode, stdout: text(res.stdout), stderr: text(res.stderr) }
      : res.signal !== undefined
        ? { _tag: 'signalled', signal: res.signal, stdout: text(res.stdout), stderr: text(res.stderr) }
        : { _tag: 'notStarted', error: typeof res.code === 'string' ? res.code : 'EUNKNOWN' },
  )
  return {
    exit,
    kill: (signal) => {
      child.kill(signal)
    },
    killGroup: (signal) => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, signal)
      } catch {
        // the group has exited
      }
    },
  }
}

// For the CLI, which reads a host variable the way the interpreter does before a run it asks about.
export { hostValue } from './interpret.js'

/** Runs a plan with real processes. */
export const runPlan = (plan: Parameters<typeof interpret>[0], ctx: RunContext): Promise<Outcome> => interpret(plan, ctx, spawnProcess)
