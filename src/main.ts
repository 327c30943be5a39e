/**
 * The `bottle` executable: wires the real process to the CLI and sets the exit code.
 */
import { bugReport, exitBug, main } from './cli.js'
import { readSurroundings } from './host.js'

// `bottle plan … | head` closes the pipe early: that reader has what it wanted, so stop quietly
// instead of crashing on EPIPE with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw e
})

// A closed terminal (SIGHUP, a dropped ssh) makes writes to stderr fail: that must not stop the
// undo that follows an interrupt, so such an error is dropped rather than thrown.
process.stderr.on('error', () => {})

// No top-level await: the bundle is CommonJS (scripts/build.mjs says why).
main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
}, readSurroundings(process.env)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    // A throw is a bug in bottle. Uncaught, node would print the bundled source line around it
    // (kilobytes of minified code) and a stack: one line instead, the stack only when asked.
    for (const line of bugReport(e, process.env.BOTTLE_DEBUG === '1')) process.stderr.write(`${line}\n`)
    process.exitCode = exitBug
  },
)
