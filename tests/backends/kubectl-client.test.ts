/**
 * Every kubectl step bottle plans, run through a real kubectl client where one is installed.
 * kubectl parses its flags, reads `-f -` and picks the kubeconfig context before it talks to a
 * cluster; here the kubeconfig points at a closed local port, so a step that kubectl accepts ends
 * in "connection refused", and a wrong flag, verb or context fails earlier with its own message.
 * The Pod and the Secret are also decoded by kubectl offline (`--local`). None of this is a
 * cluster: no Pod is ever created.
 */
import * as E from 'fp-ts/lib/Either.js'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { kubernetes } from '../../src/backends/kubernetes.js'
import { compile, compileDoorList } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { listPlanFor } from './fixtures.js'
import { onPath } from '../../src/host.js'
import { fillJson, jsonParts } from '../../src/plan/json.js'
import type { Json, Plan, Step } from '../../src/plan/types.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'
import { quantityRule } from '../../src/bottle-spec/validate.js'

const hasKubectl = onPath('kubectl', process.env.PATH)
const skipped = hasKubectl ? '' : ' (skipped: no kubectl on PATH, so no real client to check against)'

const dir = mkdtempSync(join(tmpdir(), 'bottle-kubectl-client-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Context names that must reach kubectl as one word each; all point at a port nobody listens on.
const contexts = ['lab', '-n x=y z']
const kubeconfig = join(dir, 'kubeconfig')
writeFileSync(kubeconfig, JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } }],
  users: [{ name: 'nobody', user: { token: 'not-a-token' } }],
  contexts: contexts.map((name) => ({ name, context: { cluster: 'nowhere', user: 'nobody', namespace: 'default' } })),
  'current-context': 'lab',
}))
// Local paths kubectl cp checks before it connects.
const files = { prompt: join(dir, 'prompt.md'), colon: join(dir, 'a:b.txt'), notes: join(dir, 'notes') }
writeFileSync(files.prompt, 'be brief\n')
writeFileSync(files.colon, 'x\n')
mkdirSync(files.notes)

const kubectl = (args: readonly string[], stdin = '') =>
  spawnSync('kubectl', args, {
    input: stdin,
    // HOME too: no ~/.kube cache or config of whoever runs the tests.
    env: { PATH: process.env.PATH, KUBECONFIG: kubeconfig, HOME: dir },
    timeout: 30_000,
  })

