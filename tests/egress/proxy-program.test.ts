// dist/egress-proxy.js as the plan runs it: start (detached, idempotent), the socket, the log,
// proxyRunning from file reads, stop (idempotent). Built by the vitest global setup.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { probeBody, probeHost } from '../../src/egress/proxy.js'
import { cmdlineOf, logFileOf, pidFileOf, proxyRunning, runningAllow, socketOf } from '../../src/egress/state.js'

const script = fileURLToPath(new URL('../../dist/egress-proxy.js', import.meta.url))

const run = (...args: string[]): Promise<{ code: number; stderr: string }> =>
  new Promise((ok) => {
    execFile(process.execPath, [script, ...args], { env: {} }, (err, _stdout, stderr) =>
      ok({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stderr }),
    )
  })

const probe = (socketPath: string): Promise<{ status: number; body: string }> =>
  new Promise((ok, fail) => {
    const req = http.request({ socketPath, path: `http://${probeHost}/`, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', fail)
    req.end()
  })

describe('dist/egress-proxy.js', () => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-proxy-'))
  const dir = join(root, 'docker', 'demo', 'egress')

  afterAll(async () => {
    await run('stop', '--dir', dir)
    rmSync(root, { recursive: true, force: true })
  })

  it('start: 0 once the socket accepts; it serves the probe and logs the decision', async () => {
    expect(proxyRunning(dir)).toBe(false)
    expect(await run('start', '--dir', dir, '--allow', 'github.com:443', '--allow', '[::1]:8080')).toStrictEqual({ code: 0, stderr: '' })
    expect(proxyRunning(dir)).toBe(true)
    expect(runningAllow(dir)).toStrictEqual(['github.com:443', '[::1]:8080'])
    expect(await probe(socketOf(dir))).toStrictEqual({ status: 200, body: probeBody })
    expect(readFileSync(logFileOf(dir), 'utf8')).toMatch(new RegExp(`^\\S+ probe GET ${probeHost}:80\\n$`))
  })

  it('start again with the same policy: the same process; with another: a new one serving that', async () => {
    const pid = readFileSync(pidFileOf(dir), 'utf8')
    expect((await run('start', '--dir', dir, '--allow', 'github.com:443', '--allow', '[::1]:8080')).code).toBe(0)
    expect(readFileSync(pidFileOf(dir), 'utf8')).toBe(pid)
    expect((await run('start', '--dir', dir, '--allow', 'registry.npmjs.org:443')).code).toBe(0)
    expect(readFileSync(pidFileOf(dir), 'utf8')).not.toBe(pid)
    expect(runningAllow(dir)).toStrictEqual(['registry.npmjs.org:443'])
    expect((await probe(socketOf(dir))).status).toBe(200)
  })

  it('stop: the process and socket are gone; stop again is 0', async () => {
    expect(await run('stop', '--dir', dir)).toStrictEqual({ code: 0, stderr: '' })
    expect(proxyRunning(dir)).toBe(false)
    expect(existsSync(socketOf(dir))).toBe(false)
    expect(await run('stop', '--dir', dir)).toStrictEqual({ code: 0, stderr: '' })
  })

  it('a pid file naming another process is not this proxy: proxyRunning false, stop leaves that process alone', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    writeFileSync(pidFileOf(dir), `${process.pid}\n`)
    expect(proxyRunning(dir)).toBe(false)
    expect((await run('stop', '--dir', dir)).code).toBe(0)
    // This test process is still here to see it.
    expect(process.kill(process.pid, 0)).toBe(true)
  })

  it.each([
    [['start', '--dir', 'relative', '--allow', 'github.com:443'], 'egress-proxy: --dir "relative" must be an absolute path\n'],
    [['start', '--dir', '/tmp/x', '--allow', '*'], 'egress-proxy: --allow: "*" is too broad: it allows every host (use network: open for that)\n'],
    [['start', '--dir', '/tmp/x', '--allow', 'github.com'], 'egress-proxy: --allow "github.com" must be written as github.com:443\n'],
    [['restart', '--dir', '/tmp/x'], 'egress-proxy: usage: egress-proxy.js start|serve --dir DIR [--allow HOST:PORT …] | serve --listen PORT [--allow HOST:PORT …] | stop --dir DIR\n'],
    [['serve', '--listen', '0'], 'egress-proxy: --listen "0" must be a TCP port, 1 to 65535\n'],
    [['serve', '--listen', '3128', '--dir', '/tmp/x'], 'egress-proxy: --dir and --listen do not go together (usage: egress-proxy.js start|serve --dir DIR [--allow HOST:PORT …] | serve --listen PORT [--allow HOST:PORT …] | stop --dir DIR)\n'],
    [['start', '--listen', '3128'], 'egress-proxy: unknown argument "--listen" (usage: egress-proxy.js start|serve --dir DIR [--allow HOST:PORT …] | serve --listen PORT [--allow HOST:PORT …] | stop --dir DIR)\n'],
  ])('refuses %j: exit 2, one line', async (args, stderr) => {
    expect(await run(...args)).toStrictEqual({ code: 2, stderr })
  })
})

