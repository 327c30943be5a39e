/**
 * What `bottle run` says on stderr about a run: the interpreter's events and a failed step, as
 * lines for people. Progress (steps starting, undo steps, "undone") is left out with -q; what may
 * have been left behind, and why a step failed, never is.
 *
 *   eventLines({ _tag: 'stepStarted', index: 1, total: 4, argv: ['smolvm', 'machine', 'start'] }, false)
 *   // ['[2/4] smolvm machine start']
 */
import type { Outcome, RunEvent } from './interpret.js'
import { quoteShArgv } from './plan/quote.js'
import { absurd } from './plan/types.js'

export const eventLines = (e: RunEvent, quiet: boolean): string[] => {
  switch (e._tag) {
    case 'stepStarted':
      // A one-step run (exec) prints none: its stderr is the guest's alone.
      return quiet || e.total < 2 ? [] : [`[${e.index + 1}/${e.total}] ${quoteShArgv(e.argv)}`]
    case 'interrupted':
      // The result step got the signal itself: what it does is its own to say.
      return quiet || e.passedOn || e.inFlight === null
        ? []
        : [`bottle: ${e.signal}: letting ${e.inFlight} finish, then undoing what this run created (again to force)`]
    case 'forced':
      return [`bottle: ${e.signal} again: forcing: stopping ${e.stopping ?? 'now'}; nothing more is undone`]
    case 'undoStarted':
      return quiet ? [] : [`undo: ${e.title}`]
    case 'undoFailed':
      return [`bottle: undo step failed (exit ${e.result}): ${e.title}`]
    case 'undone':
      return quiet ? [] : ['bottle: undone: nothing this run created is left']
    case 'left':
      return [
        `bottle: this run (launch id ${e.launchId}) may have left: ${e.steps.map((s) => s.title).join('; ')}`,
        ...(e.op === 'launch'
          ? [`bottle: to remove it: bottle run down ${e.bottle} -b ${e.backend}`]
          : e.steps.map((s) => `bottle: to undo by hand: ${quoteShArgv(s.argv)}`)),
      ]
    default:
      return absurd(e)
  }
}

/** A failed step: what it wrote that was kept (already redacted), then which step and its code. */
export const stepFailedLines = (o: Extract<Outcome, { _tag: 'stepFailed' }>): string[] => [
  ...[o.stdout, o.stderr].map((t) => t.trimEnd()).filter((t) => t !== ''),
  `bottle: step ${o.index + 1}/${o.total} failed with exit code ${o.code}: ${o.title}`,
]
