/**
 * The `bottle` executable: wires the real process to the CLI and sets the exit code.
 */
import { bugReport, exitBug, main } from './cli.js'
import { readSurroundings } from './host.js'
import { writeAll } from './stdio.js'

// Written to the descriptors, not through process.stdout/stderr: those getters build node's
// stream objects (node:stream, node:net), a large part of `bottle plan`'s start-up (src/stdio.ts).
const out = (text: string): void => {
  try {
    writeAll(1, text)
  } catch (e) {
    // `bottle plan … | head` closes the pipe early: that reader has what it wanted, so stop
    // quietly instead of crashing on EPIPE with a stack trace.
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  }
}

// A closed terminal (SIGHUP, a dropped ssh) makes writes to stderr fail: that must not stop the
// undo that follows an interrupt, so such an error is dropped rather than thrown.
const err = (text: string): void => {
  try {
    writeAll(2, text)
  } catch {
    // Nowhere left to say it.
  }
}

// No top-level await: the bundle is CommonJS (scripts/build.mjs says why).
main(process.argv.slice(2), { out, err: (line) => err(`${line}\n`), env: process.env }, readSurroundings(process.env)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    // A throw is a bug in bottle. Uncaught, node would print the bundled source line around it
    // (kilobytes of minified code) and a stack: one line instead, the stack only when asked.
    for (const line of bugReport(e, process.env.BOTTLE_DEBUG === '1')) err(`${line}\n`)
    process.exitCode = exitBug
  },
)
