/**
 * The egress door on real bwrap, through the built CLI (dist/bottle.js and dist/egress-proxy.js),
 * offline: fake upstreams on loopback addresses of the host, entries marked private. An allowed
 * host is served through the proxy; a host off the list gets 403; an IP literal no entry names
 * is refused; a direct connection fails, and its control (a `network: host` bottle) reaches the
 * same host listener, so that check can fail; a launch whose door is broken fails its probe and
 * is undone; down stops the proxy.
 */
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const dist = join(import.meta.dirname, '..', '..', 'dist')
const hostDir = mkdtempSync('/var/tmp/bottle-egress-')
const stateHome = join(hostDir, 'state')
const stateOf = (name: string) => join(stateHome, 'bottle', 'bwrap', name)
const ws = mkdtempSync(join(tmpdir(), 'bottle-egress-ws-'))

/** Runs bottle without blocking this process: the fake upstreams it must reach live in it. */
const bottle = (cli: string, args: readonly string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((done) => {
    const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => done({ status, stdout, stderr }))
  })
const cli = join(dist, 'bottle.js')

const project = (name: string, network: readonly string[]): string => {
  const dir = join(ws, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'bottle.yaml'), ['backend: bwrap', 'bottles:', `  ${name}:${network.length === 0 ? ' {}' : ''}`, ...network.map((l) => `    ${l}`), ''].join('\n'))
  return dir
}

/** A host address that is not loopback: what a sandbox without a network cannot reach. */
const outsideAddress = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address

const listen = (server: Server | ReturnType<typeof createTcpServer>, host: string): Promise<number> =>
  new Promise((ok) => server.listen(0, host, () => ok((server.address() as { port: number }).port)))

