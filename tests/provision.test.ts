/**
 * Provisioning at launch (src/provision.ts) in the plans of every backend: the provision steps sit
 * right after the launch record and before the prompt copy and the probe, run as root with no
 * secret, add nothing to undo, and with a door widen it only until the step after them. Properties
 * over generated specs, plus examples for the words and the refusals.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { Backend } from '../src/backends/backend.js'
import { backends } from '../src/backends/index.js'
import { compile } from '../src/compile.js'
import { agentProfiles } from '../src/bottle-spec/agent.js'
import { type Provision, defaultProvision } from '../src/bottle-spec/provision.js'
import type { BottleSpec } from '../src/bottle-spec/spec.js'
import { installScript } from '../src/provision.js'
import { type Plan, type Step, secretSource } from '../src/plan/types.js'
import { renderText } from '../src/plan/render.js'
import { type Scenario, fixedHost, nastyString, scenarioArb, withOp } from './arbitraries.js'
import { fitFor } from './backends/kits.js'
import { runs } from './runs.js'

const provisionArb: fc.Arbitrary<Provision> = fc.record({
  install: fc.boolean(),
  scripts: fc.array(nastyString({ minLength: 1 }).filter((s) => s.trim() !== '' && !s.includes('\0')), { maxLength: 3 }),
  allow: fc.constant([]),
})

const egressDoor = { node: '/usr/bin/node', proxyScript: '/opt/bottle/dist/egress-proxy.js', proxy: 'not launched' as const }

/** A launch of the scenario's bottle with `provision`, as `backend` takes it. */
const launchWith = (backend: Backend, s: Scenario, provision: Provision): E.Either<string, Plan> => {
  const fitted = fitFor(backend.name, withOp(s, { _tag: 'launch' }))
  const spec: BottleSpec = { ...fitted.spec, provision }
  const plan = compile(backend, spec, { _tag: 'launch' }, { ...fitted.host, egress: egressDoor })
  return E.mapLeft((e: { message: string }) => e.message)(plan)
}

const right = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(`valid input rejected: ${e.left}`)
  return e.right
}

const isProvision = (s: Step): boolean => s.title.startsWith('install ') || s.title.startsWith('provision script ')
const isClose = (s: Step): boolean => s.title.startsWith('close the provision hosts')
const isProxyStart = (s: Step): boolean => s.argv[1] === egressDoor.proxyScript && s.argv[2] === 'start'
const allowOf = (s: Step): string[] => s.argv.flatMap((a, i) => (s.argv[i - 1] === '--allow' ? [a] : []))

const provisioning = Object.values(backends).filter((b) => b.hostBinaries !== true)

describe.each(provisioning.map((b) => [b.name, b] as const))('provision on %s', (_name, backend) => {
  test.prop([scenarioArb, provisionArb], { numRuns: runs })('the provision steps are inserted right after the launch record, before the prompt copy and the probe', (s, provision) => {
    const off = right(launchWith(backend, s, { install: false, scripts: [], allow: [] }))
    const on = right(launchWith(backend, s, provision))
    const record = on.steps.findIndex((st) => st.title.startsWith('record the spec'))
    const added = on.steps.filter((st) => isProvision(st) || isClose(st))
    const install = provision.install && on.steps.some((st) => st.title.startsWith('install '))
    expect(added.filter(isProvision).length).toBe(provision.scripts.length + (install ? 1 : 0))
    // The same plan as with provisioning off, with the provision steps right after the record.
    expect(on.steps.slice(record + 1, record + 1 + added.length)).toStrictEqual(added)
    // By title: the record's text and the container's spec-hash label carry the provision setting.
    const strip = (p: Plan) => p.steps.filter((st) => !isProvision(st) && !isClose(st)).map((st) => (isProxyStart(st) ? 'start the proxy' : st.title))
    expect(strip(on)).toStrictEqual(strip(off))
    // Scripts in the user's order, each its own step.
    expect(added.filter((st) => st.title.startsWith('provision script ')).map((st) => st.guest?.intent.argv)).toStrictEqual(provision.scripts.map((x) => ['/bin/sh', '-c', x]))
  })

  test.prop([scenarioArb, provisionArb], { numRuns: runs })('each provision step runs as root in the bottle, shown, with no secret and no undo', (s, provision) => {
    const on = right(launchWith(backend, s, provision))
    for (const st of on.steps.filter(isProvision)) {
      expect(st.guest?.intent).toMatchObject({ user: 'root', home: '/root', secrets: [], cwd: '/', tty: false, stdin: false })
      expect(st.stdio).toBe('passthrough')
      expect(st.undo).toStrictEqual([])
      expect(st.env.vars.filter((v) => v._tag === 'secret').map(secretSource)).toStrictEqual([])
      // No secret name reaches the guest through the command line either (kubernetes: env -u drops them).
      for (const name of s.spec.secrets) expect(st.guest?.intent.env.some(([k]) => k === name)).toBe(false)
    }
  })

  test.prop([scenarioArb, provisionArb], { numRuns: runs })('with a door, the registry is let through from the proxy start to the step after the provision steps, and never after', (s, provision) => {
    if (backend.name === 'kubernetes') return true // no door on kubernetes: refused, tested in tests/egress-wire
    const spec = { ...s.spec, env: s.spec.env.filter(([k]) => !/proxy$/i.test(k) && k !== 'NODE_USE_ENV_PROXY'), network: { mode: 'egress' as const, allow: [{ host: 'api.anthropic.com', port: 443, private: false }] } }
    const on = right(launchWith(backend, { ...s, spec }, provision))
    const starts = on.steps.filter(isProxyStart)
    const provisions = on.steps.filter(isProvision)
    const widened = provisions.length > 0 && provision.install && spec.agent.name !== 'custom'
    if (!widened && provisions.length === 0) {
      expect(starts.map(allowOf)).toStrictEqual([['api.anthropic.com:443']])
      return
    }
    const first = starts[0] as Step
    const last = starts.at(-1) as Step
    expect(allowOf(last)).toStrictEqual(['api.anthropic.com:443'])
    if (widened) {
      expect(allowOf(first)).toStrictEqual(['api.anthropic.com:443', 'registry.npmjs.org:443'])
      // The narrowing start comes right after the last provision step, before anything the agent runs.
      const lastProvision = on.steps.lastIndexOf(provisions.at(-1) as Step)
      expect(on.steps[lastProvision + 1]).toBe(last)
      expect(on.steps.slice(lastProvision + 2).some(isProxyStart)).toBe(false)
    }
    return true
  })
})

