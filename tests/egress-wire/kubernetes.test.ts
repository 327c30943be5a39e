/**
 * The kubernetes egress door in the plans (src/backends/kubernetes.ts): a proxy Pod behind a
 * Service, and NetworkPolicies that fence the bottle's Pod to it. Properties over generated
 * bottles (names, allow-lists, secrets, cluster scopes) and ops, read from the plan's own JSON:
 * the fence is made before the bottle, selects exactly the bottle's Pod, lets it reach only the
 * proxy's port and take nothing in; every object carries this run's launch id and its undo finds
 * that object only; no host proxy ever; down takes all of it away.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { egressOfLabel, kubernetes, proxyName, serviceEnv } from '../../src/backends/kubernetes.js'
import { type ProxyState } from '../../src/backends/egress.js'
import { compile } from '../../src/compile.js'
import type { AllowEntry } from '../../src/egress/policy.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { defaultAgent } from '../../src/bottle-spec/agent.js'
import { noLimits } from '../../src/bottle-spec/limits.js'
import { defaultProvision } from '../../src/bottle-spec/provision.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { type Json, type Plan, type Step } from '../../src/plan/types.js'
import { fixedHost } from '../arbitraries.js'
import { runs } from '../runs.js'

type Obj = { readonly [k: string]: Json }
const obj = (v: Json | undefined): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: Json | undefined): readonly Json[] => (Array.isArray(v) ? (v as readonly Json[]) : [])

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,54}[a-z0-9])?$/)
const entryArb: fc.Arbitrary<AllowEntry> = fc.record({
  host: fc.constantFrom('api.anthropic.com', 'registry.npmjs.org', '*.githubusercontent.com', '10.1.2.3', '::1'),
  port: fc.constantFrom(443, 80, 5432),
  private: fc.boolean(),
})

const fencedArb = fc.record({
  name: label,
  allow: fc.array(entryArb, { minLength: 1, maxLength: 4 }),
  secrets: fc.subarray(['GH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN']),
  context: fc.option(fc.constantFrom('lab', 'prod west'), { nil: null }),
  namespace: fc.option(fc.constantFrom('agents', 'default'), { nil: null }),
  proxy: fc.constantFrom<ProxyState>('running', 'stopped', 'not launched', 'unread'),
}).map(({ name, allow, secrets, context, namespace, proxy }) => {
  const spec: BottleSpec = {
    name, image: null, user: 'node', workdir: '/src/app', env: [], secrets, prompt: null, agent: defaultAgent, allowRoot: false,
    network: { mode: 'egress', allow }, context, namespace, resources: { requests: [], limits: [] }, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null,
  }
  return { spec, proxy }
})

const planOf = (spec: BottleSpec, op: BottleOperation, proxy: ProxyState): Plan => {
  const host: HostFacts = { ...fixedHost(spec, op), egress: { node: '/usr/bin/node', proxyScript: '/opt/bottle/dist/egress-proxy.js', proxy } }
  const p = compile(kubernetes, spec, op, host)
  if (E.isLeft(p)) throw new Error(`valid input rejected: ${p.left.message}`)
  return p.right
}

/** The objects a launch creates, in order, with their step. */
const created = (plan: Plan): { step: Step; doc: Obj }[] =>
  plan.steps.flatMap((step) => (step.stdin._tag === 'json' ? [{ step, doc: obj(step.stdin.document) }] : []))

const labelsOf = (doc: Obj): Obj => obj(obj(doc.metadata).labels)
const matches = (selector: Json | undefined, labels: Obj): boolean =>
  Object.entries(obj(obj(selector).matchLabels)).every(([k, v]) => labels[k] === v) && Object.keys(obj(obj(selector).matchLabels)).length > 0

/** A host proxy's start or stop (node egress-proxy.js start|stop), or its directory's removal, in the steps or their undo. */
const isHostProxyStep = (s: Step): boolean =>
  (s.argv[1]?.endsWith('egress-proxy.js') === true && ['start', 'stop'].includes(s.argv[2] ?? '')) || s.title.startsWith("remove the egress proxy's directory")
const usesHostProxy = (plan: Plan): boolean => plan.steps.some((s) => isHostProxyStep(s) || s.undo.some(isHostProxyStep))