// The upstream the allow-list names (127.0.0.2, marked private), one it does not (127.0.0.3), and
// a plain TCP listener on the host's outside address for the direct-connection check.
const upstream = createServer((_req, res) => res.end('upstream-ok\n'))
const offList = createServer((_req, res) => res.end('off-list-reached\n'))
const direct = createTcpServer((c) => c.end('direct-reached\n'))
let upPort = 0
let offPort = 0
let directPort = 0
beforeAll(async () => {
  upPort = await listen(upstream, '127.0.0.2')
  offPort = await listen(offList, '127.0.0.3')
  directPort = await listen(direct, '0.0.0.0')
})
afterAll(async () => {
  upstream.close()
  offList.close()
  direct.close()
  for (const name of ['door', 'open-control', 'broken']) await bottle(cli, ['run', 'down', name, '-q'], join(ws, name))
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

/** node in the guest: print what a TCP connection to HOST:PORT gives, or the error's code. */
const connectScript = (host: string, port: number) =>
  `node -e 'const s=require("net").connect(${port},"${host}");s.setTimeout(3000,()=>{console.log("TIMEOUT");s.destroy()});s.on("data",(d)=>process.stdout.write(d));s.on("error",(e)=>console.log(e.code))'`

const haveBwrap = onPath('bwrap', process.env.PATH)

describe.skipIf(!haveBwrap && !process.env.CI)('the egress door on real bwrap', () => {
  it('launch proves the door (the probe runs last); allowed served, off-list 403, IP literal refused, direct fails; down stops the proxy', async () => {
    const dir = project('door', ['network:', `  allow: ["127.0.0.2:${upPort}/private"]`])
    const launched = await bottle(cli, ['run', 'launch', 'door'], dir)
    // The probe ran (the progress lines show each step's argv).
    expect(launched.stderr).toContain('egress-probe.bottle.invalid')
    expect(launched.status).toBe(0)
    const log = join(stateOf('door'), 'egress', 'egress.log')

    // Allowed: curl goes through the proxy (HTTP_PROXY from bottle), which reaches the upstream.
    const served = await bottle(cli, ['run', 'exec', 'door', `curl -sS --max-time 10 http://127.0.0.2:${upPort}/`], dir)
    expect(served).toMatchObject({ status: 0, stdout: 'upstream-ok\n' })
    // Off the list, by name: 403 from the proxy, whose body names the rule.
    const denied = await bottle(cli, ['run', 'exec', 'door', 'curl -sS --max-time 10 -o /dev/null -w "%{http_code}" https://example.com/; echo " $?"'], dir)
    expect(denied.stdout.trim()).toMatch(/^(403|000) \d+$/)
    const deniedPlain = await bottle(cli, ['run', 'exec', 'door', 'curl -sS --max-time 10 -w " %{http_code}" http://example.com/'], dir)
    expect(deniedPlain.stdout).toMatch(/ 403$/)
    // An IP literal no entry names (a loopback one, where something does listen): refused.
    const literal = await bottle(cli, ['run', 'exec', 'door', `curl -sS --max-time 10 -w " %{http_code}" http://127.0.0.3:${offPort}/`], dir)
    expect(literal.stdout).not.toContain('off-list-reached')
    expect(literal.stdout).toMatch(/ 403$/)
    // Every decision is a line in the log, on the host.
    const lines = readFileSync(log, 'utf8')
    expect(lines).toContain(`127.0.0.2:${upPort}`)
    expect(lines).toContain('example.com')
    // Direct, bypassing the proxy: no route.
    if (outsideAddress === undefined) throw new Error('the host has no non-loopback IPv4 address for the direct-connection check')
    const bypass = await bottle(cli, ['run', 'exec', 'door', connectScript(outsideAddress, directPort)], dir)
    expect(bypass.stdout).not.toContain('direct-reached')
    expect(bypass.stdout.trim()).toMatch(/^(ENETUNREACH|EHOSTUNREACH|TIMEOUT)$/)
    // probe again, at any time.
    const probed = await bottle(cli, ['run', 'probe', 'door'], dir)
    expect(probed).toMatchObject({ status: 0 })
    expect(probed.stdout).toContain('bottle: egress probe: the proxy answers')

    // down stops the proxy: its pidfile's process is gone (the state directory with it).
    const pid = Number(readFileSync(join(stateOf('door'), 'egress', 'egress.pid'), 'utf8'))
    expect((await bottle(cli, ['run', 'down', 'door', '-q'], dir)).status).toBe(0)
    expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('egress-proxy')).toBe(false)
  })

  it('CONTROL: a bottle with the host network reaches the same host listener, so the direct check can fail', async () => {
    const dir = project('open-control', ['network: host'])
    expect((await bottle(cli, ['run', 'launch', 'open-control', '-q'], dir)).status).toBe(0)
    if (outsideAddress === undefined) throw new Error('the host has no non-loopback IPv4 address')
    const reached = await bottle(cli, ['run', 'exec', 'open-control', connectScript(outsideAddress, directPort)], dir)
    expect(reached.stdout).toContain('direct-reached')
  })

  it('a launch whose door is broken (a proxy that lets everything through) fails the probe and is undone', async () => {
    // A copy of the build whose egress-proxy.js answers 200 to every request: the probe's
    // off-list check must catch it.
    const brokenDist = join(hostDir, 'broken-dist')
    cpSync(dist, brokenDist, { recursive: true })
    writeFileSync(join(brokenDist, 'egress-proxy.js'), brokenProxy)
    const dir = project('broken', [])
    const r = await bottle(join(brokenDist, 'bottle.js'), ['run', 'launch', 'broken'], dir)
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('bottle: egress probe: a host not on the list (egress-probe-denied.bottle.invalid) was not refused with 403')
    // Undone: the state directory (record, home, proxy directory) is gone, and the proxy stopped.
    expect(existsSync(stateOf('broken'))).toBe(false)
    expect(spawnSync('pgrep', ['-f', `${brokenDist}/egress-proxy.js serve`]).status).toBe(1)
  })
})

/**
 * A proxy with the contract's commands (start, stop, serve) that allows everything: start
 * detaches serve and waits for the socket; stop kills the pid in the pidfile.
 */
const brokenProxy = `
const fs = require('node:fs'), net = require('node:net'), path = require('node:path'), cp = require('node:child_process')
const [cmd, , dir] = process.argv.slice(2)
const sock = path.join(dir, 'sock', 'egress.sock'), pidfile = path.join(dir, 'egress.pid')
if (cmd === 'start') {
  fs.mkdirSync(path.join(dir, 'sock'), { recursive: true, mode: 0o755 })
  const child = cp.spawn(process.execPath, [__filename, 'serve', '--dir', dir], { detached: true, stdio: 'ignore' })
  fs.writeFileSync(pidfile, String(child.pid))
  child.unref()
  const until = Date.now() + 5000
  const wait = () => fs.existsSync(sock) ? process.exit(0) : Date.now() > until ? process.exit(1) : setTimeout(wait, 20)
  wait()
} else if (cmd === 'stop') {
  try { process.kill(Number(fs.readFileSync(pidfile, 'utf8'))) } catch {}
  try { fs.rmSync(sock) } catch {}
} else if (cmd === 'serve') {
  net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\\r\\nContent-Length: 16\\r\\nConnection: close\\r\\n\\r\\nbottle-egress-ok'))).listen(sock, () => fs.chmodSync(sock, 0o777))
}
`
