/**
 * The egress probe: a POSIX sh script run inside a bottle that has the egress door, as the
 * bottle's user, with the proxy env. It proves the policy holds from the inside: launch ends with
 * it (a failure undoes the launch) and `bottle run probe NAME` runs it again.
 *
 *   probeArgv(defaultDirectTargets)
 *   // ['/bin/sh', '-c', probeScript, 'sh', '1.1.1.1:443', '[2606:4700:4700::1111]:443']
 *
 * The four checks (issue 13, "The proof"):
 *   1. the proxy answers, through the relay on 127.0.0.1:3128, a name only it knows
 *      (`egress-probe.bottle.invalid`: works offline, and no real host can answer it);
 *   2. a host not on the list gets a 403 from the proxy;
 *   3. a direct TCP connection to each target, bypassing the proxy, fails;
 *   4. the guest has no route but loopback, IPv4 (/proc/net/route) and IPv6 (/proc/net/ipv6_route).
 * In a Kubernetes Pod (probeArgv with `inPod`) check 4 cannot hold: a Pod always has its network
 * and a default route, and only a NetworkPolicy fences it, if the cluster's network plugin enforces
 * NetworkPolicy at all. There the probe tries, instead of the routes, direct connections to what
 * a Pod can always reach when nothing fences it: the API server (KUBERNETES_SERVICE_HOST, which the
 * kubelet sets in every container) and the cluster's DNS server on TCP 53 (/etc/resolv.conf: DNS
 * is a way out of its own). Each must fail.
 * Checks 1 to 3 need a TCP client: the guest's node (the agent needs it), else socat (what the
 * relay falls back to); the route check is plain sh. Every failed check is one line on stderr;
 * the script exits 1 if any failed, and prints one line on stdout when all passed.
 */
import { quoteSh } from '../plan/quote.js'

/** Where the relay listens in the guest; the proxy env points here. */
export const relayHost = '127.0.0.1'
export const relayPort = 3128

/** The name only the proxy answers (the contract between the proxy and the probe). */
export const probeName = 'egress-probe.bottle.invalid'
/** What the proxy answers the probe name with. */
export const probeBody = 'bottle-egress-ok'
/** A name no policy can allow (`.invalid` is reserved, and too broad to be an entry). */
export const deniedName = 'egress-probe-denied.bottle.invalid'

/**
 * The outside addresses the direct-connection check tries: public resolvers, v4 and v6. Inside an
 * egress bottle there is no route to them, so the connection fails at once; the tests give the
 * probe a listener of their own instead, and a control bottle with the host network reaches it.
 */
export const defaultDirectTargets: readonly string[] = ['1.1.1.1:443', '[2606:4700:4700::1111]:443']

/**
 * Node's half of checks 1 to 3: `node -e SOURCE TARGET…`. One line per failure on stderr, exit 1
 * if any. A direct connection that times out counts as failed, which is what the check wants.
 */
const nodeChecks = [
  "const net=require('net');",
  `const relay={host:'${relayHost}',port:${relayPort}};`,
  'const ask=(text)=>new Promise((done)=>{let got="";const s=net.connect(relay);',
  's.setTimeout(5000,()=>s.destroy());s.on("connect",()=>s.write(text));s.on("data",(d)=>{got+=d});',
  's.on("close",()=>done(got));s.on("error",()=>done(got))});',
  'const direct=(host,port)=>new Promise((done)=>{const s=net.connect({host,port:Number(port)});',
  's.setTimeout(3000,()=>{s.destroy();done(false)});s.on("connect",()=>{s.destroy();done(true)});s.on("error",()=>done(false))});',
  'const first=(t)=>JSON.stringify(t.split("\\r\\n")[0]||"no answer");',
  '(async()=>{let bad=0;const fail=(m)=>{bad++;process.stderr.write("bottle: egress probe: "+m+"\\n")};',
  `const a=await ask("GET http://${probeName}/ HTTP/1.1\\r\\nHost: ${probeName}\\r\\nConnection: close\\r\\n\\r\\n");`,
  `if(!/^HTTP\\/1\\.[01] 200 /.test(a)||!a.includes("${probeBody}"))fail("the proxy did not answer ${probeName} through ${relayHost}:${relayPort}: "+first(a));`,
  `const d=await ask("CONNECT ${deniedName}:443 HTTP/1.1\\r\\nHost: ${deniedName}:443\\r\\n\\r\\n");`,
  `if(!/^HTTP\\/1\\.[01] 403 /.test(d))fail("a host not on the list (${deniedName}) was not refused with 403: "+first(d));`,
  'for(const t of process.argv.slice(1)){const i=t.lastIndexOf(":");',
  'if(await direct(t.slice(0,i).replace(/^\\[|\\]$/g,""),t.slice(i+1)))fail("a direct connection to "+t+", bypassing the proxy, succeeded");}',
  'process.exit(bad>0?1:0)})();',
].join('')

