/**
 * The egress door on a real engine (docker, podman), through the built CLI, offline: the same
 * checks as tests/bwrap/egress.test.ts. The guest talks HTTP with the image's node (the test image
 * has no curl), to the proxy address bottle put in its HTTP_PROXY.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type EngineName, client, onEngine } from './engines.js'

const dist = join(import.meta.dirname, '..', '..', 'dist')

/** A host address that is not loopback: reachable from a bridge network, not from `--network none`. */
const outsideAddress = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address

const listen = (server: Server | ReturnType<typeof createTcpServer>, host: string): Promise<number> =>
  new Promise((ok) => server.listen(0, host, () => ok((server.address() as { port: number }).port)))

/** node in the guest: GET URL through $HTTP_PROXY (absolute URI), print `STATUS BODY` or the error code. */
const viaProxy = (url: string) =>
  `node -e 'const p=new URL(process.env.HTTP_PROXY);require("http").get({host:p.hostname,port:p.port,path:process.argv[1]},(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>console.log(r.statusCode+" "+b.trim()))}).on("error",(e)=>console.log(e.code))' ${url}`

/** node in the guest: what a direct TCP connection to HOST:PORT gives, or the error's code. */
const connectScript = (host: string, port: number) =>
  `node -e 'const s=require("net").connect(${port},"${host}");s.setTimeout(3000,()=>{console.log("TIMEOUT");s.destroy()});s.on("data",(d)=>process.stdout.write(d));s.on("error",(e)=>console.log(e.code))'`

/** The door's tests on that engine (docker and podman alike), or one test saying why not. */
export const egressSuite = (name: EngineName): void => onEngine(name, doorOn)

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

const doorOn = (engine: Engine): void => {
  const root = mkdtempSync(join(tmpdir(), `bottle-egress-${engine.name}-`))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  const tag = randomBytes(3).toString('hex')
  const door = `be-${tag}-door`
  const open = `be-${tag}-open`
  const broken = `be-${tag}-broken`
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state') }
  /** Runs bottle without blocking this process: the fake upstreams it must reach live in it. */
  const bottle = (args: readonly string[], cli = join(dist, 'bottle.js')): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((done) => {
      const child = spawn(process.execPath, [cli, ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('close', (status) => done({ status, stdout, stderr }))
    })
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
    writeFileSync(join(ws, 'bottle.yaml'), [
      `backend: ${engine.name}`,
      'bottles:',
      `  ${door}:`,
      `    image: ${engine.image}`,
      `    network: {allow: ["127.0.0.2:${upPort}/private"]}`,
      `  ${open}:`,
      `    image: ${engine.image}`,
      // The host network: the test engines run with no bridge (scripts/test-engines.sh), so open has none.
      '    network: host',
      `  ${broken}:`,
      `    image: ${engine.image}`,
      '',
    ].join('\n'))
  })
  afterAll(async () => {
    upstream.close()
    offList.close()
    direct.close()
    for (const n of [door, open, broken]) await bottle(['run', 'down', n, '-q'])
    rmSync(root, { recursive: true, force: true })
  })

  describe(`the egress door on ${engine.name}`, () => {
    it('launch proves the door; allowed served, off-list 403, IP literal refused, direct fails; down stops the proxy', async () => {
      const launched = await bottle(['run', 'launch', door])
      expect(launched.stderr).toContain('egress-probe.bottle.invalid')
      expect(launched.status).toBe(0)
      expect((await bottle(['run', 'exec', door, viaProxy(`http://127.0.0.2:${upPort}/`)])).stdout).toBe('200 upstream-ok\n')
      expect((await bottle(['run', 'exec', door, viaProxy('http://example.com/')])).stdout).toMatch(/^403 /)
      const literal = (await bottle(['run', 'exec', door, viaProxy(`http://127.0.0.3:${offPort}/`)])).stdout
      expect(literal).toMatch(/^403 /)
      if (outsideAddress === undefined) throw new Error('the host has no non-loopback IPv4 address')
      const bypass = (await bottle(['run', 'exec', door, connectScript(outsideAddress, directPort)])).stdout
      expect(bypass).not.toContain('direct-reached')
      expect(bypass.trim()).toMatch(/^(ENETUNREACH|EHOSTUNREACH|TIMEOUT)$/)
      expect(await bottle(['run', 'probe', door])).toMatchObject({ status: 0 })
      const dir = join(root, 'state', 'bottle', engine.name, door, 'egress')
      const pid = Number(readFileSync(join(dir, 'egress.pid'), 'utf8'))
      expect((await bottle(['run', 'down', door, '-q'])).status).toBe(0)
      expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('egress-proxy')).toBe(false)
    })

    it('CONTROL: a bottle with the host network reaches the same host listener, so the direct check can fail', async () => {
      expect((await bottle(['run', 'launch', open, '-q'])).status).toBe(0)
      if (outsideAddress === undefined) throw new Error('the host has no non-loopback IPv4 address')
      expect((await bottle(['run', 'exec', open, connectScript(outsideAddress, directPort)])).stdout).toContain('direct-reached')
    })

    it('a launch whose door is broken fails the probe and is undone: no container left', async () => {
      const brokenDist = join(root, 'broken-dist')
      cpSync(dist, brokenDist, { recursive: true })
      writeFileSync(join(brokenDist, 'egress-proxy.js'), brokenProxy)
      const r = await bottle(['run', 'launch', broken], join(brokenDist, 'bottle.js'))
      expect(r.status).not.toBe(0)
      expect(r.stderr).toContain('was not refused with 403')
      expect(client(engine, ['container', 'inspect', broken]).status).not.toBe(0)
    })
  })
}
