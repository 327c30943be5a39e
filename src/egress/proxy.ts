/**
 * The egress proxy: the one door out of a bottle with an allow-list. An HTTP proxy (node:http
 * and node:net only) that serves `CONNECT host:port` tunnels and absolute-URI plain HTTP, each
 * only when `decide` (src/egress/policy.ts) allows it.
 *
 *   const server = egressProxy({ allow, lookup: systemLookup, log: (line) => appendFileSync(logFile, line + '\n') })
 *   server.listen('/…/egress/sock/egress.sock')
 *
 * It resolves a name itself (only a name an entry matches: a name off the list is never looked up)
 * and connects to the address it checked, never to the name again, so a second DNS answer cannot
 * swap in another address. A refusal is a 403 whose body names the rule. Every decision is one log
 * line with the host, port and outcome: never a header (Proxy-Authorization), a path or a query,
 * any of which could hold a secret.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import net from 'node:net'
import { type AllowEntry, decide, needsLookup } from './policy.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** Every address a name resolves to (the proxy passes them all to decide); throws when it does not resolve. */
export type Lookup = (name: string) => Promise<readonly string[]>

export interface ProxyOptions {
  readonly allow: readonly AllowEntry[]
  readonly lookup: Lookup
  /** One line per decision, without a newline. */
  readonly log: (line: string) => void
  /** How long a connection to an upstream may take to open. */
  readonly connectTimeoutMs?: number
}

/** A name only the proxy knows: the probe's first check, which works offline. */
export const probeHost = 'egress-probe.bottle.invalid'
export const probeBody = 'bottle-egress-ok'

/** The system resolver, every address, in the order it gives them. */
export const systemLookup: Lookup = async (name) => (await dnsLookup(name, { all: true, verbatim: true })).map((a) => a.address)

// -------------------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------------------

/** Text from the agent, made safe for one log line or one body line: printable ASCII, at most 300 characters. */
const printable = (s: string): string => {
  const t = JSON.stringify(s.length > 300 ? `${s.slice(0, 300)}…` : s)
  return t.slice(1, -1).replace(/[^\x20-\x7e]/g, '?')
}

/** `host:port` from a CONNECT's authority form (`github.com:443`, `[::1]:8080`); null when it is none. */
export const parseAuthority = (authority: string): { host: string; port: number } | null => {
  const m = /^(\[[^\]]*\]|[^:[\]]*):([0-9]{1,5})$/.exec(authority)
  if (m === null) return null
  return { host: m[1] as string, port: Number(m[2]) }
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: none goes upstream.
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

const forwardHeaders = (raw: readonly string[], host: string): string[] => {
  const named = new Set<string>()
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'connection') for (const n of (raw[i + 1] as string).split(',')) named.add(n.trim().toLowerCase())
  const out: string[] = ['Host', host]
  for (let i = 0; i < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase()
    // The Host header is the URI's: a different one in the request (smuggling) is dropped.
    if (k === 'host' || hopByHop.has(k) || named.has(k)) continue
    out.push(raw[i] as string, raw[i + 1] as string)
  }
  return out
}

const refusalBody = (rule: string): string => `bottle egress: refused: ${printable(rule)}\n`

// -------------------------------------------------------------------------------------------------
// the server
// -------------------------------------------------------------------------------------------------