const spec = (layer: Parameters<typeof resolveSpec>[0]['fromManifest']): BottleSpec => {
  const r = resolveSpec({ name: 'demo', fromManifest: { network: { mode: 'open' }, ...layer }, fromFlags: {}, cwd: dir })
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

const full = spec({
  env: [['CI', '1']],
  secrets: ['CLAUDE_CODE_OAUTH_TOKEN', 'GH_TOKEN'],
  prompt: files.prompt,
  context: '-n x=y z',
  namespace: 'agents',
  network: { mode: 'host' },
  // Canonical forms: kubectl writes quantities back canonically (0.5 → 500m).
  resources: { requests: [['cpu', '500m'], ['memory', '1Gi']], limits: [['memory', '4Gi'], ['nvidia.com/gpu', '1']] },
})
const plain = spec({ context: 'lab' })
/** With an allow-list: the egress door's proxy Pod, Service and NetworkPolicies. */
const fenced = spec({ context: 'lab', namespace: 'agents', network: { mode: 'egress', allow: [{ host: 'registry.npmjs.org', port: 443, private: false }] } })

const host: HostFacts = {
  cwd: dir,
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: true,
  pathKinds: { [files.prompt]: 'file', [files.colon]: 'file', [files.notes]: 'dir' },
  tmpdir: dir,
  uid: 1000,
  bwrap: null,
  cluster: { context: 'lab', namespace: null },
}

const plans: [string, Plan][] = [
  ...([
    ['launch', { _tag: 'launch' }],
    ['agent', { _tag: 'agent', args: ['-p', 'hi'], tty: null }],
    ['resume', { _tag: 'resume', args: [], tty: false }],
    ['exec', { _tag: 'exec', script: 'npm test', user: 'root' }],
    ['cp a file', { _tag: 'cp', source: files.prompt, dest: '/home/node/p.md' }],
    ['cp a file with ":"', { _tag: 'cp', source: files.colon, dest: '/home/node/a:b.txt' }],
    ['cp a directory', { _tag: 'cp', source: files.notes, dest: '/home/node/notes' }],
    ['down', { _tag: 'down' }],
  ] as [string, BottleOperation][]).flatMap(([label, op]): [string, Plan][] =>
    [full, plain, ...(['launch', 'down'].includes(op._tag) ? [fenced] : [])].map((s) => {
      const p = compile(kubernetes, s, op, host)
      if (E.isLeft(p)) throw new Error(p.left.message)
      return [`${label} (context ${JSON.stringify(s.context)}${s === fenced ? ', allow-list' : ''})`, p.right]
    }),
  ),
  ['ls', listPlanFor(kubernetes, { ...host, cluster: { context: 'lab', namespace: 'agents' } })],
  // down --all: what it lists to find the doors of bottles that are gone, and its plan with one.
  ['down --all, the door listing', compileDoorList(kubernetes, { ...host, cluster: { context: 'lab', namespace: 'agents' } }) ?? (() => { throw new Error('kubernetes lists no doors') })()],
  ['down --all with a gone bottle', E.getOrElseW((e: { message: string }) => { throw new Error(e.message) })(compile(kubernetes, null, { _tag: 'down', all: ['demo'], gone: ['old'] }, { ...host, cluster: { context: 'lab', namespace: 'agents' } }))],
]

const kubectlSteps = (steps: readonly Step[]): Step[] =>
  steps.flatMap((s) => [...(s.argv[0] === 'kubectl' ? [s] : []), ...kubectlSteps(s.undo)])

/** Steps that run kubectl from a `sh -c` script (launch's undo: look, then delete by launch id). */
const scriptedKubectlSteps = (steps: readonly Step[]): Step[] =>
  steps.flatMap((s) => [...(s.argv[0] === 'sh' && s.argv[3] === 'kubectl' ? [s] : []), ...scriptedKubectlSteps(s.undo)])

const launchId = '0123456789abcdef'

/** What the step writes to stdin, with a stand-in value for each secret and a launch id. */
const stdinOf = (s: Step): string =>
  s.stdin._tag === 'json' ? fillJson(jsonParts(s.stdin.document, s.stdin.secrets, 0, s.stdin.launchId), (n) => `value of ${n}`, launchId) : ''

const cases = plans.flatMap(([label, plan]) => kubectlSteps(plan.steps).map((s) => [`${label}: ${s.title}`, s] as const))

describe.skipIf(!hasKubectl)(`kubectl accepts every step's flags${skipped}`, () => {
  // The host steps that stage files for kubectl cp (cp, tar) run first, as they would.
  beforeAll(() => {
    for (const [, plan] of plans)
      for (const s of plan.steps.filter((x) => x.argv[0] === 'cp' || x.argv[0] === 'tar'))
        expect(spawnSync(s.argv[0] as string, s.argv.slice(1)).status).toBe(0)
  })

  it.each(cases)('%s', (_label, s) => {
    const r = kubectl(s.argv.slice(1), stdinOf(s))
    const stderr = r.stderr.toString()
    // Got as far as the network: the flags, the verb, the context and the stdin all passed.
    expect(stderr).toMatch(/connection to the server 127\.0\.0\.1:1 was refused|dial tcp 127\.0\.0\.1:1: connect: connection refused/)
    expect(stderr).not.toMatch(/unknown (shorthand )?flag|unknown command|flag needs an argument|invalid argument|does not exist|error parsing|Usage:/)
    expect(r.status).toBe(1)
  })
})

/**
 * The script runs kubectl twice: `get` (does this run's object exist yet?), then `delete`. A shim
 * named kubectl first on PATH runs the real client, logs each call's stderr and code, and then
 * says that `get` found something, so that the script goes on to its `delete`.
 */
const shimDir = join(dir, 'shim')
mkdirSync(shimDir)
const shimLog = join(dir, 'shim.log')
const realKubectl = spawnSync('sh', ['-c', 'command -v kubectl']).stdout.toString().trim()
writeFileSync(join(shimDir, 'kubectl'), [
  '#!/bin/sh',
  `err=$(${JSON.stringify(realKubectl)} "$@" 2>&1 >/dev/null); rc=$?`,
  `printf '%s\t%s\t%s\n' "$1 $2 $3" "$rc" "$(printf '%s' "$err" | tr '\n' ' ')" >>${JSON.stringify(shimLog)}`,
  'for a in "$@"; do [ "$a" = get ] && { echo pod/demo; exit 0; }; done',
  'exit "$rc"',
].join('\n'), { mode: 0o755 })

const scriptedCases = plans.flatMap(([label, plan]) => scriptedKubectlSteps(plan.steps).map((s) => [`${label}: ${s.title}`, s] as const))

describe.skipIf(!hasKubectl)(`kubectl accepts every call of the undo scripts${skipped}`, () => {
  it('there are such steps: the Pod\'s and the Secret\'s undo', () => {
    expect(scriptedCases.length).toBeGreaterThanOrEqual(4)
  })

  it.each(scriptedCases)('%s', (_label, s) => {
    rmSync(shimLog, { force: true })
    const argv = s.argv.map((a, i) => (s.launchId?.includes(i) ? `${a}${launchId}` : a))
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      env: { PATH: `${shimDir}:${process.env.PATH ?? ''}`, KUBECONFIG: kubeconfig, HOME: dir },
      timeout: 30_000,
    })
    const calls = readFileSync(shimLog, 'utf8').split('\n').filter((l) => l !== '')
    // get, then delete: both got as far as the network.
    expect(calls).toHaveLength(2)
    for (const call of calls) {
      expect(call).toMatch(/connection to the server 127\.0\.0\.1:1 was refused|dial tcp 127\.0\.0\.1:1: connect: connection refused/)
      expect(call).not.toMatch(/unknown (shorthand )?flag|unknown command|flag needs an argument|invalid argument|does not exist|error parsing|Usage:|unable to parse/)
    }
    expect(r.status).toBe(1)
  })
})

