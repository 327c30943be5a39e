/**
 * The guest relay (issue 13, the contract's §3): listens on 127.0.0.1:3128 in the guest's own
 * network namespace and pipes each connection to the egress proxy's Unix socket, which is bound
 * into the guest. Run by the guest's node (the agent needs it anyway), else socat.
 *
 *   relayNodeArgv('/run/bottle-egress/egress.sock')    // ['node', '-e', relaySource, '/run/bottle-egress/egress.sock']
 *   relaySocatArgv('/run/bottle-egress/egress.sock')   // ['socat', 'TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr', 'UNIX-CONNECT:…']
 *
 * Written by lane wire to the contract's shape while lane door built the proxy; it decides
 * nothing (the proxy does): a byte pipe, each side closed when the other ends or fails.
 */

/**
 * The relay for `node -e SOURCE SOCKET` (with -e, argv[1] is the first argument). Loopback only:
 * nothing outside the guest reaches it. A connection the socket refuses (the proxy is down) is
 * closed at once, so the client sees a failure rather than a hang.
 */
export const relaySource = [
  "const net=require('net');const sock=process.argv[1];",
  'net.createServer((c)=>{const u=net.connect(sock);',
  'c.on("error",()=>u.destroy());u.on("error",()=>c.destroy());',
  'c.pipe(u);u.pipe(c)',
  "}).listen(3128,'127.0.0.1')",
].join('')

export const relayNodeArgv = (socketPath: string): string[] => ['node', '-e', relaySource, socketPath]

/** socat forks a child per connection; `reuseaddr` lets a relay started again bind at once. */
export const relaySocatArgv = (socketPath: string): string[] => [
  'socat', 'TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${socketPath}`,
]
