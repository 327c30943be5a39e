/**
 * The guard against tests that leave egress proxies running (a launch with an allow-list and no
 * `down`, or an undo that missed its proxy): the vitest global setup notes the proxies of this
 * worktree's bundle that run before the tests, and its teardown FAILS the run, naming each one,
 * if any other is running after them. It then stops those, so one failed run does not leave them
 * to the next; the failure, not the stop, is the point.
 *
 * A proxy is this worktree's when /proc/PID/cmdline is `node ROOT/dist/egress-proxy.js serve …`:
 * other checkouts on the same machine run their own bundle, and their proxies are not ours.
 */
import { readdirSync, readFileSync } from 'node:fs'

export interface LeftProxy {
  readonly pid: number
  readonly dir: string
  /** Its whole command line, words joined by spaces (for the message). */
  readonly cmdline: string
}

/** The `serve` processes of the proxy bundle at `script`, from /proc. */
export const proxiesOf = (script: string): LeftProxy[] =>
  readdirSync('/proc').flatMap((entry) => {
    if (!/^[0-9]+$/.test(entry)) return []
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
    } catch {
      return []
    }
    const at = argv.indexOf(script)
    if (at < 0 || argv[at + 1] !== 'serve') return []
    const d = argv.indexOf('--dir', at)
    return [{ pid: Number(entry), dir: d < 0 ? '(no --dir)' : (argv[d + 1] ?? ''), cmdline: argv.filter((a, i) => !(a === '' && i === argv.length - 1)).join(' ') }]
  })

/** What the teardown says when tests left proxies: one line per proxy. */
export const leftoverMessage = (left: readonly LeftProxy[]): string =>
  [
    `${left.length} egress prox${left.length === 1 ? 'y' : 'ies'} started by the tests still running after them (each test must down or stop what it launches):`,
    ...left.map((p) => `  pid ${p.pid}: ${p.cmdline}`),
  ].join('\n')