/** A TCP port nobody listens on now (the kernel's pick, then released). */
const freePort = (): Promise<number> =>
  new Promise((ok, fail) => {
    const s = net.createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => ok(port))
    })
  })

/** One raw HTTP exchange with the proxy over TCP: the whole answer, once the proxy closes or 5 s pass. */
const askTcp = (port: number, request: string): Promise<string> =>
  new Promise((ok) => {
    let got = ''
    const s = net.connect({ host: '127.0.0.1', port })
    s.setTimeout(5000, () => s.destroy())
    s.on('connect', () => s.write(request))
    s.on('data', (d: Buffer) => (got += d.toString()))
    s.on('close', () => ok(got))
    s.on('error', () => ok(got))
  })

describe('dist/egress-proxy.js serve --listen (the proxy as a Kubernetes Pod runs it)', () => {
  it('serves on TCP, answers the probe name, refuses an off-list host with 403, logs each decision on stdout', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [script, 'serve', '--listen', String(port), '--allow', 'github.com:443'], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    try {
      for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50))
      expect(out).toBe(`egress proxy: listening on TCP ${port}, 1 allowed: github.com:443\n`)
      const ok = await askTcp(port, `GET http://${probeHost}/ HTTP/1.1\r\nHost: ${probeHost}\r\nConnection: close\r\n\r\n`)
      expect(ok).toMatch(/^HTTP\/1\.1 200 /)
      expect(ok).toContain(probeBody)
      const denied = await askTcp(port, 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n')
      expect(denied).toMatch(/^HTTP\/1\.1 403 /)
      expect(denied).toContain('evil.test:443 is not on the allow-list')
      const lines = out.trim().split('\n')
      expect(lines).toHaveLength(3)
      expect(lines[1]).toMatch(new RegExp(`^\\S+ probe GET ${probeHost}:80$`))
      expect(lines[2]).toMatch(/evil\.test:443/)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    // SIGTERM (the kubelet's stop) ends it cleanly.
    expect(child.exitCode).toBe(0)
  })
})

describe('dist/egress-proxy.js: no proxy outlives what bottle can find it by', () => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-proxy-orphan-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  // A process that has ended but is not reaped yet (a zombie, whose parent is init) has an empty cmdline.
  const running = (pid: number): boolean => (cmdlineOf(pid) ?? []).join('') !== ''
  const gone = async (pid: number, ms: number): Promise<boolean> => {
    for (let waited = 0; waited < ms && running(pid); waited += 50) await new Promise((r) => setTimeout(r, 50))
    return !running(pid)
  }

  it('stop ends a proxy of DIR that wrote no pidfile (its start was interrupted first), and leaves one of another DIR', async () => {
    const dir = join(root, 'interrupted', 'egress')
    const other = join(root, 'other', 'egress')
    // A serve still starting up, before its pidfile: the same cmdline, a process that waits. Its
    // script is named like the bundle, as every proxy's is.
    const fake = join(root, 'bin', 'egress-proxy.js')
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync(join(root, 'bin'), { recursive: true })
    writeFileSync(fake, 'setInterval(() => {}, 1000)\n')
    const starting = spawn(process.execPath, [fake, 'serve', '--dir', dir, '--allow', 'github.com:443'], { stdio: 'ignore' })
    const bystander = spawn(process.execPath, [fake, 'serve', '--dir', other, '--allow', 'github.com:443'], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 200))
      expect(existsSync(pidFileOf(dir))).toBe(false)
      expect(await run('stop', '--dir', dir)).toStrictEqual({ code: 0, stderr: '' })
      expect(await gone(starting.pid ?? 0, 500)).toBe(true)
      expect(running(bystander.pid ?? 0)).toBe(true)
    } finally {
      starting.kill('SIGKILL')
      bystander.kill('SIGKILL')
    }
  })

  it('a serving proxy whose directory is removed (its bottle removed behind bottle\'s back) ends itself', async () => {
    const dir = join(root, 'removed', 'egress')
    expect((await run('start', '--dir', dir, '--allow', 'github.com:443')).code).toBe(0)
    const pid = Number(readFileSync(pidFileOf(dir), 'utf8'))
    rmSync(join(root, 'removed'), { recursive: true, force: true })
    try {
      expect(await gone(pid, 3000)).toBe(true)
    } finally {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone, as it should be
      }
    }
  })
})
