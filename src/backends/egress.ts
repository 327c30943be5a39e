/**
 * The egress door as every backend wires it (issue 13): the host proxy as a resource of the
 * bottle, the proxy's socket directory bound read-only into the guest, the relay that listens on
 * 127.0.0.1:3128 in the guest's own network namespace, and the proxy env on every command.
 *
 *   doorOf(spec)                       // { allow: ['api.anthropic.com:443', …] }, or null: no door
 *   startProxy(spec, 'docker', host)   // node …/egress-proxy.js start --dir STATE/docker/demo/egress --allow …
 *   relayStartScript                   // sh: start the relay in the background, wait until it listens
 *
 * What is the same on every backend lives here; each backend file says how its CLI takes away the
 * network and binds the socket directory.
 */
import { bottleStateDir } from '../bottle-spec/record.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import { relayHost, relayPort } from '../egress/probe.js'
import { relayNodeArgv, relayNodeWords, relaySocatArgv } from '../egress/relay.js'
import { formatEntry } from '../egress/policy.js'
import { quoteShArgv } from '../plan/quote.js'
import { type BackendName, type Note, type ProcessEnv, type Step, info, plain, step } from '../plan/types.js'
import type { HostFacts } from './backend.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** A bottle whose only way out is the egress proxy: the effective allow-list, in formatEntry form. */
export interface Door {
  readonly allow: readonly string[]
}

/** The door of a bottle whose network is an allow-list; null for open, none and host. */
export const doorOf = (spec: BottleSpec): Door | null =>
  spec.network.mode === 'egress' ? { allow: spec.network.allow.map(formatEntry) } : null

/** `--allow A --allow B …`: how the proxy takes its allow-list (a loop: a launch builds it up to three times). */
export const allowArgs = (allow: readonly string[]): string[] => {
  const args: string[] = []
  for (const a of allow) args.push('--allow', a)
  return args
}

/**
 * Where the bottle's host proxy stands, read once at the CLI edge (src/egress/state.ts: a pidfile,
 * /proc and the proxy's directory; no process started):
 * - `running`: it serves;
 * - `stopped`: a launch made its directory and no down has removed it, but nothing serves (after
 *   a reboot): the op starts it again;
 * - `not launched`: no directory. An op on a bottle that was never launched (or is gone) starts no
 *   proxy: it would fail at the backend anyway, and leave a proxy running for nothing;
 * - `unread`: nobody looked (an in-process compile, a plan for no one bottle). Nothing is known, so
 *   nothing is started on a guess.
 */
export type ProxyState = 'running' | 'stopped' | 'not launched' | 'unread'

/** How bottle starts the proxy on the host: the node that runs bottle, and the proxy bundle beside bottle's own (dist/egress-proxy.js). */
export interface EgressFacts {
  readonly node: string
  readonly proxyScript: string
  readonly proxy: ProxyState
}

/** When the CLI read no egress facts (tests, ops on a bottle with no door): node on PATH, and nothing known. */
export const unreadEgressFacts: EgressFacts = { node: 'node', proxyScript: 'egress-proxy.js', proxy: 'unread' }

const factsOf = (host: HostFacts): EgressFacts => host.egress ?? unreadEgressFacts

/** Where the socket directory is bound in the guest: read-only, the directory and not the socket, so a restarted proxy's new socket shows. */
export const guestSocketDir = '/run/bottle-egress'
export const guestSocket = `${guestSocketDir}/egress.sock`

/** The proxy's directory on the host: in the bottle's state, outside every bind. */
export const egressDir = (backend: BackendName, spec: BottleSpec, host: HostFacts): string =>
  `${bottleStateDir(host.stateRoot, backend, spec.name)}/egress`

/** The host directory bound at guestSocketDir. */
export const socketDir = (backend: BackendName, spec: BottleSpec, host: HostFacts): string =>
  `${egressDir(backend, spec, host)}/sock`

/** The proxy env every guest command of a bottle with a door gets (contract §4). */
export const proxyEnv: readonly (readonly [string, string])[] = [
  ['HTTP_PROXY', `http://${relayHost}:${relayPort}`],
  ['HTTPS_PROXY', `http://${relayHost}:${relayPort}`],
  ['http_proxy', `http://${relayHost}:${relayPort}`],
  ['https_proxy', `http://${relayHost}:${relayPort}`],
  ['NO_PROXY', 'localhost,127.0.0.1,::1'],
  ['no_proxy', 'localhost,127.0.0.1,::1'],
  ['NODE_USE_ENV_PROXY', '1'],
]