describe('provision: words and refusals', () => {
  const s0 = fc.sample(scenarioArb, { numRuns: 1, seed: 7 })[0] as Scenario
  const base: BottleSpec = {
    ...s0.spec, name: 'demo', image: 'node:22', user: 'node', workdir: '/src/app', env: [], secrets: ['TOKEN'], prompt: null,
    agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, provision: defaultProvision,
  }
  const plan = (backend: Backend, spec: BottleSpec) => {
    const host = { ...fixedHost(spec, { _tag: 'launch' }), egress: egressDoor }
    const hostBwrap = backend.name === 'bwrap' ? { ...host, bwrap: host.bwrap === null ? null : { ...host.bwrap, bottle: host.bwrap.bottle === null ? null : { ...host.bwrap.bottle, launched: false } } } : host
    return compile(backend, backend.name === 'bwrap' ? { ...spec, image: null } : spec, { _tag: 'launch' }, hostBwrap)
  }

  it('the default install is one root step: the check and npm install -g of the profile\'s package', () => {
    const p = right(E.mapLeft((e: { message: string }) => e.message)(plan(backends.docker, base)))
    const install = p.steps.filter(isProvision)
    expect(install.map((st) => st.guest?.intent.argv)).toStrictEqual([['/bin/sh', '-c', installScript, 'sh', 'claude', '@anthropic-ai/claude-code']])
    const codex = right(E.mapLeft((e: { message: string }) => e.message)(plan(backends.docker, { ...base, agent: agentProfiles.codex })))
    expect(codex.steps.filter(isProvision).map((st) => st.guest?.intent.argv.slice(3))).toStrictEqual([['sh', 'codex', '@openai/codex']])
    expect(renderText(p)).toContain('note: provision: claude is installed at launch (npm install -g @anthropic-ai/claude-code, as root) only if the image lacks it')
  })

  it('provision: false runs nothing and says so', () => {
    const p = right(E.mapLeft((e: { message: string }) => e.message)(plan(backends.docker, { ...base, provision: { install: false, scripts: [], allow: [] } })))
    expect(p.steps.filter(isProvision)).toStrictEqual([])
    expect(renderText(p)).toContain('note: provision: off (provision: false): nothing is installed or run at launch')
  })

  it('bwrap installs nothing and says so in a note; it refuses scripts with one line', () => {
    const p = right(E.mapLeft((e: { message: string }) => e.message)(plan(backends.bwrap, base)))
    expect(p.steps.filter(isProvision)).toStrictEqual([])
    expect(renderText(p)).toContain("note: provision: bwrap runs the host's own binaries (read-only): nothing is installed, claude must be on the host")
    const refused = plan(backends.bwrap, { ...base, provision: { install: true, scripts: ['apt-get install -y git'], allow: [] } })
    expect(E.isLeft(refused) && refused.left.message).toMatch(/^provision scripts cannot run on bwrap: its root is the host's own system directories, bound read-only/)
  })

  it('provision_allow without an allow-list is refused: there is no door to widen', () => {
    const refused = plan(backends.docker, { ...base, provision: { install: true, scripts: [], allow: [{ host: 'deb.debian.org', port: 80, private: false }] } })
    expect(E.isLeft(refused) && refused.left.message).toBe('provision_allow needs the egress allow-list, but the network is open: leave out network, or give network: {allow: […]}')
  })

  it('provision_allow widens the door for the provision steps, even with no install', () => {
    const spec: BottleSpec = { ...base, network: { mode: 'egress', allow: [{ host: 'api.anthropic.com', port: 443, private: false }] }, provision: { install: false, scripts: ['apt-get update'], allow: [{ host: 'deb.debian.org', port: 80, private: false }] } }
    const p = right(E.mapLeft((e: { message: string }) => e.message)(plan(backends.docker, spec)))
    expect(p.steps.filter(isProxyStart).map(allowOf)).toStrictEqual([['api.anthropic.com:443', 'deb.debian.org:80'], ['api.anthropic.com:443']])
    expect(renderText(p)).toContain('note: provision: the egress proxy also lets through deb.debian.org:80 while the provision steps run, and is started again with the bottle\'s own list before the agent runs')
  })
})
