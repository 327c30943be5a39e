/**
 * The egress door in the plans of every backend (src/backends/egress.ts): the proxy is a resource
 * of the bottle (started before the bottle, stopped by the undo and by down, started again when it
 * is not running), no plan of a bottle with a door has a network route, and every guest command
 * is told where the door is. Properties over generated specs and ops, plus examples for the steps.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { type ProxyState, guestSocket, guestSocketDir, proxyEnv, proxyEnvKeys, relayPrefix, relayStartArgv } from '../../src/backends/egress.js'
import { compile } from '../../src/compile.js'
import type { AllowEntry } from '../../src/egress/policy.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { defaultAgent } from '../../src/bottle-spec/agent.js'
import { noLimits } from '../../src/bottle-spec/limits.js'
import { defaultProvision } from '../../src/bottle-spec/provision.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { type Plan, type Step, allSteps } from '../../src/plan/types.js'
import { type Scenario, fixedHost, scenarioArb, withOp } from '../arbitraries.js'
import { fitFor, kits } from '../backends/kits.js'
import { runs } from '../runs.js'

/** The backends whose door is the host proxy (kubernetes has a proxy Pod of its own: tests/egress-wire/kubernetes.test.ts). */
const withDoor = [backends.bwrap, backends.docker, backends.podman, backends.smolvm] as const

const entryArb: fc.Arbitrary<AllowEntry> = fc.record({
  host: fc.constantFrom('api.anthropic.com', 'registry.npmjs.org', '*.githubusercontent.com', '10.1.2.3', '::1', 'localhost'),
  port: fc.constantFrom(443, 80, 8080, 5432),
  private: fc.boolean(),
})

/**
 * The scenario's bottle with an allow-list; env keys the door owns are left out (refused: tested
 * below). `op` null: the scenario's own op (its host facts name the paths that op reads), or probe.
 */
const doorScenarioArb = (op: fc.Arbitrary<BottleOperation> | null): fc.Arbitrary<Scenario & { proxy: ProxyState | 'no facts' }> =>
  fc.record({
    s: scenarioArb,
    op: op ?? fc.option(fc.constant({ _tag: 'probe' as const }), { nil: null, freq: 4 }),
    allow: fc.array(entryArb, { minLength: 1, maxLength: 4 }),
    // 'no facts': the host facts hold no egress facts at all (an in-process compile).
    proxy: fc.constantFrom<ProxyState | 'no facts'>('running', 'stopped', 'not launched', 'unread', 'no facts'),
  }).map(({ s, op, allow, proxy }) => {
    const spec: BottleSpec = { ...s.spec, env: s.spec.env.filter(([k]) => !proxyEnvKeys.has(k)), network: { mode: 'egress', allow } }
    const withSpec = op === null ? { ...s, spec } : withOp({ ...s, spec }, op)
    const { egress: _, ...bare } = withSpec.host
    const host: HostFacts = proxy === 'no facts' ? bare : { ...bare, egress: { node: '/usr/bin/node', proxyScript: '/opt/bottle/dist/egress-proxy.js', proxy } }
    return { ...withSpec, host, proxy }
  })

/** The scenario's own op, or probe. */
const opsWithProbe = null

const compiled = (backend: Backend, s: Scenario): Plan => {
  const { spec, op, host } = fitFor(backend.name, s)
  const plan = compile(backend, spec, op, host)
  if (E.isLeft(plan)) throw new Error(`valid input rejected: ${plan.left.message}`)
  return plan.right
}

/**
 * The guest commands of a plan that are not plumbing (mkdir, chown, the relay's own start): the
 * command whose exit code is the plan's (agent, exec, resume, probe), the agent in an attach
 * pane, and launch's probe.
 */