// -------------------------------------------------------------------------------------------------
// the manifests, decoded by kubectl without a cluster
// -------------------------------------------------------------------------------------------------

/** Every leaf of `ours` is in `theirs` with the same value: nothing dropped or retyped by decoding. */
const leavesKept = (ours: Json, theirs: Json | undefined, path = ''): string[] => {
  if (ours === null || typeof ours !== 'object') return JSON.stringify(ours) === JSON.stringify(theirs) ? [] : [path]
  if (typeof theirs !== 'object' || theirs === null) return [path]
  return Object.entries(ours as Record<string, Json>).flatMap(([k, v]) =>
    leavesKept(v, (theirs as Record<string, Json>)[k], `${path}.${k}`),
  )
}

const launchStdin = (s: BottleSpec, kind: string): Step => {
  const p = compile(kubernetes, s, { _tag: 'launch' }, host)
  if (E.isLeft(p)) throw new Error(p.left.message)
  const step = p.right.steps.find((x) => x.stdin._tag === 'json' && (x.stdin.document as { kind?: string }).kind === kind)
  if (step === undefined) throw new Error(`no ${kind} on the launch plan`)
  return step
}

/** The launch step that creates the object of that kind and name. */
const launchStdinOf = (s: BottleSpec, kind: string, name: string): Step => {
  const p = compile(kubernetes, s, { _tag: 'launch' }, host)
  if (E.isLeft(p)) throw new Error(p.left.message)
  const step = p.right.steps.find((x) => x.stdin._tag === 'json' && (x.stdin.document as { kind?: string }).kind === kind &&
    (x.stdin.document as { metadata?: { name?: string } }).metadata?.name === name)
  if (step === undefined) throw new Error(`no ${kind} ${name} on the launch plan`)
  return step
}

