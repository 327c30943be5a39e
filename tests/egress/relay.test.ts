// The guest relay, run by node on the host against a real proxy socket: a client that only knows
// HTTP_PROXY=http://127.0.0.1:PORT reaches an allowed upstream, the probe name, and a 403.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AllowEntry, parseEntry } from '../../src/egress/policy.js'
import { egressProxy, probeBody, probeHost } from '../../src/egress/proxy.js'
import { relayNodeArgv, relayNodeWords, relaySocatArgv } from '../../src/egress/relay.js'
import { relayStartScriptTo } from '../../src/backends/egress.js'

const entry = (t: string): AllowEntry => {
  const e = parseEntry(t)
  if (E.isLeft(e)) throw new Error(e.left)
  return e.right
}

const freePort = (): Promise<number> =>
  new Promise((ok) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => ok(port))
    })
  })

const listening = async (port: number): Promise<void> => {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((ok) => {
      const c = net.connect(port, '127.0.0.1')
      c.once('connect', () => (c.destroy(), ok(true)))
      c.once('error', () => ok(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`)
}

/** curl with only the proxy env a bottle's commands get: the client decides nothing itself. */
const curl = (proxyPort: number, url: string, what = 'http_code'): Promise<{ code: number; out: string }> =>
  new Promise((ok) => {
    execFile(
      'curl',
      ['-s', '-S', '-w', `\\n%{${what}}`, url],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, http_proxy: `http://127.0.0.1:${proxyPort}`, https_proxy: `http://127.0.0.1:${proxyPort}` } },
      (err, stdout) => ok({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), out: stdout }),
    )
  })

describe('the node relay, on the host, in front of a real proxy socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-relay-'))
  const socketPath = join(dir, 'egress.sock')
  const log: string[] = []
  let upstream: http.Server
  let upPort = 0
  let proxy: http.Server
  let relay: ChildProcess
  let relayPort = 0

  beforeAll(async () => {
    upstream = http.createServer((req, res) => res.end(`upstream saw ${req.method} ${req.url}`))
    await new Promise<void>((ok) => upstream.listen(0, '127.0.0.4', () => ok()))
    upPort = (upstream.address() as net.AddressInfo).port
    proxy = egressProxy({
      allow: [entry(`allowed.test:${upPort}/private`)],
      lookup: async (name) => (name === 'allowed.test' ? ['127.0.0.4'] : []),
      log: (l) => log.push(l),
    })
    await new Promise<void>((ok) => proxy.listen(socketPath, () => ok()))
    relayPort = await freePort()
    const [cmd, ...args] = relayNodeArgv(socketPath, relayPort)
    relay = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    await listening(relayPort)
  })

  afterAll(async () => {
    relay.kill('SIGTERM')
    for (const s of [proxy, upstream]) await new Promise((ok) => s.close(ok))
    rmSync(dir, { recursive: true, force: true })
  })

  it('carries the probe to the proxy', async () => {
    expect(await curl(relayPort, `http://${probeHost}/`)).toStrictEqual({ code: 0, out: `${probeBody}\n200` })
  })

  it('carries plain HTTP to an allowed upstream', async () => {
    expect(await curl(relayPort, `http://allowed.test:${upPort}/x?y=1`)).toStrictEqual({ code: 0, out: `upstream saw GET /x?y=1\n200` })
  })

  it('carries a refusal back: 403 with the rule', async () => {
    const r = await curl(relayPort, 'http://denied.test/')
    expect(r).toStrictEqual({ code: 0, out: 'bottle egress: refused: denied.test:80 is not on the allow-list\n\n403' })
  })

  it('carries CONNECT (curl tunnels https through it): refused for a host off the list', async () => {
    const r = await curl(relayPort, 'https://denied.test/', 'http_connect')
    // curl reports the proxy's CONNECT answer: 403, and no tunnel (exit 56).
    expect(r.code).toBe(56)
    expect(r.out.endsWith('403')).toBe(true)
    expect(log[log.length - 1]).toMatch(/ refused CONNECT denied.test:443 /)
  })

  // The real agent's request to an off-list base URL is a POST of 100 KB and more: a proxy that
  // answered while the body was still coming made the relay's write fail, and the client saw a
  // reset (about one try in five) instead of the 403.
  it('carries a refusal back to a client still sending a large body: 403 every time, never a reset', async () => {
    const post = (size: number) =>
      new Promise<string>((ok) => {
        const req = http.request({ host: '127.0.0.1', port: relayPort, method: 'POST', path: 'http://denied.test/v1/messages', headers: { 'content-length': String(size) }, agent: false }, (res) => {
          res.resume()
          res.on('end', () => ok(String(res.statusCode)))
        })
        req.on('error', (e: NodeJS.ErrnoException) => ok(e.code ?? e.message))
        req.end(Buffer.alloc(size, 'x'))
      })
    const outcomes: string[] = []
    for (let i = 0; i < 30; i++) outcomes.push(await post(i % 2 === 0 ? 1_000_000 : 200_000))
    expect(outcomes.filter((o) => o !== '403')).toEqual([])
  })

  it('a second relay on the same port exits 1 with one line', async () => {
    const [cmd, ...args] = relayNodeArgv(socketPath, relayPort)
    const r = await new Promise<{ code: number | null; err: string }>((ok) => {
      const p = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()))
      p.on('close', (code) => ok({ code, err }))
    })
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^bottle egress relay: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n$/)
  })
})

