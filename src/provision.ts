/**
 * The provision steps of a launch (issue 14 §1): after the bottle is created and recorded, before
 * the prompt copy, as root in the guest, each a visible plan step.
 *
 *   provisionOf(docker, spec, host, door, asRoot)
 *   // right({ steps: [install claude if missing, script 1, …, restart the proxy with the bottle's list],
 *   //         proxyDoor: { allow: [...door.allow, 'registry.npmjs.org:443'] }, notes: [...] })
 *
 * The install runs first and does nothing when the image has the agent (`command -v`); without npm
 * it fails with one line that says what to add to the image, and the launch is undone. With an
 * egress allow-list the proxy starts with the provision hosts added (the install's registry and
 * `provision_allow`), and the step right after the provision steps starts it again with the
 * bottle's own list (the proxy's `start` with another list stops the old one first; the relay in
 * the guest connects per connection, so it carries on), so they are closed before the agent runs.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, HostFacts } from './backends/backend.js'
import { type Door, proxyEnv, startProxy } from './backends/egress.js'
import { type AgentInstall, agentInstalls } from './bottle-spec/provision.js'
import type { BottleSpec } from './bottle-spec/spec.js'
import type { Checked } from './bottle-spec/validate.js'
import { formatEntry, mergeEntries, privateSuffix } from './egress/policy.js'
import { compileError, show } from './plan/errors.js'
import { type GuestIntent, type Note, type Step, info } from './plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** A guest step as root, cwd `/`, no secrets, its output shown; `env`: the spec's plain env, and the proxy env with a door. */
export type RootGuestStep = (title: string, argv: readonly string[], env: GuestIntent['env']) => Step

export interface ProvisionPlan {
  /** The provision steps, then (with a door that was widened) the step that narrows it again. */
  readonly steps: readonly Step[]
  /** The door the launch's proxy starts with: the bottle's own, widened by the provision hosts; null: no door. */
  readonly proxyDoor: Door | null
  readonly notes: readonly Note[]
}

// -------------------------------------------------------------------------------------------------
// the install
// -------------------------------------------------------------------------------------------------

/**
 * `sh -c installScript sh COMMAND PACKAGE`: nothing when COMMAND is on root's PATH; else
 * `npm install -g PACKAGE` if the image has npm; else one line on stderr and 127 (the agent is
 * the missing binary). Only sh builtins before npm: a small image has little else.
 */
export const installScript = [
  'if command -v "$1" >/dev/null 2>&1; then echo "bottle: $1 is in the image ($(command -v "$1")): nothing to install"; exit 0; fi',
  'if ! command -v npm >/dev/null 2>&1; then echo "bottle: the image has neither $1 nor npm to install it: add $1 to the image (npm install -g $2), or node and npm so that launch installs it" >&2; exit 127; fi',
  'echo "bottle: $1 is not in the image: npm install -g $2"',
  'exec npm install -g -- "$2"',
].join('\n')

/** The install of the bottle's agent, or null: a custom agent has none, or provisioning is off. */
const installOf = (spec: BottleSpec): AgentInstall | null =>
  !spec.provision.install || spec.agent.name === 'custom' ? null : agentInstalls[spec.agent.name]

// -------------------------------------------------------------------------------------------------
// the steps
// -------------------------------------------------------------------------------------------------

/** An entry's text without its `/private` mark: two entries with the same one name the same host and port. */
const hostPort = (entry: string): string => (entry.endsWith(privateSuffix) ? entry.slice(0, -privateSuffix.length) : entry)

/**
 * What a launch runs to provision the bottle. bwrap (hostBinaries) runs the host's own binaries, read-only: it
 * installs nothing (a note says so) and refuses scripts, which could change nothing that lasts.
 */
