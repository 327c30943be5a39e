/**
 * kubernetes' plan shapes, as examples: the Secret made from stdin and the Pod that refers to it,
 * `wait` after the apply, the guest argv (`runuser`, `env`, the `cd` wrapper) that stands in for
 * the user, env and workdir flags `kubectl exec` lacks, and idempotent `delete --ignore-not-found`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { type HostFacts, defaultCluster, launchIdLabel, managedLabel, nameLabel, specHashLabel } from '../../src/backends/backend.js'
import { kubernetes } from '../../src/backends/kubernetes.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { listPlanFor } from './fixtures.js'
import { noteText } from '../../src/plan/render.js'
import { type Plan, type Step, withLaunchId } from '../../src/plan/types.js'
import { recordOf, specHash } from '../../src/bottle-spec/record.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'
import { backendSteps } from '../records.js'
import { argvLine, backendExamples } from './examples.js'

const resolved = resolveSpec({
  name: 'demo',
  fromManifest: {
    env: [['CI', '1']],
    secrets: ['CLAUDE_CODE_OAUTH_TOKEN'],
    prompt: '/src/app/prompt.md',
    context: 'lab',
    namespace: 'agents',
    resources: { requests: [['cpu', '500m']], limits: [['memory', '4Gi']] },
    // The Pod network: the egress door has tests of its own (tests/egress-wire/kubernetes.test.ts).
    network: { mode: 'open' },
  },
  fromFlags: {},
  cwd: '/src/app',
})
if (E.isLeft(resolved)) throw new Error(resolved.left.message)
/** demo: node, /src/app, CI=1, one secret, a prompt file, context lab, namespace agents. */
const demo: BottleSpec = resolved.right
/** No prompt, no cluster flags, no resources, no secrets: the smallest plans. */
const bare: BottleSpec = { ...demo, prompt: null, context: null, namespace: null, secrets: [], resources: { requests: [], limits: [] } }

const host: HostFacts = {
  cwd: '/src/app',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: true,
  pathKinds: { '/src/app/prompt.md': 'file', '/src/app/notes': 'dir', '/src/app/a:b.txt': 'file' },
  tmpdir: '/tmp',
  uid: 1000,
  bwrap: null,
  cluster: { context: 'lab', namespace: 'agents' },
}

const planOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host): Plan => {
  const plan = compile(kubernetes, spec, op, facts)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}

const errorOf = (op: BottleOperation, spec: BottleSpec, facts: HostFacts = host): string => {
  const plan = compile(kubernetes, spec, op, facts)
  if (E.isRight(plan)) throw new Error('expected a CompileError')
  return plan.left.message
}

/** A step as one line: `host: ARGV`, or `bottle: TAIL` for a guest command. */
const where = (s: Step): string => (s.guest === undefined ? `host: ${s.argv.join(' ')}` : `bottle: ${s.guest.tail.join(' ')}`)
const stdinDocument = (s: Step | undefined) => (s?.stdin._tag === 'json' ? s.stdin.document : null)

backendExamples(kubernetes, host, {
  ttyWords: (f) => f.slice(f.indexOf('exec') + 1, f.indexOf('-c')),
  // exec passes stdin on always; -t only for a terminal.
  withTty: ['-i', '-t'],
  withoutTty: ['-i'],
  // runuser, then HOME and USER set after it (runuser resets them from passwd).
  userSwitch: (f) => f.slice(f.indexOf('--') + 1, f.indexOf('--') + 8),
  userSwitchFor: (user, home) => ['runuser', '-u', user, '--', 'env', `HOME=${home}`, `USER=${user}`],
  // The secret is in the Pod's env since launch (secretKeyRef): no word, and nothing from the host.
  envWords: [['CI=1']],
  processEnv: [],
  promptPath: '/opt/bottle/system-prompt.md',
}, demo)