/** Check 4: no route but loopback, IPv4 and IPv6. */
const routeChecks: readonly string[] = [
  // IPv4: Iface Destination Gateway Flags RefCnt Use Metric Mask …; the header names Iface.
  'if [ -r /proc/net/route ]; then',
  '  while read -r iface rest; do',
  '    [ "$iface" = Iface ] || [ "$iface" = lo ] || { fail "the bottle has an IPv4 route on $iface"; break; }',
  '  done < /proc/net/route',
  'fi',
  // IPv6: DEST PLEN SRC SPLEN NEXTHOP METRIC REFCNT USE FLAGS IFACE; a fresh namespace lists only lo.
  'if [ -r /proc/net/ipv6_route ]; then',
  '  while read -r d1 d2 d3 d4 d5 d6 d7 d8 d9 iface; do',
  '    [ "$iface" = lo ] || { fail "the bottle has an IPv6 route on $iface"; break; }',
  '  done < /proc/net/ipv6_route',
  'fi',
]

/**
 * In a Pod: the API server and each nameserver of /etc/resolv.conf (port 53) join the direct
 * targets ("$@"). No KUBERNETES_SERVICE_HOST is a failure: the probe could not test the fence.
 */
const podTargets: readonly string[] = [
  'target() { case $1 in *:*) printf \'[%s]:%s\' "$1" "$2" ;; *) printf \'%s:%s\' "$1" "$2" ;; esac; }',
  'if [ -n "${KUBERNETES_SERVICE_HOST:-}" ]; then',
  '  set -- "$@" "$(target "$KUBERNETES_SERVICE_HOST" "${KUBERNETES_SERVICE_PORT:-443}")"',
  'else',
  '  fail "KUBERNETES_SERVICE_HOST is not set: the direct connection to the API server, which the NetworkPolicy must stop, cannot be tried"',
  'fi',
  'if [ -r /etc/resolv.conf ]; then',
  '  while read -r key value rest; do',
  '    [ "$key" = nameserver ] && [ -n "$value" ] && set -- "$@" "$(target "$value" 53)"',
  '  done < /etc/resolv.conf',
  'fi',
]

/**
 * The probe: `sh -c probeScript sh TARGET…`. TARGET is `HOST:PORT` (an IPv6 host in brackets).
 * The routes are read first: a default route is the plainest sign that the door is not the only
 * way out, and needs no client at all.
 */
const probeScriptWith = (inPod: boolean): string => [
  'bad=0',
  'fail() { printf \'bottle: egress probe: %s\\n\' "$1" >&2; bad=1; }',
  ...(inPod ? podTargets : routeChecks),
  'if command -v node >/dev/null 2>&1; then',
  `  node -e ${quoteSh(nodeChecks)} "$@" || bad=1`,
  'elif command -v socat >/dev/null 2>&1; then',
  `  a=$(printf 'GET http://${probeName}/ HTTP/1.1\\r\\nHost: ${probeName}\\r\\nConnection: close\\r\\n\\r\\n' | socat -t 5 - TCP:${relayHost}:${relayPort},connect-timeout=5 2>/dev/null)`,
  `  case $a in "HTTP/1."[01]" 200 "*${probeBody}*) ;; *) fail "the proxy did not answer ${probeName} through ${relayHost}:${relayPort}" ;; esac`,
  `  d=$(printf 'CONNECT ${deniedName}:443 HTTP/1.1\\r\\nHost: ${deniedName}:443\\r\\n\\r\\n' | socat -t 5 - TCP:${relayHost}:${relayPort},connect-timeout=5 2>/dev/null)`,
  `  case $d in "HTTP/1."[01]" 403 "*) ;; *) fail "a host not on the list (${deniedName}) was not refused with 403" ;; esac`,
  '  for t in "$@"; do',
  '    h=${t%:*} p=${t##*:}',
  '    case $h in \\[*\\]) h=${h#\\[}; h=${h%\\]}; a=TCP6:[$h]:$p ;; *) a=TCP4:$h:$p ;; esac',
  '    if socat -u /dev/null "$a,connect-timeout=3" 2>/dev/null; then fail "a direct connection to $t, bypassing the proxy, succeeded"; fi',
  '  done',
  'else',
  '  fail "neither node nor socat is in the bottle: nothing can reach the proxy (install node, or socat)"',
  'fi',
  '[ "$bad" = 0 ] || exit 1',
  inPod
    ? 'echo "bottle: egress probe: the proxy answers, an off-list host is refused, a direct connection (the API server, DNS included) fails"'
    : 'echo "bottle: egress probe: the proxy answers, an off-list host is refused, a direct connection fails, no route but loopback"',
].join('\n')

export const probeScript = probeScriptWith(false)

/** The probe for a Kubernetes Pod: no route check, the API server and the DNS server as direct targets. */
export const podProbeScript = probeScriptWith(true)

/** The probe's argv in the guest. */
export const probeArgv = (directTargets: readonly string[] = defaultDirectTargets, where: 'guest' | 'pod' = 'guest'): string[] => [
  '/bin/sh', '-c', where === 'pod' ? podProbeScript : probeScript, 'sh', ...directTargets,
]
