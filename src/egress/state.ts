/**
 * Whether a bottle's egress proxy runs, from files alone (the contract's §2): its pidfile, and
 * /proc/PID/cmdline naming the proxy bundle serving this directory. No process is started and no
 * socket is opened: the plan compiler reads this as a host fact on every op (issue 11: nothing
 * added to every run may start a process).
 *
 *   proxyRunning('/home/me/.local/state/bottle/docker/demo/egress')   // true while its proxy serves
 *
 * Written by lane wire to the contract's shape while lane door built the proxy.
 */
import { readFileSync } from 'node:fs'

/** The file the proxy writes its pid to, in its directory. */
export const pidFile = 'egress.pid'

export const proxyRunning = (dir: string): boolean => {
  let pid: number
  try {
    pid = Number(readFileSync(`${dir}/${pidFile}`, 'utf8').trim())
  } catch {
    return false
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    // A pid is reused after a reboot: it must still be the proxy serving this very directory.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return argv.some((a) => a.endsWith('egress-proxy.js')) && argv.includes('serve') && argv.includes(dir)
  } catch {
    return false
  }
}
