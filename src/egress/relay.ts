/**
 * The guest side of the door: a relay in the agent's network namespace that listens on
 * 127.0.0.1:3128 (where HTTP_PROXY points) and pipes each connection to the proxy's Unix socket
 * bound in from the host. Run by the guest's `node` (the agent needs it anyway), else `socat`.
 *
 *   relayNodeArgv('/run/bottle-egress/egress.sock')
 *   // ['node', '-e', '…', '/run/bottle-egress/egress.sock']
 *   relaySocatArgv('/run/bottle-egress/egress.sock')
 *   // ['socat', 'TCP-LISTEN:3128,bind=127.0.0.1,reuseaddr,fork', 'UNIX-CONNECT:/run/bottle-egress/egress.sock']
 *
 * On kubernetes the proxy is a Pod behind a Service, so the relay's upstream is `HOST:PORT` on TCP
 * instead of a socket path: `relayNodeArgv('10.96.0.7:3128')`, `relaySocatArgv` with `TCP:`.
 *
 * The relay decides nothing: it only carries bytes to the proxy, which decides. It binds
 * 127.0.0.1 only, so nothing outside the bottle's namespace can use it.
 */

export const relayPort = 3128

// Plain JavaScript that any node since 12 runs: `node -e SOURCE UPSTREAM [PORT]` (argv[1], argv[2]);
// UPSTREAM is a Unix socket path (from /), or HOST:PORT on TCP (an IPv6 host in brackets or bare).
// A busy port or another listen error ends it with one line and exit 1; a connection the
// proxy refuses closes the client's (the proxy's own 403 says why when it answers).
const relaySource = [
  "const net = require('net')",
  'const target = process.argv[1]',
  "const at = target.lastIndexOf(':')",
  "const upstream = target.startsWith('/') ? { path: target } : { host: target.slice(0, at).replace(/^\\[|\\]$/g, ''), port: Number(target.slice(at + 1)) }",
  `const port = Number(process.argv[2] || ${relayPort})`,
  'const server = net.createServer((client) => {',
  '  const up = net.connect(upstream)',
  '  client.pipe(up)',
  '  up.pipe(client)',
  "  client.on('error', () => up.destroy())",
  "  up.on('error', () => client.destroy())",
  "  client.on('close', () => up.destroy())",
  "  up.on('close', () => client.destroy())",
  '})',
  "server.on('error', (e) => { process.stderr.write('bottle egress relay: ' + e.message + '\\n'); process.exit(1) })",
  "server.listen(port, '127.0.0.1')",
].join('\n')

/** socat and the relay's argv take the path as one word; socat's address syntax reserves `,` `:` `!` and spaces. */
const checkedPath = (socketPath: string): string => {
  if (!/^\/[A-Za-z0-9/._-]+$/.test(socketPath)) throw new Error(`relay socket path ${JSON.stringify(socketPath)} must be absolute, of letters, digits and /._-`)
  return socketPath
}

/** The relay as the guest's node runs it; `port` other than 3128 is for tests on a shared host. */
export const relayNodeArgv = (socketPath: string, port: number = relayPort): string[] => [
  'node',
  '-e',
  relaySource,
  checkedPath(socketPath),
  ...(port === relayPort ? [] : [String(port)]),
]

/**
 * `node -e SOURCE`: the relay's words before its upstream, for a script that gives the upstream
 * at run time (kubernetes: `"$up"`, from the Service's env vars in the Pod).
 */
export const relayNodeWords: readonly string[] = ['node', '-e', relaySource]

/** The same relay with socat: a child per connection (fork), the listener reusable at once. */
export const relaySocatArgv = (socketPath: string, port: number = relayPort): string[] => [
  'socat',
  `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
  `UNIX-CONNECT:${checkedPath(socketPath)}`,
]