export const egressProxy = (opts: ProxyOptions): http.Server => {
  const { allow, lookup, log } = opts
  const timeout = opts.connectTimeoutMs ?? 10_000
  const logLine = (outcome: string, method: string, target: string, detail: string) =>
    log(`${new Date().toISOString()} ${outcome} ${method} ${target}${detail === '' ? '' : ` ${detail}`}`)

  /** decide, with a lookup first when an entry matches the name. Left: status and message. */
  const check = async (host: string, port: number): Promise<{ ok: true; address: string } | { ok: false; status: number; text: string }> => {
    const name = needsLookup(allow, { host, port })
    let resolved: readonly string[] = []
    if (name !== null) {
      try {
        resolved = await lookup(name)
      } catch (e) {
        const code = (e as { code?: unknown }).code
        return { ok: false, status: 502, text: `could not resolve ${name} (${typeof code === 'string' ? code : 'lookup failed'})` }
      }
    }
    const d = decide(allow, { host, port }, resolved)
    return d.ok ? d : { ok: false, status: 403, text: d.rule }
  }

  const server = http.createServer((req, res) => {
    const method = printable(req.method ?? '?')
    // An answer of the proxy's own, given once the request's body is read (and thrown away, for
    // up to `timeout`): closing on a client that is still sending makes its relay fail the write
    // and drop the connection, and the agent sees a reset instead of the 403 that says why.
    const reply = (status: number, body: string) => {
      const send = () => {
        if (res.headersSent) return
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close', 'x-bottle-egress': status === 200 ? 'ok' : 'refused' })
        res.end(body)
      }
      if (req.complete) return send()
      const timer = setTimeout(send, timeout)
      req.once('end', () => {
        clearTimeout(timer)
        send()
      })
      req.once('close', () => clearTimeout(timer))
      req.resume()
    }
    let url: URL | null = null
    try {
      url = req.url !== undefined && /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(req.url) ? new URL(req.url) : null
    } catch {
      url = null
    }
    if (url === null) {
      logLine('refused', method, '-', '(not an absolute-URI proxy request)')
      return reply(400, 'bottle egress: a proxy request needs an absolute URI (http://host/…), or CONNECT for https\n')
    }
    if (url.protocol !== 'http:') {
      logLine('refused', method, printable(url.protocol), '(only http: URIs; https goes through CONNECT)')
      return reply(400, 'bottle egress: only http:// URIs are forwarded; https goes through CONNECT\n')
    }
    const port = url.port === '' ? 80 : Number(url.port)
    const target = `${printable(url.hostname)}:${port}`
    if (url.hostname === probeHost) {
      logLine('probe', method, target, '')
      return reply(200, probeBody)
    }
    void check(url.hostname, port).then((c) => {
      if (!c.ok) {
        logLine(c.status === 403 ? 'refused' : 'error', method, target, `(${printable(c.text)})`)
        return reply(c.status, refusalBody(c.text))
      }
      logLine('allowed', method, target, `-> ${c.address}`)
      const upstream = http.request({
        host: c.address,
        port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: forwardHeaders(req.rawHeaders, url.host),
        setHost: false,
        agent: false,
        timeout,
      })
      upstream.on('response', (up) => {
        const headers: string[] = []
        for (let i = 0; i < up.rawHeaders.length; i += 2) if (!hopByHop.has((up.rawHeaders[i] as string).toLowerCase())) headers.push(up.rawHeaders[i] as string, up.rawHeaders[i + 1] as string)
        res.writeHead(up.statusCode ?? 502, headers)
        up.pipe(res)
      })
      upstream.on('timeout', () => upstream.destroy(new Error('timed out')))
      upstream.on('error', (e) => {
        logLine('error', method, target, `(${printable(e.message)})`)
        if (!res.headersSent) reply(502, `bottle egress: could not reach ${target}\n`)
        else res.destroy()
      })
      req.pipe(upstream)
    })
  })

  // A tunnel: decided once, then bytes both ways. What flows through it is the allowed host's
  // business; a CONNECT inside it goes to that host, not to this proxy.
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = parseAuthority(req.url ?? '')
    const target = authority === null ? printable(req.url ?? '') : `${printable(authority.host)}:${authority.port}`
    const refuse = (status: number, text: string, outcome: string) => {
      logLine(outcome, 'CONNECT', target, `(${printable(text)})`)
      const body = status === 403 ? refusalBody(text) : `bottle egress: ${printable(text)}\n`
      client.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : status === 400 ? 'Bad Request' : 'Bad Gateway'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    }
    client.on('error', () => client.destroy())
    if (authority === null) return refuse(400, 'CONNECT needs host:port', 'refused')
    void check(authority.host, authority.port).then((c) => {
      if (!c.ok) return refuse(c.status, c.text, c.status === 403 ? 'refused' : 'error')
      const upstream = net.connect({ host: c.address, port: authority.port, timeout })
      let established = false
      upstream.once('connect', () => {
        established = true
        upstream.setTimeout(0)
        logLine('allowed', 'CONNECT', target, `-> ${c.address}`)
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        if (head.length > 0) upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      upstream.once('timeout', () => upstream.destroy(new Error('timed out')))
      upstream.on('error', (e) => {
        if (!established) refuse(502, `could not connect to ${target} (${(e as { code?: string }).code ?? e.message})`, 'error')
        else client.destroy()
      })
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  })

  // An Upgrade (WebSocket) on plain HTTP would be a second way to open a stream: refused.
  server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    logLine('refused', 'UPGRADE', '-', '(upgrades are not forwarded)')
    socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
  })

  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
  })
  return server
}
