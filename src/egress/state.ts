/**
 * Where a bottle's egress proxy keeps its state, and whether it runs: file reads only (the pid
 * file and /proc/PID/cmdline), no process started and no socket opened, so the plan compiler may
 * ask on every run.
 *
 *   egressDir('/root/.local/state/bottle', 'bwrap', 'demo')   // '/root/.local/state/bottle/bwrap/demo/egress'
 *   proxyRunning(dir)                                          // true when DIR/egress.pid names a live `egress-proxy.js serve --dir DIR`
 *
 * DIR (outside every bind) holds egress.pid, egress.log and sock/egress.sock; only DIR/sock is
 * bound into the guest (read-only, at /run/bottle-egress), so a restarted proxy's new socket is
 * seen there without a new mount.
 */
import { readFileSync, readdirSync } from 'node:fs'

export const egressDir = (stateRoot: string, backend: string, name: string): string => `${stateRoot}/${backend}/${name}/egress`
export const socketDirOf = (dir: string): string => `${dir}/sock`
export const socketOf = (dir: string): string => `${dir}/sock/egress.sock`
export const pidFileOf = (dir: string): string => `${dir}/egress.pid`
export const logFileOf = (dir: string): string => `${dir}/egress.log`

/** Where the guest sees the socket directory, and the socket in it. */
export const guestSocketDir = '/run/bottle-egress'
export const guestSocket = `${guestSocketDir}/egress.sock`

/** The bundle's file name: what /proc/PID/cmdline must show for a pid to be this proxy. */
export const proxyScriptName = 'egress-proxy.js'

/** A process's argv from /proc/PID/cmdline (NUL-separated); null when it is gone or unreadable. */
export const cmdlineOf = (pid: number): string[] | null => {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').slice(0, raw.endsWith('\0') ? -1 : undefined)
  } catch {
    return null
  }
}

/** `node …/egress-proxy.js serve --dir DIR …`: this proxy, for this directory. */
export const isProxyFor = (argv: readonly string[], dir: string): boolean => {
  const script = argv.findIndex((a) => a === proxyScriptName || a.endsWith(`/${proxyScriptName}`))
  if (script < 0 || argv[script + 1] !== 'serve') return false
  const i = argv.indexOf('--dir', script)
  return i > 0 && argv[i + 1] === dir
}

/** The pid in DIR/egress.pid when it is a live proxy serving DIR, else null. */
export const runningProxyPid = (dir: string): number | null => {
  let text: string
  try {
    text = readFileSync(pidFileOf(dir), 'utf8').trim()
  } catch {
    return null
  }
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return null
  const pid = Number(text)
  const argv = cmdlineOf(pid)
  return argv !== null && isProxyFor(argv, dir) ? pid : null
}

/**
 * Every live process that is this directory's proxy, found by its cmdline in /proc, pidfile or
 * not: a proxy whose pidfile is not written yet (its start was interrupted) or was removed with
 * the directory is still this bottle's, and `stop` must find it.
 */
export const proxyPidsFor = (dir: string): number[] =>
  readdirSync('/proc').flatMap((entry) => {
    if (!/^[1-9][0-9]*$/.test(entry)) return []
    const argv = cmdlineOf(Number(entry))
    return argv !== null && isProxyFor(argv, dir) ? [Number(entry)] : []
  })

/** Whether the bottle's proxy runs: for the plan compiler's host facts. */
export const proxyRunning = (dir: string): boolean => runningProxyPid(dir) !== null

/** The `--allow` entries of the running proxy, in order; null when none runs. */
export const runningAllow = (dir: string): string[] | null => {
  const pid = runningProxyPid(dir)
  const argv = pid === null ? null : cmdlineOf(pid)
  if (argv === null) return null
  return argv.flatMap((a, i) => (a === '--allow' && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []))
}