describe.skipIf(!hasKubectl)(`kubectl decodes the Pod and the Secret${skipped}`, () => {
  it.each([['with everything', full], ['bare', plain]])('the Pod (%s), as a typed Pod: no field dropped or retyped', (_label, s) => {
    // `set image` decodes into the typed Pod and writes it back out, only if the image changes.
    const step = launchStdin(s, 'Pod')
    const r = kubectl(['set', 'image', '--local', '-f', '-', 'bottle=decoded:check', '-o', 'json'], stdinOf(step))
    expect(r.stderr.toString()).toBe('')
    const decoded = JSON.parse(r.stdout.toString()) as { spec: { containers: { image: string }[] } }
    expect(decoded.spec.containers[0]?.image).toBe('decoded:check')
    const ours = JSON.parse(stdinOf(step)) as { spec: { containers: { image: string }[] } }
    for (const c of ours.spec.containers) c.image = 'decoded:check'
    expect(leavesKept(ours as unknown as Json, decoded as unknown as Json)).toStrictEqual([])
  })

  it('the Pod takes each secret from the Secret, by secretKeyRef', () => {
    const r = kubectl(['set', 'env', '--local', '-f', '-', '--list'], stdinOf(launchStdin(full, 'Pod')))
    expect(r.stdout.toString()).toBe([
      '# Pod demo, container bottle',
      '# CLAUDE_CODE_OAUTH_TOKEN from secret demo-secrets, key CLAUDE_CODE_OAUTH_TOKEN',
      '# GH_TOKEN from secret demo-secrets, key GH_TOKEN',
      '',
    ].join('\n'))
  })

  it('the egress proxy Pod, as a typed Pod: no field dropped or retyped', () => {
    const step = launchStdinOf(fenced, 'Pod', 'egress-demo')
    const r = kubectl(['set', 'image', '--local', '-f', '-', 'proxy=decoded:check', '-o', 'json'], stdinOf(step))
    expect(r.stderr.toString()).toBe('')
    const decoded = JSON.parse(r.stdout.toString()) as Json
    const ours = JSON.parse(stdinOf(step)) as { spec: { containers: { image: string }[] } }
    for (const c of ours.spec.containers) c.image = 'decoded:check'
    expect(leavesKept(ours as unknown as Json, decoded)).toStrictEqual([])
  })

  it('the bottle\'s Pod with an allow-list (service links on), as a typed Pod: no field dropped or retyped', () => {
    const step = launchStdinOf(fenced, 'Pod', 'demo')
    const r = kubectl(['set', 'image', '--local', '-f', '-', 'bottle=decoded:check', '-o', 'json'], stdinOf(step))
    expect(r.stderr.toString()).toBe('')
    const ours = JSON.parse(stdinOf(step)) as { spec: { containers: { image: string }[] } }
    for (const c of ours.spec.containers) c.image = 'decoded:check'
    expect(leavesKept(ours as unknown as Json, JSON.parse(r.stdout.toString()) as Json)).toStrictEqual([])
  })

  it('the proxy\'s Service, as a typed Service (`set selector` decodes it): no field dropped or retyped', () => {
    const step = launchStdinOf(fenced, 'Service', 'egress-demo')
    const ours = JSON.parse(stdinOf(step)) as { spec: { selector: Record<string, string> } }
    const selector = Object.entries(ours.spec.selector).map(([k, v]) => `${k}=${v}`).join(',')
    const r = kubectl(['set', 'selector', '--local', '-f', '-', selector, '-o', 'json'], stdinOf(step))
    expect(r.stderr.toString()).toBe('')
    expect(leavesKept(ours as unknown as Json, JSON.parse(r.stdout.toString()) as Json)).toStrictEqual([])
  })

  // kubectl has no offline typed decoder for a NetworkPolicy (`create --dry-run=client` asks the
  // server for its API groups first): `label --local` reads it as an object of that kind only.
  it.each(['egress-demo-bottle', 'egress-demo-proxy'])('the NetworkPolicy %s is an object kubectl reads', (name) => {
    const r = kubectl(['label', '--local', '-f', '-', 'checked=yes', '-o', 'json'], stdinOf(launchStdinOf(fenced, 'NetworkPolicy', name)))
    expect(r.stderr.toString()).toBe('')
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name } })
  })

  it('the step that pipes the proxy bundle into its Pod: kubectl takes its exec flags', () => {
    const p = compile(kubernetes, fenced, { _tag: 'launch' }, host)
    if (E.isLeft(p)) throw new Error(p.left.message)
    const put = p.right.steps.find((x) => x.title.startsWith('put the egress proxy'))
    const words = put?.argv ?? []
    // sh -c SCRIPT sh BUNDLE kubectl …: the kubectl part, with the bundle on its stdin.
    expect(words.slice(0, 2)).toStrictEqual(['sh', '-c'])
    const r = kubectl(words.slice(6), 'console.log(1)\n')
    expect(words[5]).toBe('kubectl')
    expect(r.stderr.toString()).toMatch(/connection to the server 127\.0\.0\.1:1 was refused|dial tcp 127\.0\.0\.1:1: connect: connection refused/)
  })

  it('the Secret, with its values filled in, is an object kubectl reads', () => {
    const r = kubectl(['label', '--local', '-f', '-', 'checked=yes', '-o', 'json'], stdinOf(launchStdin(full, 'Secret')))
    expect(r.stderr.toString()).toBe('')
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      kind: 'Secret',
      metadata: { name: 'demo-secrets' },
      stringData: { CLAUDE_CODE_OAUTH_TOKEN: 'value of CLAUDE_CODE_OAUTH_TOKEN', GH_TOKEN: 'value of GH_TOKEN' },
    })
  })

  // bottle's quantity rule is a subset of Kubernetes': each accepted form must parse in kubectl.
  it.each(['1', '0.5', '.5', '500m', '1e3', '1E3', '1e-3', '1.5Gi', '2Ki', '1n', '1u', '1k', '1M', '1Mi', '1E', '1Ei', '100Ti'])(
    'quantity %s passes bottle and kubectl alike',
    (q) => {
      expect(quantityRule.test(q)).toBe(true)
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' }, spec: { containers: [{ name: 'bottle', image: 'x', resources: { limits: { cpu: q } } }] } }
      const r = kubectl(['set', 'image', '--local', '-f', '-', 'bottle=x', '-o', 'json'], JSON.stringify(pod))
      expect(r.stderr.toString()).toBe('')
    },
  )
})
