/**
 * The CLI's entry: argv → a Request (cli/request.ts), help or the version; then the plan printed,
 * or run (cli/run.ts), or a listing (cli/listing.ts). Invalid input of any kind is one line on
 * stderr and exit 2, with nothing run.
 *
 *   await main(['plan', 'agent', 'demo', '-b', 'docker', '--', '-p', 'hi'], io)   // prints the plan, returns 0
 */
import * as E from 'fp-ts/lib/Either.js'
import { type Surroundings, readSurroundings } from './host.js'
import { type Format, render, runWarnings } from './plan/render.js'
import { helpText, version } from './cli/help.js'
import { type Request, parseRequest } from './cli/request.js'
import type { Io, Cli } from './cli/io.js'
import { exitInvalid } from './cli/exit.js'
import { planFor } from './cli/plan-for.js'
import { runAndSay, confirmUpdate } from './cli/run.js'
import { listOrReap } from './cli/listing.js'

/**
 * `host` is read here unless given: main is the edge, and nothing below it reads the cwd, the
 * clock, isTTY or the environment itself.
 */
export const main = async (argv: readonly string[], io: Io, host: Surroundings = readSurroundings(io.env)): Promise<number> => {
  const parsed = parseRequest(argv)
  switch (parsed._tag) {
    case 'invalid':
      io.err(`bottle: ${parsed.message}`)
      return exitInvalid
    case 'help':
      io.out(helpText(parsed.topic))
      return 0
    case 'version':
      io.out(`${version}\n`)
      return 0
    case 'savedPlan': {
      // Loaded only here: the plan decoder is no part of any other command's start-up.
      const saved = await import('./saved-plan.js')
      const cli = { ...io, host }
      return saved.runSavedPlan(parsed, io, host, (plan, quiet) => runAndSay(plan, quiet, cli))
    }
    case 'dash': {
      // Its own bundle (dist/dash.js), loaded only here: bottle plan's start-up does not carry it.
      const { runDash } = await import('./dash.js')
      return runDash(parsed.words, { ...io, host })
    }
    case 'request':
      return answer(parsed.request, { ...io, host })
  }
}

export const answer = async (req: Request, io: Cli): Promise<number> => {
  if (req.op === 'ls' || (req.op === 'down' && req.flags.all === true)) return listOrReap(req, io)
  // Host-only, in its own module: no part of the other ops' start-up.
  if (req.op === 'auth') return (await import('./auth-cli.js')).authOp(req, io)
  const planned = await planFor(req, io)
  if (E.isLeft(planned)) {
    io.err(`bottle: ${planned.left.message}`)
    return exitInvalid
  }
  const plan = planned.right
  if (req.mode === 'plan') {
    io.out(render(plan, req.flags.format as Format))
    return 0
  }
  // docker and smolvm refuse -t when stdin is not a terminal ("the input device is not a TTY",
  // exit 1, after bottle's other checks); kubectl quietly drops it. One rule for every backend,
  // said before anything runs.
  if (req.flags.tty === true && (req.op === 'agent' || req.op === 'resume' || req.op === 'shell') && !io.host.stdinIsTTY) {
    io.err('bottle: --tty needs a terminal on stdin, and stdin is not one (a pipe or a file): drop --tty, or run from a terminal')
    return exitInvalid
  }
  // --check-drift's finding is a warning: the op still runs, on the bottle as it is.
  for (const line of runWarnings(plan)) io.err(line)
  if (plan.op === 'update') {
    const refused = await confirmUpdate(plan, req, io)
    if (refused !== null) return refused
  }
  return runAndSay(plan, req.flags.quiet === true, io)
}
export { bugReport, exitBug } from './cli/exit.js'
export type { Io } from './cli/io.js'