describe('kubernetes examples', () => {
  it('the user command keeps the Pod env secrets; plumbing drops them with env -u', () => {
    const launch = planOf({ _tag: 'launch' })
    const agent = planOf({ _tag: 'agent', args: [], tty: null })
    const plumbing = launch.steps.filter((s) => s.guest !== undefined)
    // The user check, the workdir, the agent's install (provision), the prompt's parent.
    expect(plumbing.length).toBe(5)
    // (provision steps also get the bottle's plain env, never its secrets)
    for (const s of plumbing) expect(s.argv.join(' ')).toMatch(/env -u CLAUDE_CODE_OAUTH_TOKEN HOME=\/root USER=root (CI=1 )?\/bin\/sh -c/)
    expect(agent.steps[0]?.argv.filter((w) => w.includes('CLAUDE_CODE_OAUTH_TOKEN'))).toStrictEqual([])
  })

  it('exec, agent and resume need no secret from the host: the Pod has them since launch', () => {
    expect(planOf({ _tag: 'agent', args: [], tty: null }).secrets).toStrictEqual([])
    expect(planOf({ _tag: 'agent', args: [], tty: null }).steps[0]?.env.vars).toStrictEqual([])
    expect(planOf({ _tag: 'launch' }).secrets).toStrictEqual(['CLAUDE_CODE_OAUTH_TOKEN'])
  })

  it('launch sends the Secret with one empty slot per secret, filled from the host var of the same name', () => {
    const secretStep = planOf({ _tag: 'launch' }, { ...demo, secrets: ['A', 'B'] }).steps[0]
    expect(secretStep?.argv).toStrictEqual(['kubectl', '--context=lab', '--namespace=agents', 'create', '-f', '-'])
    expect(secretStep?.stdin).toStrictEqual({
      _tag: 'json',
      document: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'demo-secrets', labels: { 'dev.bottle.managed': 'true', 'dev.bottle.name': 'demo', 'dev.bottle.launch-id': '' } },
        type: 'Opaque',
        stringData: { A: '', B: '' },
      },
      secrets: [
        { path: ['stringData', 'A'], secret: 'A' },
        { path: ['stringData', 'B'], secret: 'B' },
      ],
      // The run's launch id goes in the Secret's labels when the step runs.
      launchId: [['metadata', 'labels', 'dev.bottle.launch-id']],
    })
  })

  it('the Pod: sleep instead of the entrypoint, labels, resources, secretKeyRef, no service account token', () => {
    expect(stdinDocument(planOf({ _tag: 'launch' }).steps[1])).toMatchInlineSnapshot(`
      {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
          "labels": {
            "dev.bottle.launch-id": "",
            "dev.bottle.managed": "true",
            "dev.bottle.name": "demo",
            "dev.bottle.spec-hash": "ba2d5ad3cdfb",
          },
          "name": "demo",
        },
        "spec": {
          "automountServiceAccountToken": false,
          "containers": [
            {
              "command": [
                "sleep",
                "infinity",
              ],
              "env": [
                {
                  "name": "CLAUDE_CODE_OAUTH_TOKEN",
                  "valueFrom": {
                    "secretKeyRef": {
                      "key": "CLAUDE_CODE_OAUTH_TOKEN",
                      "name": "demo-secrets",
                    },
                  },
                },
              ],
              "image": "node:22",
              "name": "bottle",
              "resources": {
                "limits": {
                  "memory": "4Gi",
                },
                "requests": {
                  "cpu": "500m",
                },
              },
            },
          ],
          "restartPolicy": "Never",
          "shareProcessNamespace": true,
        },
      }
    `)
  })

  it('the Pod carries the spec hash as a label and no spec (the launch record on the host holds it; label values are at most 63 characters)', () => {
    const pod = stdinDocument(planOf({ _tag: 'launch' }).steps[1]) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }
    const record = recordOf(demo, kubernetes.defaultImage)
    expect(pod.metadata.labels).toStrictEqual({
      [managedLabel]: 'true',
      [nameLabel]: 'demo',
      [specHashLabel]: specHash(record),
      // A slot: the interpreter writes the run's 16-digit launch id here.
      [launchIdLabel]: '',
    })
    expect(pod.metadata.annotations).toBeUndefined()
    // What the API server checks of a label value (IsValidLabelValue); the launch id is 16 hex digits.
    for (const v of Object.values({ ...pod.metadata.labels, [launchIdLabel]: '0123456789abcdef' })) expect(v).toMatch(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/)
    for (const v of Object.values(pod.metadata.labels)) expect(v.length).toBeLessThanOrEqual(63)
  })

  it.each([
    ['open', undefined],
    ['host', true],
  ] as const)('network %s: hostNetwork %s', (mode, hostNetwork) => {
    const pod = stdinDocument(planOf({ _tag: 'launch' }, { ...bare, network: { mode } }).steps[1]) as { spec: { hostNetwork?: boolean } }
    expect(pod.spec.hostNetwork).toBe(hostNetwork)
  })

  it.each([
    ['a name with "_"', { ...bare, name: 'my_bottle' }, 'bottle name "my_bottle" is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'],
    ['an upper-case name', { ...bare, name: 'Demo' }, 'bottle name "Demo" is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'],
    ['a name of 64 characters', { ...bare, name: 'a'.repeat(64) }, `bottle name "${'a'.repeat(64)}" is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`],
    ['network none', { ...bare, network: { mode: 'none' as const } }, 'network "none" is not available on kubernetes: a Pod always has a network; restrict it with a NetworkPolicy'],
  ])('refuses %s in one line', (_label, spec, message) => {
    expect(errorOf({ _tag: 'launch' }, spec)).toBe(message)
  })

  it('accepts a name of 63 characters', () => {
    expect(backendSteps(planOf({ _tag: 'down' }, { ...bare, name: `a${'-b'.repeat(31)}` }))).toHaveLength(3)
  })

  it('launch fails at wait → the interpreter undoes the Pod, then the Secret, each only if it carries this run\'s launch id', () => {
    const launch = planOf({ _tag: 'launch' }, bare)
    // The script's operands: kubectl, tries, kind, the selector (its launch id slot), cluster flags.
    expect(backendSteps(launch).map((s) => s.undo.map((u) => [...withLaunchId(u, 'ID').slice(3)]))).toStrictEqual([
      [['kubectl', '10', 'secret', 'dev.bottle.name=demo,dev.bottle.launch-id=ID']],
      [['kubectl', '10', 'pod', 'dev.bottle.name=demo,dev.bottle.launch-id=ID']],
      [],
      [],
      [],
      // the agent's install: what it adds lives in the Pod, which the Pod's undo removes
      [],
    ])
    const scoped = planOf({ _tag: 'launch' })
    expect(scoped.steps[1]?.undo[0]?.argv.slice(3)).toStrictEqual(['kubectl', '10', 'pod', 'dev.bottle.name=demo,dev.bottle.launch-id=', '--context=lab', '--namespace=agents'])
  })

  it('down deletes the Pod, then its Secret, then its door\'s objects by label (even with no door recorded: they may be all that is left), each a success when already gone', () => {
    expect(backendSteps(planOf({ _tag: 'down' })).map((s) => s.argv.join(' '))).toStrictEqual([
      'kubectl --context=lab --namespace=agents delete pod demo --ignore-not-found',
      'kubectl --context=lab --namespace=agents delete secret demo-secrets --ignore-not-found',
      'kubectl --context=lab --namespace=agents delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
    ])
  })

  it('ls: get pods by label, as JSON, where --context and -n say', () => {
    const ls = listPlanFor(kubernetes, host)
    expect(ls.steps.map((s) => [s.argv, s.stdio])).toStrictEqual([
      [['kubectl', '--context=lab', '--namespace=agents', 'get', 'pods', '-l', 'dev.bottle.managed=true', '-o', 'json'], 'capture'],
    ])
    expect(listPlanFor(kubernetes, { ...host, cluster: defaultCluster }).notes.map(noteText).at(-1)).toBe("cluster: kubectl's current context, the context's default namespace")
  })

  it('a context with spaces, "=" or a leading "-" stays one word', () => {
    const argv = planOf({ _tag: 'down' }, { ...bare, context: '-n x=y z' }).steps[0]?.argv
    expect(argv?.slice(0, 3)).toStrictEqual(['kubectl', '--context=-n x=y z', 'delete'])
  })

  it('notes say which cluster, and what is fixed at launch', () => {
    expect(planOf({ _tag: 'agent', args: [], tty: null }).notes.map(noteText)).toStrictEqual([
      "network: open, the backend's own default network, no allow-list (docker, podman: a bridge to anywhere the host reaches; kubernetes: the Pod network; bwrap, smolvm: none)",
      'sign-in: by token, from the secret CLAUDE_CODE_OAUTH_TOKEN',
      'cluster: context "lab", namespace agents',
      "secrets reach the command from the Pod's env (the Secret made at launch): to change them, run down and launch again",
    ])
  })
})

