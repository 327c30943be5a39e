// The egress proxy, offline: fake upstream servers on 127.0.0.x, the resolver as a parameter,
// the proxy on a Unix socket as the guest reaches it.
import http from 'node:http'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AllowEntry, parseEntry } from '../../src/egress/policy.js'
import { egressProxy, probeBody, probeHost } from '../../src/egress/proxy.js'

const entries = (...texts: string[]): AllowEntry[] =>
  texts.map((t) => {
    const e = parseEntry(t)
    if (E.isLeft(e)) throw new Error(e.left)
    return e.right
  })

/** An upstream that answers with what it saw: method, path and Host. */
const upstream = async (address: string): Promise<{ server: http.Server; port: number; seen: http.IncomingHttpHeaders[] }> => {
  const seen: http.IncomingHttpHeaders[] = []
  const server = http.createServer((req, res) => {
    seen.push(req.headers)
    res.end(`upstream ${address} ${req.method} ${req.url} host=${req.headers.host}`)
  })
  await new Promise<void>((ok) => server.listen(0, address, () => ok()))
  return { server, port: (server.address() as net.AddressInfo).port, seen }
}

interface Reply {
  readonly status: number
  readonly body: string
}

const viaSocket = (socketPath: string, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  new Promise((ok, fail) => {
    const req = http.request({ socketPath, path, method: 'GET', headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', fail)
    req.end()
  })

/** CONNECT, then (when it is established) a plain GET through the tunnel. */
const connectThrough = (socketPath: string, authority: string, hostHeader: string): Promise<Reply> =>
  new Promise((ok, fail) => {
    const req = http.request({ socketPath, method: 'CONNECT', path: authority, agent: false })
    req.on('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        // The refusal's body: what came with the head, then the rest until the proxy closes.
        let body = head.toString()
        socket.on('data', (d: Buffer) => (body += d.toString()))
        socket.on('end', () => ok({ status: res.statusCode ?? 0, body }))
        socket.on('close', () => ok({ status: res.statusCode ?? 0, body }))
        return
      }
      let raw = ''
      socket.on('data', (d: Buffer) => (raw += d.toString()))
      socket.on('close', () => ok({ status: 200, body: raw.split('\r\n\r\n').slice(1).join('\r\n\r\n') }))
      socket.write(`GET /through HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`)
    })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', fail)
    req.end()
  })

describe('the egress proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-egress-'))
  const socketPath = join(dir, 'egress.sock')
  const log: string[] = []
  const lookups: string[] = []
  let up2: Awaited<ReturnType<typeof upstream>>
  let up3: Awaited<ReturnType<typeof upstream>>
  let proxy: http.Server

  beforeAll(async () => {
    up2 = await upstream('127.0.0.2')
    up3 = await upstream('127.0.0.3')
    // The names tests use, as a resolver would answer them.
    const zone: Record<string, string[]> = {
      'allowed.test': ['127.0.0.2'],
      'pub.allowed.test': ['127.0.0.2'],
      'loopy.test': ['127.0.0.3'],
      'mixed.test': ['127.0.0.2', '127.0.0.3'],
      'evil.test': ['127.0.0.3'],
    }
    const allow = entries(
      `allowed.test:${up2.port}/private`,
      `*.allowed.test:${up2.port}/private`,
      `loopy.test:${up3.port}`,
      `127.0.0.3:${up3.port}`,
      'gone.test:9/private',
    )
    proxy = egressProxy({
      allow,
      lookup: async (name) => {
        lookups.push(name)
        const a = zone[name]
        if (a === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
        return a
      },
      log: (line) => log.push(line),
    })
    await new Promise<void>((ok) => proxy.listen(socketPath, () => ok()))
  })

  afterAll(async () => {
    for (const s of [proxy, up2.server, up3.server]) await new Promise((ok) => s.close(ok))
    rmSync(dir, { recursive: true, force: true })
  })

  const lastLog = () => log[log.length - 1] ?? ''

  it('serves an allowed name over plain HTTP, at the address it checked, with the URI’s Host', async () => {
    const r = await viaSocket(socketPath, `http://allowed.test:${up2.port}/a/b?q=1`)
    expect(r).toStrictEqual({ status: 200, body: `upstream 127.0.0.2 GET /a/b?q=1 host=allowed.test:${up2.port}` })
    expect(lastLog()).toMatch(new RegExp(`^\\S+ allowed GET allowed.test:${up2.port} -> 127.0.0.2$`))
  })

  it('tunnels an allowed CONNECT to the checked address', async () => {
    const r = await connectThrough(socketPath, `pub.allowed.test:${up2.port}`, 'pub.allowed.test')
    expect(r).toStrictEqual({ status: 200, body: 'upstream 127.0.0.2 GET /through host=pub.allowed.test' })
    expect(lastLog()).toMatch(new RegExp(`^\\S+ allowed CONNECT pub.allowed.test:${up2.port} -> 127.0.0.2$`))
  })

  it('refuses a host off the list with 403 naming the rule, without looking it up', async () => {
    const before = lookups.length
    const r = await connectThrough(socketPath, 'evil.test:443', 'evil.test')
    expect(r).toStrictEqual({ status: 403, body: 'bottle egress: refused: evil.test:443 is not on the allow-list\n' })
    expect((await viaSocket(socketPath, 'http://evil.test/x')).status).toBe(403)
    expect(lookups.length).toBe(before)
    expect(lastLog()).toMatch(/^\S+ refused GET evil.test:80 \(evil.test:80 is not on the allow-list\)$/)
  })

  it.each([
    ['dotted', '127.0.0.2'],
    ['decimal', '2130706434'],
    ['hex', '0x7f.0x0.0x0.0x2'],
    ['short', '127.2'],
    ['IPv4-mapped IPv6', '[::ffff:127.0.0.2]'],
  ])('refuses an IP literal no entry names (%s)', async (_label, host) => {
    const r = await connectThrough(socketPath, `${host}:${up2.port}`, 'x')
    expect(r.status).toBe(403)
    expect(r.body).toBe(`bottle egress: refused: IP address 127.0.0.2:${up2.port} is not on the allow-list (an entry must name the address)\n`)
  })

  it('serves an IP literal an entry names, in another notation too', async () => {
    const r = await connectThrough(socketPath, `[::ffff:7f00:3]:${up3.port}`, 'x')
    expect(r).toStrictEqual({ status: 200, body: 'upstream 127.0.0.3 GET /through host=x' })
  })

  it('refuses a name that resolves to loopback unless its entry is /private', async () => {
    const r = await viaSocket(socketPath, `http://loopy.test:${up3.port}/`)
    expect(r).toStrictEqual({
      status: 403,
      body: `bottle egress: refused: loopy.test:${up3.port} resolves to 127.0.0.3, a loopback address: allow it with the entry loopy.test:${up3.port}/private\n`,
    })
    expect(up3.seen.length).toBe(1) // only the IP-literal tunnel above reached it
  })

  it('answers the probe name itself, offline', async () => {
    expect(await viaSocket(socketPath, `http://${probeHost}/`)).toStrictEqual({ status: 200, body: probeBody })
    expect(lastLog()).toMatch(new RegExp(`^\\S+ probe GET ${probeHost}:80$`))
  })

  it('goes where the URI says, never where a smuggled Host header says', async () => {
    const r = await viaSocket(socketPath, `http://allowed.test:${up2.port}/`, { Host: 'evil.test' })
    expect(r.body).toBe(`upstream 127.0.0.2 GET / host=allowed.test:${up2.port}`)
    const refused = await viaSocket(socketPath, 'http://evil.test/', { Host: `allowed.test:${up2.port}` })
    expect(refused.status).toBe(403)
  })

  it('refuses an origin-form request (no absolute URI: only a Host header to go by)', async () => {
    const r = await viaSocket(socketPath, '/', { Host: `allowed.test:${up2.port}` })
    expect(r.status).toBe(400)
  })

  it('logs host, port and outcome only: no header, path or query', async () => {
    const secret = `s3cr3t-${Math.random().toString(36).slice(2)}`
    await viaSocket(socketPath, `http://allowed.test:${up2.port}/p-${secret}?token=${secret}`, { 'Proxy-Authorization': `Basic ${secret}`, 'X-Api-Key': secret })
    await viaSocket(socketPath, `http://evil.test/p-${secret}?token=${secret}`, { 'Proxy-Authorization': `Basic ${secret}` })
    expect(log.join('\n')).not.toContain(secret)
    // Nor does the Proxy-Authorization header reach the upstream.
    expect(up2.seen.some((h) => h['proxy-authorization'] !== undefined)).toBe(false)
  })

  it('says 502 when an allowed host cannot be reached or resolved', async () => {
    const r = await connectThrough(socketPath, 'gone.test:9', 'x')
    expect(r.status).toBe(502)
    expect(r.body).toBe('bottle egress: could not resolve gone.test (ENOTFOUND)\n')
  })

  it('answers a refused request only once its body is read: a client still sending gets the 403, not a closed socket', async () => {
    const c = net.connect(socketPath)
    let got = ''
    c.on('data', (d: Buffer) => (got += d.toString()))
    const closed = new Promise<void>((ok) => c.on('close', () => ok()))
    c.on('error', () => {})
    await new Promise<void>((ok) => c.once('connect', () => ok()))
    c.write('POST http://evil.test/v1 HTTP/1.1\r\nHost: evil.test\r\nContent-Length: 10\r\n\r\nhalf.')
    await new Promise((ok) => setTimeout(ok, 300))
    // Half the body is in: no answer yet, and the connection is still open for the rest.
    expect(got).toBe('')
    expect(c.destroyed).toBe(false)
    c.end('rest.')
    await closed
    expect(got).toMatch(/^HTTP\/1\.1 403 /)
    expect(got).toContain('evil.test:80 is not on the allow-list')
  })

  it('writes one log line per decision', async () => {
    const before = log.length
    await viaSocket(socketPath, `http://${probeHost}/`)
    await viaSocket(socketPath, 'http://evil.test/')
    await connectThrough(socketPath, `allowed.test:${up2.port}`, 'allowed.test')
    expect(log.length - before).toBe(3)
    expect(log.slice(before).every((l) => !l.includes('\n'))).toBe(true)
  })
})
