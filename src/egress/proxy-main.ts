/**
 * The egress proxy as a program (bundled alone as dist/egress-proxy.js; `bottle plan` never loads
 * it). Argv only: no env, no secrets.
 *
 *   node dist/egress-proxy.js start --dir DIR --allow github.com:443 …   # detached; 0 once the socket accepts
 *   node dist/egress-proxy.js stop --dir DIR                              # 0 also when none runs (for undo and down)
 *   node dist/egress-proxy.js serve --dir DIR --allow …                   # the server, in the foreground
 *   node egress-proxy.js serve --listen 3128 --allow …                    # on TCP, logging to stdout (a Pod)
 *
 * It serves on DIR/sock/egress.sock, logs one line per decision to DIR/egress.log and keeps its pid
 * in DIR/egress.pid. `start` with the same allow-list as the running proxy does nothing; with
 * another, it stops that one first (the plan's list is the launch record's, so it wins).
 *
 * `serve --listen PORT` is the proxy as a Kubernetes Pod runs it (src/backends/kubernetes.ts): TCP
 * on every address of the Pod, one line per decision on stdout (`kubectl logs`), no directory and
 * no pidfile (the kubelet restarts it); who may connect is the NetworkPolicy's business.
 */
// This file is a separate program, started by a plan step through src/spawn.ts; detaching its
// own server is the one thing it spawns (eslint.config.js names it).
import { spawn } from 'node:child_process'
import { appendFileSync, chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { type AllowEntry, formatEntry, parseEntry } from './policy.js'
import { egressProxy, systemLookup } from './proxy.js'
import { cmdlineOf, isProxyFor, logFileOf, pidFileOf, proxyPidsFor, runningAllow, runningProxyPid, socketDirOf, socketOf } from './state.js'

type Args =
  | { readonly command: 'start' | 'stop' | 'serve'; readonly dir: string; readonly allow: readonly AllowEntry[] }
  | { readonly command: 'serve'; readonly listen: number; readonly allow: readonly AllowEntry[] }

class Usage extends Error {}

const usage = 'usage: egress-proxy.js start|serve --dir DIR [--allow HOST:PORT …] | serve --listen PORT [--allow HOST:PORT …] | stop --dir DIR'

export const parseArgs = (argv: readonly string[]): Args => {
  const [command, ...rest] = argv
  if (command !== 'start' && command !== 'stop' && command !== 'serve') throw new Usage(usage)
  let dir: string | null = null
  let listen: number | null = null
  const allow: AllowEntry[] = []
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]]
    if (value === undefined) throw new Usage(`${flag} needs a value (${usage})`)
    if (flag === '--dir') {
      if (!isAbsolute(value)) throw new Usage(`--dir ${JSON.stringify(value)} must be an absolute path`)
      dir = resolve(value)
    } else if (flag === '--listen' && command === 'serve') {
      if (!/^[1-9][0-9]{0,4}$/.test(value) || Number(value) > 65535) throw new Usage(`--listen ${JSON.stringify(value)} must be a TCP port, 1 to 65535`)
      listen = Number(value)
    } else if (flag === '--allow' && command !== 'stop') {
      const e = parseEntry(value)
      // The plan writes entries with formatEntry: anything else did not come from bottle.
      if (E.isLeft(e)) throw new Usage(`--allow: ${e.left}`)
      if (formatEntry(e.right) !== value) throw new Usage(`--allow ${JSON.stringify(value)} must be written as ${formatEntry(e.right)}`)
      allow.push(e.right)
    } else throw new Usage(`unknown argument ${JSON.stringify(flag)} (${usage})`)
  }
  if (dir !== null && listen !== null) throw new Usage(`--dir and --listen do not go together (${usage})`)
  if (listen !== null) return { command: 'serve', listen, allow }
  if (dir === null) throw new Usage(`--dir is required (${usage})`)
  return { command, dir, allow }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether the socket accepts a connection now. */
const accepts = (path: string): Promise<boolean> =>
  new Promise((done) => {
    const s = net.connect(path)
    s.once('connect', () => {
      s.destroy()
      done(true)
    })
    s.once('error', () => done(false))
  })

const alive = (pid: number, dir: string): boolean => {
  const argv = cmdlineOf(pid)
  return argv !== null && isProxyFor(argv, dir)
}

const removeQuietly = (path: string) => rmSync(path, { force: true })

// -------------------------------------------------------------------------------------------------
// commands
// -------------------------------------------------------------------------------------------------

/** The proxy in a Pod: TCP on every address, decisions on stdout, ended by the kubelet's SIGTERM. */
const serveTcp = async (port: number, allow: readonly AllowEntry[]): Promise<void> => {
  const server = egressProxy({ allow, lookup: systemLookup, log: (line) => process.stdout.write(`${line}\n`) })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(port, () => ok())
  })
  process.stdout.write(`egress proxy: listening on TCP ${port}, ${allow.length} allowed: ${allow.map(formatEntry).join(', ')}\n`)
  const quit = () => {
    server.close()
    process.exit(0)
  }
  process.on('SIGTERM', quit)
  process.on('SIGINT', quit)
}

