/**
 * `bottle run`: hands a plan to the interpreter (loaded only now: execa is most of its cost),
 * prints its events as they come, and turns its outcome into the exit code; update asks first.
 *
 *   await runAndSay(plan, request.flags.quiet === true, cli)   // the guest's exit code, or bottle's own (exit.ts)
 */
import { askOnTerminal } from '../host.js'
import { eventLines } from '../run-events.js'
import { updateLines } from '../plan/render.js'
import type { Plan } from '../plan/types.js'
import type { Request } from './request.js'
import type { Cli } from './io.js'
import { exitInvalid, exitCodeOf } from './exit.js'

/** Runs a plan with real processes, its events on stderr as they come: `bottle run`'s exit code. */
export const runAndSay = async (plan: Plan, quiet: boolean, io: Cli): Promise<number> => {
  const { runPlan } = await import('../spawn.js')
  const outcome = await runPlan(plan, {
    hostEnv: io.env,
    onEvent: (e) => {
      for (const l of eventLines(e, quiet)) io.err(l)
    },
  })
  return exitCodeOf(outcome, io)
}

/**
 * `bottle run update`: show the difference, then apply only when the user says so: --yes, or
 * "y" on a terminal. Null: go ahead; else the exit code, with nothing written. A secret the
 * update adds is checked before asking, so a "y" is never answered with a refusal.
 */
export const confirmUpdate = async (plan: Plan, req: Request, io: Cli): Promise<number | null> => {
  const yes = req.flags.yes === true
  if (!(yes && req.flags.quiet === true)) for (const l of updateLines(plan)) io.err(`bottle: ${l}`)
  if (plan.steps.length === 0) return 0
  // From the interpreter's bundle, which the run that follows loads anyway.
  const { hostValue } = await import('../spawn.js')
  const missing = plan.secrets.filter((n) => hostValue(io.env, n) === undefined)
  if (missing.length > 0) {
    io.err(`bottle: secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set in the host environment; nothing was written`)
    return exitInvalid
  }
  if (yes) return null
  if (!(io.host.stdinIsTTY && io.host.stderrIsTTY)) {
    io.err('bottle: update asks before it writes, and stdin or stderr is not a terminal: pass --yes to apply it; nothing was written')
    return exitInvalid
  }
  const answer = await askOnTerminal(`apply to ${plan.bottle}? [y/N] `)
  if (answer === null) return 130
  if (/^y(es)?$/i.test(answer)) return null
  io.err('bottle: not applied; nothing was written')
  return exitInvalid
}