export const provisionOf = (backend: Backend, spec: BottleSpec, host: HostFacts, door: Door | null, asRoot: RootGuestStep): Checked<ProvisionPlan> => {
  const p = spec.provision
  if (p.allow.length > 0 && door === null)
    return E.left(compileError(`provision_allow needs the egress allow-list, but the network is ${spec.network.mode}: leave out network, or give network: {allow: […]}`))
  if (backend.hostBinaries === true) {
    if (p.scripts.length > 0)
      return E.left(compileError(`provision scripts cannot run on ${backend.name}: its root is the host's own system directories, bound read-only, so nothing they install would be there; install on the host, or use docker, podman or smolvm`))
    return E.right({ steps: [], proxyDoor: door, notes: [info(
      p.install && spec.agent.name !== 'custom'
        ? `provision: ${backend.name} runs the host's own binaries (read-only): nothing is installed, ${spec.agent.command} must be on the host`
        : `provision: none (${backend.name} runs the host's own binaries)`,
    )] })
  }
  const install = installOf(spec)
  // The bottle's plain env (a registry mirror: npm_config_registry), never its secrets; with a door, where the door is.
  const env = [...spec.env, ...(door === null ? [] : proxyEnv)]
  const steps: Step[] = [
    ...(install === null ? [] : [asRoot(
      `install ${spec.agent.command} as root if the image lacks it (npm install -g ${install.npmPackage})`,
      ['/bin/sh', '-c', installScript, 'sh', spec.agent.command, install.npmPackage],
      env,
    )]),
    ...p.scripts.map((s, i) => asRoot(`provision script ${i + 1} of ${p.scripts.length}, as root`, ['/bin/sh', '-c', s], env)),
  ]
  const notes: Note[] = [
    info(
      install !== null
        ? `provision: ${spec.agent.command} is installed at launch (npm install -g ${install.npmPackage}, as root) only if the image lacks it, and only if the image has npm${p.scripts.length === 0 ? '' : `; then ${p.scripts.length} provision script${p.scripts.length === 1 ? '' : 's'}, as root`}`
        : p.install
          ? `provision: agent ${show(spec.agent.command)} has no default install${p.scripts.length === 0 ? '' : `; ${p.scripts.length} provision script${p.scripts.length === 1 ? '' : 's'} run as root`}`
          : 'provision: off (provision: false): nothing is installed or run at launch',
    ),
  ]
  if (door === null || steps.length === 0) return E.right({ steps, proxyDoor: door, notes })
  // A proxy of the backend's own (kubernetes: a proxy Pod) is not bottle's to restart with another list.
  if (backend.ownProxy !== undefined) {
    if (p.allow.length > 0)
      return E.left(compileError(`provision_allow cannot be applied on ${backend.name}: its egress proxy is the cluster's, and bottle does not restart it between provisioning and the agent; add the hosts to network.allow, or leave out provision_allow`))
    return E.right({ steps, proxyDoor: door, notes: [...notes, info(`provision: on ${backend.name} the egress proxy is the cluster's: the provision steps get the bottle's own allow-list only (${install === null ? 'no registry is added' : `add ${formatEntry(install.registry)} to network.allow if the image lacks ${spec.agent.command}`})`)] })
  }
  const wanted = mergeEntries([install === null ? [] : [install.registry], p.allow]).map(formatEntry)
  // Each door entry's host and port once, not again for every entry it is compared with.
  const doorHostPorts = door.allow.map(hostPort)
  const extra = wanted.filter((w) => {
    const hp = hostPort(w)
    return !door.allow.some((a, i) => doorHostPorts[i] === hp && (a === w || !w.endsWith(privateSuffix)))
  })
  if (extra.length === 0) return E.right({ steps, proxyDoor: door, notes })
  const close: Step = {
    ...startProxy(backend.name, spec, door, host, false),
    title: `close the provision hosts (${extra.join(', ')}): start the egress proxy again with the bottle's own list, ${door.allow.length} allowed`,
  }
  return E.right({
    steps: [...steps, close],
    proxyDoor: { allow: [...door.allow.filter((_, i) => !extra.some((x) => hostPort(x) === doorHostPorts[i])), ...extra] },
    notes: [...notes, info(`provision: the egress proxy also lets through ${extra.join(', ')} while the provision steps run, and is started again with the bottle's own list before the agent runs`)],
  })
}