describe('the kubernetes egress door in the plans', () => {
  test.prop([fencedArb], { numRuns: runs })('launch: the fence before the bottle, fencing exactly it, to the proxy port only, nothing in', ({ spec, proxy }) => {
    const plan = planOf(spec, { _tag: 'launch' }, proxy)
    const objs = created(plan)
    const kinds = objs.map(({ doc }) => `${String(doc.kind)}/${String(obj(doc.metadata).name)}`)
    const p = proxyName(spec)
    expect(kinds).toStrictEqual([`NetworkPolicy/${p}-bottle`, `NetworkPolicy/${p}-proxy`, `Service/${p}`, `Pod/${p}`, `Secret/${spec.name}-secrets`, `Pod/${spec.name}`])
    const [bottlePolicy, proxyPolicy, service, proxyPod, , bottlePod] = objs.map((o) => o.doc) as Obj[]
    const bottleLabels = labelsOf(bottlePod as Obj)
    const proxyLabels = labelsOf(proxyPod as Obj)
    // The bottle's policy selects the bottle's Pod and not the proxy's.
    const bp = obj((bottlePolicy as Obj).spec)
    expect(matches(bp.podSelector, bottleLabels)).toBe(true)
    expect(matches(bp.podSelector, proxyLabels)).toBe(false)
    expect(bp.policyTypes).toStrictEqual(['Ingress', 'Egress'])
    expect(bp.ingress).toStrictEqual([])
    // One egress rule: to the proxy Pod (and not the bottle itself), TCP 3128 only.
    const [rule, ...more] = arr(bp.egress)
    expect(more).toStrictEqual([])
    const to = arr(obj(rule).to)
    expect(to).toHaveLength(1)
    expect(Object.keys(obj(to[0]))).toStrictEqual(['podSelector'])
    expect(matches(obj(to[0]).podSelector, proxyLabels)).toBe(true)
    expect(matches(obj(to[0]).podSelector, bottleLabels)).toBe(false)
    expect(obj(rule).ports).toStrictEqual([{ protocol: 'TCP', port: 3128 }])
    // The proxy's policy: connections in from the bottle only, on 3128.
    const pp = obj((proxyPolicy as Obj).spec)
    expect(matches(pp.podSelector, proxyLabels)).toBe(true)
    expect(pp.policyTypes).toStrictEqual(['Ingress'])
    const [inRule, ...moreIn] = arr(pp.ingress)
    expect(moreIn).toStrictEqual([])
    expect(arr(obj(inRule).from).every((f) => Object.keys(obj(f)).join() === 'podSelector' && matches(obj(f).podSelector, bottleLabels))).toBe(true)
    expect(obj(inRule).ports).toStrictEqual([{ protocol: 'TCP', port: 3128 }])
    // The Service fronts the proxy Pod, not the bottle.
    const sel = obj(obj((service as Obj).spec).selector)
    expect(Object.entries(sel).every(([k, v]) => proxyLabels[k] === v)).toBe(true)
    expect(Object.entries(sel).every(([k, v]) => bottleLabels[k] === v)).toBe(false)
    // The bottle's Pod takes the Service's env vars; the proxy has no API token and its allow-list.
    expect(obj((bottlePod as Obj).spec).enableServiceLinks).toBe(true)
    expect(obj((proxyPod as Obj).spec).automountServiceAccountToken).toBe(false)
    const command = arr(obj(arr(obj((proxyPod as Obj).spec).containers)[0]).command)
    expect(command.filter((w, i) => command[i - 1] === '--allow').length).toBe(spec.network.mode === 'egress' ? spec.network.allow.length : -1)
  })

  test.prop([fencedArb], { numRuns: runs })('launch: every object carries the launch id slot, and its undo deletes by its own part and this run\'s id only', ({ spec, proxy }) => {
    const plan = planOf(spec, { _tag: 'launch' }, proxy)
    const selectors = created(plan).map(({ step }) => {
      expect(step.stdin._tag === 'json' && step.stdin.launchId).toStrictEqual([['metadata', 'labels', 'dev.bottle.launch-id']])
      const [undo, ...more] = step.undo
      expect(more).toStrictEqual([])
      // sh -c SCRIPT kubectl TRIES KIND SELECTOR…: the selector ends in the launch id slot.
      expect(undo?.launchId).toStrictEqual([6])
      return `${undo?.argv[5] ?? ''} ${undo?.argv[6] ?? ''}`
    })
    expect(new Set(selectors).size).toBe(selectors.length)
  })

  test.prop([fencedArb], { numRuns: runs })('launch: no host proxy; the relay reaches the Service by its env vars; the probe is last, the Pod probe', ({ spec, proxy }) => {
    const plan = planOf(spec, { _tag: 'launch' }, proxy)
    expect(usesHostProxy(plan)).toBe(false)
    const { hostVar } = serviceEnv(spec)
    expect(plan.steps.some((s) => s.guest !== undefined && s.guest.tail.some((w) => w.includes(`$${hostVar}`)))).toBe(true)
    const last = plan.steps.at(-1)
    expect(last?.title).toMatch(/^probe the egress door/)
    expect(last?.guest?.tail.some((w) => w.includes('KUBERNETES_SERVICE_HOST'))).toBe(true)
    expect(last?.guest?.tail.some((w) => w.includes('/proc/net/route'))).toBe(false)
    expect(plan.notes.some((n) => n._tag === 'info' && n.text.includes('network plugin enforces it'))).toBe(true)
  })

  test.prop([fencedArb, fc.constantFrom<BottleOperation>({ _tag: 'exec', script: 'true', user: null }, { _tag: 'agent', args: [], tty: false }, { _tag: 'probe' })], { numRuns: runs })(
    'later ops start nothing first, whatever the host proxy state reads (the kubelet restarts the proxy Pod)',
    ({ spec, proxy }, op) => {
      const plan = planOf(spec, op, proxy)
      expect(usesHostProxy(plan)).toBe(false)
      expect(plan.steps).toHaveLength(1)
    },
  )

  test.prop([fencedArb], { numRuns: runs })('down: the bottle first, then every object of its door by label; no host proxy', ({ spec, proxy }) => {
    const plan = planOf(spec, { _tag: 'down' }, proxy)
    expect(usesHostProxy(plan)).toBe(false)
    const words = plan.steps.map((s) => s.argv.filter((w) => !w.startsWith('--context=') && !w.startsWith('--namespace=')).slice(1).join(' '))
    expect(words.slice(0, 3)).toStrictEqual([
      `delete pod ${spec.name} --ignore-not-found`,
      `delete secret ${spec.name}-secrets --ignore-not-found`,
      `delete pod,service,networkpolicy -l ${egressOfLabel}=${spec.name} --ignore-not-found`,
    ])
  })
})
