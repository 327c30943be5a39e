/**
 * bottle's exit codes, and the one line that says why for each way a run can end that is not
 * the guest's own exit (a missing binary, E2BIG, a time limit, a backend failure, a bug).
 *
 *   exitCodeOf({ _tag: 'missingBinary', binary: 'docker', error: 'ENOENT' }, io)   // 127, after "bottle: docker is not installed …"
 *   bugReport(new Error('boom'), false)   // ['bottle: internal error (a bug in bottle, please report it): boom (BOTTLE_DEBUG=1 shows where)']
 */
import { backends } from '../backends/index.js'
import type { Outcome } from '../interpret.js'
import { stepFailedLines } from '../run-events.js'
import { oneLine } from '../plan/errors.js'
import type { Cli } from './io.js'

/** Invalid input, an unknown op or flag: always this exit code, with nothing run. */
export const exitInvalid = 2

/** A backend binary that is not installed (the shell's "command not found"). */
export const exitMissingBinary = 127

/** A program found on PATH that cannot be executed (the shell's "permission denied"). */
export const exitCannotExecute = 126

/** A backend or its engine failed: unreachable, too slow to answer, a missing bottle, or an answer bottle cannot read. */
export const exitBackendFailed = 125

/** How to get the programs a plan runs that are not backends. */
const otherInstalls: Readonly<Record<string, string>> = { tmux: 'install tmux (3.0 or newer), e.g. apt-get install tmux' }

export const missingBinaryMessage = (binary: string): string => {
  const b = Object.values(backends).find((x) => x.binary === binary)
  const install = b?.install ?? otherInstalls[binary]
  return `bottle: ${binary} is not installed (not found on PATH)${install === undefined ? '' : `: ${install}`}`
}

/** E2BIG in one line: which program, and the secrets its environment held, by name. */
export const tooBigMessage = (o: Extract<Outcome, { _tag: 'tooBigForExec' }>): string =>
  `bottle: ${o.binary} cannot be started: its arguments and environment are too big for exec (E2BIG)${o.secrets.length === 0 ? '' : `; its environment holds the secret${o.secrets.length > 1 ? 's' : ''} ${o.secrets.join(', ')}`}`

/** `bottle run`'s exit code for an outcome, saying why on stderr when it is bottle's own. */
export const exitCodeOf = (outcome: Outcome, io: Cli): number => {
  switch (outcome._tag) {
    case 'exited':
      return outcome.code
    case 'stepFailed':
      for (const l of stepFailedLines(outcome)) io.err(l)
      return outcome.code
    case 'missingSecrets':
      io.err(`bottle: secret${outcome.names.length > 1 ? 's' : ''} ${outcome.names.join(', ')} not set in the host environment; nothing was run`)
      return exitInvalid
    case 'oversizedSecrets':
      io.err(`bottle: secret${outcome.names.length > 1 ? 's' : ''} ${outcome.names.join(', ')} too big: NAME=VALUE must fit in 128 KiB (Linux's limit for one environment string); nothing was run`)
      return exitInvalid
    case 'tooBigForExec':
      io.err(tooBigMessage(outcome))
      return exitCannotExecute
    case 'missingBinary':
      if (outcome.error === 'EACCES') {
        io.err(`bottle: ${outcome.binary} cannot be run: permission denied (is it executable?)`)
        return exitCannotExecute
      }
      io.err(missingBinaryMessage(outcome.binary))
      return exitMissingBinary
    case 'timedOut':
      io.err(`bottle: ${timedOutReason(outcome)}; ${outcome.step}`)
      return exitBackendFailed
    case 'backendFailed':
      io.err(backendFailureMessage(outcome))
      return exitBackendFailed
  }
}

/** One line: which backend, which bottle, what the check found; never the guest's own code. */
export const backendFailureMessage = (o: Extract<Outcome, { _tag: 'backendFailed' }>): string =>
  `bottle: ${o.backend} could not run the command in the bottle ${o.bottle} (its exit ${o.code} was ${o.backend}'s own, not the command's): ${o.detail}`

export const timedOutReason = (o: Extract<Outcome, { _tag: 'timedOut' }>): string =>
  `${o.binary} gave no answer within its time limit of ${o.timeoutMs / 1000} s, and was stopped`

/** Exit code of a bug in bottle (a throw that reached main): not one of the codes the CLI promises. */
export const exitBug = 1

/**
 * What `bottle` prints for a throw that reached the top: one line naming it a bug, and the stack
 * only when BOTTLE_DEBUG=1. The message is cut short and made one line: it may quote a plan.
 */
export const bugReport = (e: unknown, debug: boolean): string[] => {
  const message = e instanceof Error ? e.message : String(e)
  const short = oneLine(message.length > 200 ? `${message.slice(0, 200)}…` : message)
  const line = `bottle: internal error (a bug in bottle, please report it): ${short}${debug ? '' : ' (BOTTLE_DEBUG=1 shows where)'}`
  return debug && e instanceof Error && e.stack !== undefined ? [line, ...e.stack.split('\n')] : [line]
}