/** The keys of proxyEnv: a bottle with a door refuses them in its own env (the door is the only way out). */
export const proxyEnvKeys: ReadonlySet<string> = new Set(proxyEnv.map(([k]) => k))

// -------------------------------------------------------------------------------------------------
// the proxy on the host
// -------------------------------------------------------------------------------------------------

/** The proxy steps run with the system PATH and nothing from the spec: their argv says it all. */
const proxyProcessEnv: ProcessEnv = { inheritHost: false, vars: [plain('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')] }

/** Stops the bottle's proxy (idempotent: nothing running is success), for undo and down. */
export const stopProxy = (backend: BackendName, spec: BottleSpec, host: HostFacts): Step => {
  const { node, proxyScript } = factsOf(host)
  const dir = egressDir(backend, spec, host)
  return step(`stop the egress proxy of ${spec.name} (${dir})`, [node, proxyScript, 'stop', '--dir', dir], { env: proxyProcessEnv })
}

/**
 * Removes the proxy's directory (the decision log, the socket directory its stop emptied), then
 * the bottle's state directory if nothing else is left in it; after the stop, never before (the
 * stop finds the proxy by its pidfile there). No guest can write there: only `sock/` is bound, read-only.
 */
export const forgetProxy = (backend: BackendName, spec: BottleSpec, host: HostFacts): Step => {
  const dir = egressDir(backend, spec, host)
  return step(`remove the egress proxy's directory ${dir} (its log)`, [
    '/bin/sh', '-c', 'rm -rf -- "$1" && { rmdir -- "${1%/egress}" 2>/dev/null || :; }', 'sh', dir,
  ], { env: proxyProcessEnv })
}

/**
 * Starts the bottle's proxy with its allow-list; 0 once its socket accepts. Idempotent with the
 * same policy, so a later op may start it again; launch's start carries the stop as its undo.
 */
export const startProxy = (backend: BackendName, spec: BottleSpec, door: Door, host: HostFacts, undo: boolean): Step => {
  const { node, proxyScript } = factsOf(host)
  const dir = egressDir(backend, spec, host)
  return step(
    `start the egress proxy of ${spec.name}: ${door.allow.length} allowed (${dir}/egress.log logs each decision)`,
    [node, proxyScript, 'start', '--dir', dir, ...allowArgs(door.allow)],
    // The interpreter runs undo steps newest first, the last of a list first: the stop runs before
    // the directory it finds the proxy's pidfile in is removed.
    { env: proxyProcessEnv, ...(undo ? { undo: [forgetProxy(backend, spec, host), stopProxy(backend, spec, host)] } : {}) },
  )
}

/** The proxy again, before an op that uses the bottle, when it is not running (after a reboot). */
export const proxyIfStopped = (backend: BackendName, spec: BottleSpec, door: Door | null, host: HostFacts): Step[] => {
  const facts = factsOf(host)
  return door !== null && facts.proxy === 'stopped' ? [startProxy(backend, spec, door, host, false)] : []
}

// -------------------------------------------------------------------------------------------------
// the relay in the guest
// -------------------------------------------------------------------------------------------------

/** 127.0.0.1:3128 as /proc/net/tcp writes a local address (little-endian hex), in state LISTEN (0A). */
const listeningLine = `: ${[127, 0, 0, 1].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).reverse().join('')}:${relayPort.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`

/**
 * Where the relay sends what it takes: the proxy's socket bound into the guest (every backend but
 * kubernetes), or a proxy Service whose address the Pod's env holds (kubernetes: the
 * `NAME_SERVICE_HOST` and `NAME_SERVICE_PORT` the kubelet sets in a Pod created after the Service).
 * The bottle resolves no name, so it needs no DNS, which would be a way out of its own.
 */
export type RelayUpstream =
  | { readonly _tag: 'socket'; readonly path: string }
  | { readonly _tag: 'service env'; readonly hostVar: string; readonly portVar: string }

/** Sh that sets `up` to the Service's HOST:PORT (an IPv6 host in brackets), or fails naming the variable. */
const upstreamFromEnv = (hostVar: string, portVar: string): string[] => {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(hostVar) || !/^[A-Z_][A-Z0-9_]*$/.test(portVar)) throw new Error(`not env var names: ${hostVar}, ${portVar}`)
  return [
    `if [ -z "\${${hostVar}:-}" ] || [ -z "\${${portVar}:-}" ]; then`,
    `  echo "bottle: ${hostVar} or ${portVar} is not set in the bottle: the egress proxy's Service must exist before the bottle's Pod is made" >&2; exit 1`,
    'fi',
    `case \$${hostVar} in *:*) up="[\$${hostVar}]:\$${portVar}" ;; *) up="\$${hostVar}:\$${portVar}" ;; esac`,
  ]
}