const commandsOf = (plan: Plan): Step[] => {
  const result = plan.exitCodeFrom === null ? [] : [plan.steps[plan.exitCodeFrom] as Step]
  const panes = plan.steps.flatMap((x) => (x.pane === undefined ? [] : [x.pane]))
  const probes = plan.steps.filter((x) => x.title.startsWith('probe the egress door'))
  const found = [...new Set([...result, ...panes, ...probes])]
  if (['agent', 'exec', 'resume', 'attach', 'probe', 'launch'].includes(plan.op) && found.length === 0) throw new Error(`a ${plan.op} plan with no guest command`)
  return found
}

/** The proxy bundle's start or stop: the facts' path, or the bare name when none were read. */
const isProxy = (s: Step, verb: 'start' | 'stop'): boolean =>
  (s.argv[1] === '/opt/bottle/dist/egress-proxy.js' || s.argv[1] === 'egress-proxy.js') && s.argv[2] === verb

describe.each(withDoor.map((b) => [b.name, b] as const))('the egress door on %s', (_name, backend) => {
  const kit = kits[backend.name]

  test.prop([doorScenarioArb(opsWithProbe)], { numRuns: runs })('every guest command but plumbing carries the proxy env, as its CLI reads it back', (s) => {
    const plan = compiled(backend, s)
    const launch = compiled(backend, withOp(s, { _tag: 'launch' }))
    const fitted = fitFor(backend.name, s)
    for (const step of commandsOf(plan)) {
      // Decoded from argv (and bwrap's process env) by the backend's own independent decoder.
      const env = kit.decode(step, { host: fitted.host, launch }).env
      for (const [k, v] of proxyEnv) expect(env.filter(([ek, ev]) => ek === k && ev === v), `${k} in ${step.title}`).toHaveLength(1)
    }
  })

  test.prop([doorScenarioArb(opsWithProbe)], { numRuns: runs })('no plan gives the bottle a network: the no-network flag, and the socket directory read-only', (s) => {
    const plan = compiled(backend, s)
    const sockDir = `${fitFor(backend.name, s).host.stateRoot}/${backend.name}/${s.spec.name}/egress/sock`
    for (const step of allSteps(plan.steps)) {
      const a = step.argv
      switch (backend.name) {
        case 'bwrap':
          // Every sandbox: all namespaces unshared, the host's never kept, the door bound read-only.
          // (allSteps reaches the step an attach pane runs, and steps under a pty wrapper have their framing apart.)
          if (step.guest !== undefined || a[0] === '/usr/bin/bwrap' || a[0] === 'bwrap') {
            const words = step.guest?.framing ?? a
            expect(words).toContain('--unshare-all')
            expect(words).not.toContain('--share-net')
            expect(words.some((w, i) => w === '--ro-bind' && words[i + 1] === sockDir && words[i + 2] === guestSocketDir)).toBe(true)
            // The relay starts first in the sandbox, right after bwrap's options end.
            // (An env value may be `--` too; the kit's decoder finds where bwrap's options end.)
            expect(words.some((w, i) => w === '--' && relayPrefix.every((r, j) => words[i + 1 + j] === r))).toBe(true)
          }
          break
        case 'docker':
        case 'podman':
          if (a[1] === 'create') {
            expect(a.filter((w) => w === '--network')).toHaveLength(1)
            expect(a[a.indexOf('--network') + 1]).toBe('none')
            expect(a.some((w, i) => w === '-v' && a[i + 1] === `${sockDir}:${guestSocketDir}:ro`)).toBe(true)
          }
          break
        case 'smolvm':
          if (a[1] === 'machine' && a[2] === 'create') {
            // smolvm's network is off unless one of these is given (each implies --net).
            for (const flag of ['--net', '--allow-host', '--allow-cidr', '--network', '--dns', '--outbound-localhost-only']) expect(a).not.toContain(flag)
            expect(a.some((w, i) => w === '--mount-socket' && a[i + 1] === `${sockDir}/egress.sock:${guestSocket}`)).toBe(true)
          }
          break
      }
    }
  })

  test.prop([doorScenarioArb(fc.constant({ _tag: 'launch' as const }))], { numRuns: runs })('launch: the proxy starts before the bottle, its undo stops it, the probe is the last step', (s) => {
    const plan = compiled(backend, s)
    const start = plan.steps.findIndex((x) => isProxy(x, 'start'))
    expect(start).toBeGreaterThanOrEqual(0)
    expect(plan.steps[start]?.undo.some((u) => isProxy(u, 'stop'))).toBe(true)
    // Before the first step that runs anything in the bottle, and before docker's and smolvm's start.
    const firstGuest = plan.steps.findIndex((x) => x.guest !== undefined || (x.argv.includes('start') && !isProxy(x, 'start')))
    expect(start).toBeLessThan(firstGuest)
    const last = plan.steps.at(-1)
    expect(last?.title).toMatch(/^probe the egress door/)
    expect(last?.guest?.intent.user).toBe(fitFor(backend.name, s).spec.user)
    // A long-lived guest gets the relay once, after it starts; bwrap starts one in every sandbox.
    expect(plan.steps.some((x) => x.guest?.tail.join('\0') === relayStartArgv.join('\0'))).toBe(backend.relayPerCommand !== true)
  })

  test.prop([doorScenarioArb(fc.constantFrom<BottleOperation>({ _tag: 'exec', script: 'true', user: null }, { _tag: 'agent', args: [], tty: false }, { _tag: 'probe' }))], { numRuns: runs })(
    'an op on the bottle starts the proxy (and a long-lived guest\'s relay) first exactly when it is launched and its proxy is not running, never on a guess',
    (s) => {
      const plan = compiled(backend, s)
      const starts = plan.steps.filter((x) => isProxy(x, 'start'))
      // A bottle never launched (no proxy directory) gets no proxy: the op fails at the backend.
      // Nor does one whose proxy nobody looked at (no facts read): nothing is started on a guess.
      const again = s.proxy === 'stopped'
      expect(starts).toHaveLength(again ? 1 : 0)
      const relays = plan.steps.filter((x) => x.guest?.tail.join('\0') === relayStartArgv.join('\0'))
      expect(relays).toHaveLength(again && backend.relayPerCommand !== true ? 1 : 0)
      // The guest command's exit code is still the plan's.
      expect(plan.exitCodeFrom).toBe(plan.steps.length - 1)
    },
  )

  test.prop([doorScenarioArb(fc.constant({ _tag: 'down' as const }))], { numRuns: runs })('down stops the proxy before it removes anything', (s) => {
    const plan = compiled(backend, s)
    expect(isProxy(plan.steps[0] as Step, 'stop')).toBe(true)
  })
})

