/**
 * podman's argv shapes, as examples: docker's plans with podman's differences — `--userns=keep-id`
 * only when rootless, a fully qualified default image, one-character names, and `rm -f` of a
 * missing container tolerated in older podman's spelling too.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import { docker } from '../../src/backends/docker.js'
import { podman } from '../../src/backends/podman.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import type { Plan, Step } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { argvLine, backendExamples } from './examples.js'
import { demo } from './fixtures.js'
import { listingHost, scenarioArb } from '../arbitraries.js'
import { runs } from '../runs.js'
import { backendSteps } from '../records.js'

/** A rootless host: the usual way podman runs. */
const host: HostFacts = {
  cwd: '/src/app',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: true,
  pathKinds: { '/src/app/prompt.md': 'file', '/src/app/notes': 'dir' },
  tmpdir: '/tmp',
  uid: 1000,
  bwrap: null,
  cluster: { context: null, namespace: null },
}

const planOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host, backend: Backend = podman): Plan => {
  const plan = compile(backend, spec, op, facts)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}

const runStep = (facts: HostFacts): Step | undefined => planOf({ _tag: 'launch' }, demo, facts).steps[0]

// podman's exec is docker's, binary renamed (src/backends/podman.ts).
backendExamples(podman, host, {
  ttyWords: (f) => f.slice(f.indexOf('exec') + 1, f.indexOf('-u')),
  withTty: ['-i', '-t'],
  withoutTty: ['-i'],
  userSwitch: (f) => f.slice(f.indexOf('-u'), f.indexOf('-u') + 6),
  userSwitchFor: (user, home) => ['-u', user, '-e', `HOME=${home}`, '-e', `USER=${user}`],
  envWords: [['-e', 'CI=1'], ['-e', 'CLAUDE_CODE_OAUTH_TOKEN']],
  processEnv: [{ _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' }],
  promptPath: '/opt/bottle/system-prompt.md',
})

describe('podman examples', () => {
  it.each([
    ['rootless (uid 1000)', 1000, true],
    ['rootless (uid 65534)', 65534, true],
    ['root', 0, false],
  ] as const)('--userns=keep-id iff rootless: %s', (_label, uid, keepId) => {
    expect(runStep({ ...host, uid })?.argv.includes('--userns=keep-id')).toBe(keepId)
  })

  it('defaults to a fully qualified image, and keeps a short name the spec gives', () => {
    expect(runStep(host)?.argv.at(-2)).toBe('docker.io/library/node:22')
    expect(planOf({ _tag: 'launch' }, { ...demo, image: 'node:22' }).steps[0]?.argv.at(-2)).toBe('node:22')
  })

  it.each([
    ['a', true],
    ['a1', true],
    ['-a', false],
    ['a b', false],
    ['a:b', false],
  ] as const)('container name %j is valid: %s', (name, ok) => {
    expect(E.isRight(compile(podman, { ...demo, name }, { _tag: 'down' }, host))).toBe(ok)
  })

  it('docker wants two characters where podman takes one', () => {
    expect(E.isLeft(compile(docker, { ...demo, name: 'a' }, { _tag: 'down' }, host))).toBe(true)
  })

  it('down is rm -f, also tolerating older podman\'s "no such container"', () => {
    const plan = planOf({ _tag: 'down' })
    expect(backendSteps(plan).map((s) => [s.argv, s.tolerate])).toStrictEqual([
      [['podman', 'rm', '-f', 'demo'], [{ exitCode: 1, stderrIncludes: 'no such container' }]],
    ])
    // The launch undo is not: it removes only the container carrying this run's launch id.
    const undo = runStep(host)?.undo[0]
    expect(undo?.argv.slice(3)).toStrictEqual(['podman', 'name=^/?demo$', '10', 'label=dev.bottle.launch-id='])
    expect(undo?.launchId).toStrictEqual([6])
  })
})

describe('podman argv snapshots', () => {
  it('launch, rootless', () => {
    expect(argvLine(runStep(host)?.argv ?? [])).toMatchInlineSnapshot(`"podman create --name demo --label dev.bottle.managed=true --label dev.bottle.name=demo --label dev.bottle.spec-hash=a2e10186994d --label dev.bottle.launch-id= --userns=keep-id --init -v /src/app:/src/app -w /src/app --entrypoint sleep docker.io/library/node:22 infinity"`)
  })

  it('agent', () => {
    expect(argvLine(planOf({ _tag: 'agent', args: ['-p', 'hi there'], tty: null }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"podman exec -i -t -u node -e HOME=/home/node -e USER=node -e CI=1 -e CLAUDE_CODE_OAUTH_TOKEN -w /src/app demo /bin/sh -c <command wrapper> sh '' claude --append-system-prompt-file /opt/bottle/system-prompt.md -p 'hi there'"`)
  })

  it('ls', () => {
    expect(argvLine(podman.list(listingHost)[0]?.argv ?? [])).toMatchInlineSnapshot(`"podman ps -a --filter label=dev.bottle.managed=true --format '{"name":{{json .Names}},"state":{{json .ListContainer.State}},"created":{{json .CreatedAt}},"image":{{json .Image}},"managed":{{json (index .Labels "dev.bottle.managed")}},"specHash":{{json (index .Labels "dev.bottle.spec-hash")}}}'"`)
  })
})

describe('podman against docker', () => {
  /** A step with docker's binary, for comparing argv. */
  const asDocker = (s: Step): Step => ({
    ...s,
    argv: s.argv.map((w, i) => (i === 0 && w === 'podman' ? 'docker' : w)),
    undo: s.undo.map(asDocker),
  })

  test.prop([scenarioArb], { numRuns: runs })('every guest step is docker\'s with the binary renamed', (s) => {
    // One-character names are podman's alone; docker rejects them.
    fc.pre(s.spec.name.length > 1)
    const guest = (b: Backend) => planOf(s.op, s.spec, s.host, b).steps.filter((st) => st.guest !== undefined)
    expect(guest(podman).map((st) => asDocker(st).argv)).toStrictEqual(guest(docker).map((st) => st.argv))
  })
})