describe('kubernetes copies', () => {
  it('a file: kubectl cp into the container, then chown; the title says tar is needed', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/prompt.md', dest: '/home/node/p.md' }, bare)
    expect(plan.steps.map(where)).toStrictEqual([
      'bottle: mkdir -p -- /home/node',
      'host: kubectl cp -c bottle /src/app/prompt.md demo:/home/node/p.md',
      'bottle: chown -R -- node /home/node/p.md',
    ])
    expect(plan.steps[1]?.title).toBe('copy /src/app/prompt.md to /home/node/p.md in the bottle (kubectl cp needs tar in the container image)')
    expect(plan.notes.map(noteText)).toContain('kubectl cp needs tar in the container image')
  })

  it('a file with ":" in its path is staged first (kubectl cp would read it as pod:path)', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/a:b.txt', dest: '/home/node/a:b.txt' }, bare)
    expect(plan.steps.map(where)).toMatchInlineSnapshot(`
      [
        "bottle: mkdir -p -- /home/node",
        "host: cp -- /src/app/a:b.txt /tmp/bottle-cp-3ebc999d3ecd277c",
        "host: kubectl cp -c bottle /tmp/bottle-cp-3ebc999d3ecd277c demo:/home/node/a:b.txt",
        "host: rm -f -- /tmp/bottle-cp-3ebc999d3ecd277c",
        "bottle: chown -R -- node /home/node/a:b.txt",
      ]
    `)
  })

  it('a directory travels as one tar archive (kubectl cp DIR pod:DEST nests it when DEST exists)', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/notes', dest: '/home/node/notes' }, bare)
    expect(plan.steps.map(where)).toMatchInlineSnapshot(`
      [
        "bottle: mkdir -p -- /home/node/notes",
        "host: tar -C /src/app/notes -cf /tmp/bottle-cp-7e0c3b6e377fbac3.tar .",
        "host: kubectl cp -c bottle /tmp/bottle-cp-7e0c3b6e377fbac3.tar demo:/tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "bottle: tar -xf /tmp/bottle-cp-7e0c3b6e377fbac3.tar -C /home/node/notes",
        "bottle: rm -f -- /tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "host: rm -f -- /tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "bottle: chown -R -- node /home/node/notes",
      ]
    `)
  })

  it('refuses a temporary directory with ":" when it must stage', () => {
    expect(errorOf({ _tag: 'cp', source: '/src/app/notes', dest: '/x' }, bare, { ...host, tmpdir: '/t:mp' })).toBe(
      'the temporary directory "/t:mp" contains ":", which kubectl cp reads as a pod name; set TMPDIR',
    )
  })
})