const serve = async (a: Extract<Args, { dir: string }>): Promise<void> => {
  mkdirSync(a.dir, { recursive: true, mode: 0o700 })
  mkdirSync(socketDirOf(a.dir), { recursive: true, mode: 0o755 })
  // The guest's user (any uid) must reach the socket through the read-only bind of sock/.
  chmodSync(socketDirOf(a.dir), 0o755)
  const other = runningProxyPid(a.dir)
  if (other !== null && other !== process.pid) throw new Error(`a proxy already serves ${a.dir} (pid ${other})`)
  const socket = socketOf(a.dir)
  removeQuietly(socket)
  const logFile = logFileOf(a.dir)
  const server = egressProxy({ allow: a.allow, lookup: systemLookup, log: (line) => appendFileSync(logFile, `${line}\n`, { mode: 0o600 }) })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(socket, () => ok())
  })
  chmodSync(socket, 0o666)
  writeFileSync(pidFileOf(a.dir), `${process.pid}\n`, { mode: 0o600 })
  const quit = () => {
    server.close()
    if (ownsPidFile(a.dir)) {
      removeQuietly(socket)
      removeQuietly(pidFileOf(a.dir))
    }
    process.exit(0)
  }
  process.on('SIGTERM', quit)
  process.on('SIGINT', quit)
  // A proxy whose pidfile no longer names it cannot be reached or stopped by bottle: its directory
  // was removed (a bottle removed behind bottle's back, a state directory deleted), or another
  // proxy took the directory over. It goes, rather than run on for nobody.
  setInterval(() => {
    if (!ownsPidFile(a.dir)) {
      server.close()
      process.exit(0)
    }
  }, orphanCheckMs).unref()
}

/** How often a serving proxy checks that its pidfile still names it. */
const orphanCheckMs = 1000

/** Whether DIR/egress.pid names this process. */
const ownsPidFile = (dir: string): boolean => {
  try {
    return readFileSync(pidFileOf(dir), 'utf8').trim() === String(process.pid)
  } catch {
    return false
  }
}

/**
 * Stops every proxy of DIR: the one its pidfile names, and any other /proc shows serving DIR (one
 * whose start was interrupted before it wrote its pidfile, whose pidfile was removed, or that lost
 * a race for the directory). The pidfile alone missed those, and they ran on after the undo.
 */
const stop = async (dir: string): Promise<void> => {
  const named = runningProxyPid(dir)
  const pids = [...new Set([...(named === null ? [] : [named]), ...proxyPidsFor(dir)])]
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig)
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of pids) signal(pid, 'SIGTERM')
  const anyAlive = () => pids.some((pid) => alive(pid, dir))
  for (let i = 0; i < 60 && anyAlive(); i++) await sleep(50)
  for (const pid of pids) if (alive(pid, dir)) signal(pid, 'SIGKILL')
  for (let i = 0; i < 20 && anyAlive(); i++) await sleep(50)
  removeQuietly(socketOf(dir))
  removeQuietly(pidFileOf(dir))
}

const start = async (a: Extract<Args, { dir: string }>): Promise<void> => {
  const wanted = a.allow.map(formatEntry)
  const running = runningAllow(a.dir)
  if (running !== null && JSON.stringify(running) === JSON.stringify(wanted) && (await accepts(socketOf(a.dir)))) return
  if (running !== null) await stop(a.dir)
  mkdirSync(a.dir, { recursive: true, mode: 0o700 })
  const errFile = `${a.dir}/egress.err`
  const err = openSync(errFile, 'w', 0o600)
  const script = resolve(process.argv[1] as string)
  const child = spawn(process.execPath, [script, 'serve', '--dir', a.dir, ...a.allow.flatMap((e) => ['--allow', formatEntry(e)])], {
    detached: true,
    stdio: ['ignore', 'ignore', err],
    env: {},
    cwd: '/',
  })
  closeSync(err)
  let exited: number | null = null
  child.once('exit', (code) => {
    exited = code ?? 1
  })
  child.unref()
  for (let i = 0; i < 100; i++) {
    if (exited !== null) break
    if (runningProxyPid(a.dir) === child.pid && (await accepts(socketOf(a.dir)))) return
    await sleep(50)
  }
  const why = readFileSync(errFile, 'utf8').trim().split('\n').filter((l) => l !== '').pop()
  if (exited === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
  throw new Error(`the egress proxy did not start on ${socketOf(a.dir)}${why === undefined ? ' within 5 s' : `: ${why}`}`)
}

const main = async (): Promise<number> => {
  let a: Args
  try {
    a = parseArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`egress-proxy: ${(e as Error).message}\n`)
    return 2
  }
  try {
    if ('listen' in a) {
      await serveTcp(a.listen, a.allow)
      return -1
    }
    if (a.command === 'serve') {
      await serve(a)
      return -1
    }
    await (a.command === 'start' ? start(a) : stop(a.dir))
    return 0
  } catch (e) {
    process.stderr.write(`egress-proxy: ${(e as Error).message.split('\n')[0]}\n`)
    return 1
  }
}

void main().then((code) => {
  // serve keeps running on its server; the others exit now (start leaves its child detached).
  if (code >= 0) process.exit(code)
})