/**
 * Sh that starts the relay in the background, if nothing listens on 127.0.0.1:3128 yet, and waits
 * (up to 5 s) until it listens: node if the guest has it, else socat, else one line naming both
 * and exit 127. The relay's streams are /dev/null, so a backend client that waits for the
 * command's output (docker exec) does not wait for the relay too.
 */
export const relayStartScriptTo = (upstream: RelayUpstream): string =>
  upstream._tag === 'socket'
    ? [listeningFunction, ...relayStartLines(quoteShArgv(relayNodeArgv(upstream.path)), quoteShArgv(relaySocatArgv(upstream.path)))].join('\n')
    : [listeningFunction, ...upstreamFromEnv(upstream.hostVar, upstream.portVar), relayFromEnvLines].join('\n')

const listeningFunction = `listening() { grep -qF '${listeningLine}' /proc/net/tcp 2>/dev/null; }`

/** The script after `listening` (and, from the env, after `up` is set): start the relay unless it listens, then wait until it does. */
const relayStartLines = (nodeRelay: string, socatRelay: string): string[] => [
  'if ! listening; then',
  '  if command -v node >/dev/null 2>&1; then',
  `    ${nodeRelay} </dev/null >/dev/null 2>&1 &`,
  '  elif command -v socat >/dev/null 2>&1; then',
  `    ${socatRelay} </dev/null >/dev/null 2>&1 &`,
  '  else',
  `    echo "bottle: the bottle has neither node nor socat, one of which must run the relay to the egress proxy: add one to the image" >&2; exit 127`,
  '  fi',
  '  i=0',
  '  until listening; do',
  '    i=$((i+1))',
  `    [ "$i" -lt 500 ] || { echo "bottle: the relay to the egress proxy does not listen on ${relayHost}:${relayPort}" >&2; exit 1; }`,
  '    sleep 0.01 2>/dev/null || sleep 1',
  '  done',
  'fi',
]

/**
 * The same for an upstream in `$up`: it names no spec, so it is quoted once, here, not on every
 * launch (quoting the relay program is most of the script's cost).
 */
const relayFromEnvLines = relayStartLines(
  `${quoteShArgv(relayNodeWords)} "$up"`,
  `socat TCP-LISTEN:${relayPort},bind=${relayHost},reuseaddr,fork "TCP:$up"`,
).join('\n')

/** The relay to the socket bound at guestSocket (every backend but kubernetes). */
export const relayStartScript = relayStartScriptTo({ _tag: 'socket', path: guestSocket })

/** `sh -c relayThenExec sh COMMAND…`: the relay, then the command in its place (bwrap: per command). */
export const relayThenExec = `${relayStartScript}\nexec "$@"`

/** The words a bwrap sandbox runs before each command of a bottle with a door. */
export const relayPrefix: readonly string[] = ['/bin/sh', '-c', relayThenExec, 'sh']

/** The argv that starts the relay in a long-lived guest (docker, podman, smolvm), and returns. */
export const relayStartArgv: readonly string[] = ['/bin/sh', '-c', relayStartScript, 'sh']

/** The same, with the relay's upstream a proxy Service whose address is in the guest's env (kubernetes). */
export const relayStartArgvTo = (upstream: RelayUpstream): readonly string[] => ['/bin/sh', '-c', relayStartScriptTo(upstream), 'sh']

// -------------------------------------------------------------------------------------------------
// notes
// -------------------------------------------------------------------------------------------------

/** Which network applies, for the plan text (issue 13: the plan says which applies). */
export const networkNote = (spec: BottleSpec): Note => {
  const n = spec.network
  switch (n.mode) {
    case 'egress':
      return info(`network: egress through the bottle's proxy only, ${n.allow.length} allowed: ${n.allow.map(formatEntry).join(', ')}; no other route out`)
    case 'open':
      return info('network: open, the backend\'s own default network, no allow-list (docker, podman: a bridge to anywhere the host reaches; kubernetes: the Pod network; bwrap, smolvm: none)')
    case 'none':
      return info('network: none (no route out at all)')
    case 'host':
      return info('network: host, the host\'s own network (no allow-list, and the host\'s loopback services too)')
  }
}