describe('the node relay with a TCP upstream (kubernetes: the proxy Service), on the host, in front of a real proxy', () => {
  let proxy: http.Server
  let relay: ChildProcess
  let relayPort = 0

  beforeAll(async () => {
    proxy = egressProxy({ allow: [entry('allowed.test:443')], lookup: async () => [], log: () => {} })
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', () => ok()))
    const proxyPort = (proxy.address() as net.AddressInfo).port
    relayPort = await freePort()
    // As the Pod's relay start script runs it: the upstream HOST:PORT from the Service's env vars.
    const [cmd, ...args] = [...relayNodeWords, `127.0.0.1:${proxyPort}`, String(relayPort)]
    relay = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    await listening(relayPort)
  })

  afterAll(async () => {
    relay.kill('SIGTERM')
    await new Promise((ok) => proxy.close(ok))
  })

  it('carries the probe to the proxy, and its 403 back', async () => {
    expect(await curl(relayPort, `http://${probeHost}/`)).toStrictEqual({ code: 0, out: `${probeBody}\n200` })
    expect(await curl(relayPort, 'http://denied.test/')).toStrictEqual({ code: 0, out: 'bottle egress: refused: denied.test:80 is not on the allow-list\n\n403' })
  })

  it("the relay start script fails, one line, when the Service's env vars are not in the bottle (a Pod made before its Service)", async () => {
    const script = relayStartScriptTo({ _tag: 'service env', hostVar: 'EGRESS_DEMO_SERVICE_HOST', portVar: 'EGRESS_DEMO_SERVICE_PORT' })
    const r = await new Promise<{ code: number | null; err: string }>((ok) => {
      const p = spawn('dash', ['-c', script, 'sh'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', EGRESS_DEMO_SERVICE_HOST: '10.96.0.7' }, stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()))
      p.on('close', (code) => ok({ code, err }))
    })
    expect(r).toStrictEqual({
      code: 1,
      err: "bottle: EGRESS_DEMO_SERVICE_HOST or EGRESS_DEMO_SERVICE_PORT is not set in the bottle: the egress proxy's Service must exist before the bottle's Pod is made\n",
    })
  })
})

describe('relay argv', () => {
  it('socat listens on loopback only and forks per connection', () => {
    expect(relaySocatArgv('/run/bottle-egress/egress.sock')).toStrictEqual([
      'socat',
      'TCP-LISTEN:3128,bind=127.0.0.1,reuseaddr,fork',
      'UNIX-CONNECT:/run/bottle-egress/egress.sock',
    ])
  })

  it.each(['relative/egress.sock', '/run/a,b.sock', '/run/a:b', '/run/a b'])('refuses the socket path %j (socat would read it as options)', (p) => {
    expect(() => relaySocatArgv(p)).toThrow(/must be absolute/)
    expect(() => relayNodeArgv(p)).toThrow(/must be absolute/)
  })

  it('node runs the relay source with the socket as its one argument', () => {
    const argv = relayNodeArgv('/run/bottle-egress/egress.sock')
    expect(argv.length).toBe(4)
    expect([argv[0], argv[1], argv[3]]).toStrictEqual(['node', '-e', '/run/bottle-egress/egress.sock'])
  })
})