describe('kubernetes argv snapshots', () => {
  it('agent', () => {
    expect(argvLine(planOf({ _tag: 'agent', args: ['-p', 'hi there'], tty: null }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"kubectl --context=lab --namespace=agents exec -i -t -c bottle demo -- runuser -u node -- env HOME=/home/node USER=node CI=1 /bin/sh -c 'cd "$1" && shift && exec "$@"' bottle /src/app /bin/sh -c <command wrapper> sh '' claude --append-system-prompt-file /opt/bottle/system-prompt.md -p 'hi there'"`)
  })

  it('launch: Secret, Pod, wait, workdir, then the prompt', () => {
    expect(planOf({ _tag: 'launch' }).steps.map(where)).toMatchInlineSnapshot(`
      [
        "host: kubectl --context=lab --namespace=agents create -f -",
        "host: kubectl --context=lab --namespace=agents create -f -",
        "host: kubectl --context=lab --namespace=agents wait --for=condition=Ready pod/demo --timeout=300s",
        "bottle: /bin/sh -c id -u "$1" >/dev/null 2>&1 || { printf 'bottle: the image has no user %s: choose one it has (--user), or add it to the image\\n' "$1" >&2; exit 2; } sh node",
        "bottle: sh -c [ -d "$1" ] || { mkdir -p -- "$1" && chown -- "$2" "$1"; } bottle /src/app node",
        "host: /bin/sh -c umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/record.json" sh /home/me/.local/state/bottle/kubernetes/demo",
        "bottle: /bin/sh -c if command -v "$1" >/dev/null 2>&1; then echo "bottle: $1 is in the image ($(command -v "$1")): nothing to install"; exit 0; fi
      if ! command -v npm >/dev/null 2>&1; then echo "bottle: the image has neither $1 nor npm to install it: add $1 to the image (npm install -g $2), or node and npm so that launch installs it" >&2; exit 127; fi
      echo "bottle: $1 is not in the image: npm install -g $2"
      exec npm install -g -- "$2" sh claude @anthropic-ai/claude-code",
        "bottle: mkdir -p -- /opt/bottle",
        "host: kubectl --context=lab --namespace=agents cp -c bottle /src/app/prompt.md demo:/opt/bottle/system-prompt.md",
        "bottle: chown -R -- node /opt/bottle/system-prompt.md",
      ]
    `)
  })
})