describe('the egress door: examples', () => {
  const spec = (network: BottleSpec['network'], env: BottleSpec['env'] = []): BottleSpec => ({
    name: 'demo', image: null, user: 'node', workdir: '/src/app', env, secrets: [], prompt: null,
    agent: defaultAgent, allowRoot: false, network, context: null, namespace: null, resources: { requests: [], limits: [] }, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null,
  })
  const egress: BottleSpec['network'] = { mode: 'egress', allow: [{ host: 'api.anthropic.com', port: 443, private: false }] }
  const host = (s: BottleSpec, op: BottleOperation): HostFacts => fixedHost(s, op)

  it('docker launch, as bottle plan shows it: create (no network, the socket directory read-only), the proxy, start, the relay, the probe last', () => {
    const s = spec(egress)
    const h: HostFacts = { ...host(s, { _tag: 'launch' }), egress: { node: '/usr/bin/node', proxyScript: '/opt/bottle/dist/egress-proxy.js', proxy: 'not launched' } }
    const plan = compile(backends.docker, s, { _tag: 'launch' }, h)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    expect(plan.right.steps.map((x) => `${x.title}: ${x.argv.slice(0, 9).join(' ').replace(/\n.*/s, '…')}`)).toMatchInlineSnapshot(`
      [
        "create the container demo: docker create --name demo --label dev.bottle.managed=true --label dev.bottle.name=demo --label",
        "start the egress proxy of demo: 2 allowed (/home/me/.local/state/bottle/docker/demo/egress/egress.log logs each decision): /usr/bin/node /opt/bottle/dist/egress-proxy.js start --dir /home/me/.local/state/bottle/docker/demo/egress --allow api.anthropic.com:443 --allow registry.npmjs.org:443",
        "start the container demo: docker start demo",
        "check that the user node exists in the image: docker exec -u root -e HOME=/root -e USER=root -w",
        "start the relay to the egress proxy in the bottle (127.0.0.1:3128): docker exec -u root -e HOME=/root -e USER=root -w",
        "record the spec the bottle is launched with in /home/me/.local/state/bottle/docker/demo/record.json: /bin/sh -c umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/record.json" sh /home/me/.local/state/bottle/docker/demo",
        "install claude as root if the image lacks it (npm install -g @anthropic-ai/claude-code): docker exec -u root -e HOME=/root -e USER=root -e",
        "close the provision hosts (registry.npmjs.org:443): start the egress proxy again with the bottle's own list, 1 allowed: /usr/bin/node /opt/bottle/dist/egress-proxy.js start --dir /home/me/.local/state/bottle/docker/demo/egress --allow api.anthropic.com:443",
        "probe the egress door from inside the bottle, as node: docker exec -u node -e HOME=/home/node -e USER=node -e",
      ]
    `)
  })

  it('a proxy variable in the env of a bottle with a door is refused, one line, exit 2 (a Left)', () => {
    for (const [k] of proxyEnv) {
      const s = spec(egress, [[k, 'http://elsewhere:3128']])
      const op: BottleOperation = { _tag: 'exec', script: 'true', user: null }
      const plan = compile(backends.docker, s, op, host(s, op))
      expect(E.isLeft(plan) && plan.left.message).toMatch(new RegExp(`^env ${k}: .*egress proxy`))
    }
  })

  it('probe of a bottle without a door is refused; with none, open and host no proxy env reaches a command', () => {
    for (const mode of ['open', 'none', 'host'] as const) {
      const s = spec({ mode })
      const probe = compile(backends.docker, s, { _tag: 'probe' }, host(s, { _tag: 'probe' }))
      expect(E.isLeft(probe) && probe.left.message).toMatch(/has no egress door/)
      const op: BottleOperation = { _tag: 'exec', script: 'true', user: null }
      const plan = compile(backends.docker, s, op, host(s, op))
      if (E.isLeft(plan)) throw new Error(plan.left.message)
      expect(plan.right.steps.every((x) => !x.argv.some((w) => w.startsWith('HTTP_PROXY=')))).toBe(true)
    }
  })

  it('kubernetes refuses an allow-list for a name too long for its proxy Pod (egress-NAME, 63 characters), one line', () => {
    const s = { ...spec(egress), name: 'a'.repeat(57) }
    const launch = compile(backends.kubernetes, s, { _tag: 'launch' }, host(s, { _tag: 'launch' }))
    expect(E.isLeft(launch) && launch.left.message).toMatch(/^bottle name "a{57}" is too long for an allow-list on kubernetes: .* at most 56$/)
    const fits = { ...s, name: 'a'.repeat(56) }
    expect(E.isRight(compile(backends.kubernetes, fits, { _tag: 'launch' }, host(fits, { _tag: 'launch' })))).toBe(true)
  })

  it('every plan on one bottle says which network applies', () => {
    for (const network of [egress, { mode: 'open' as const }, { mode: 'none' as const }, { mode: 'host' as const }]) {
      const s = spec(network)
      const op: BottleOperation = { _tag: 'exec', script: 'true', user: null }
      const plan = compile(backends.docker, s, op, host(s, op))
      if (E.isLeft(plan)) throw new Error(plan.left.message)
      expect(plan.right.notes.filter((n) => n._tag === 'info' && n.text.startsWith(`network: ${network.mode}`))).toHaveLength(1)
    }
  })
})
