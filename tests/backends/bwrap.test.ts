/**
 * bwrap's plans, as examples: the sandbox framing, the env policy (exactly the listed vars,
 * nothing in argv), the state-directory lifecycle, cp's rules, and the checks that need host
 * facts (never launched, already there). tests/bwrap runs the same plans for real.
 */
import { commandWrapper } from '../../src/guest.js'
import { runIdMark } from '../../src/plan/types.js'
import { test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { BwrapBottleFacts, HostFacts } from '../../src/backends/backend.js'
import { bwrap, guestPath, promptGuestPath } from '../../src/backends/bwrap.js'
import { type Operation, compile } from '../../src/compile.js'
import { renderJson, renderSh, renderText } from '../../src/plan/render.js'
import type { Plan, Step } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/spec/spec.js'
import { demo } from './fixtures.js'
import { envAndSecretsArb, fitFor, scenarioArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const state = '/home/me/.local/state/bottle/bwrap'

const bottleFacts: BwrapBottleFacts = { launched: true, promptInstalled: true, accounts: {} }
const host = (stdinIsTTY: boolean, facts: Partial<BwrapBottleFacts> = {}): HostFacts => ({
  cwd: '/src/app',
  stdinIsTTY,
  pathKinds: { '/src/app/prompt.md': 'file', '/src/app/notes': 'dir', '/src/app/notes.txt': 'file' },
  tmpdir: '/tmp',
  uid: 1000,
  bwrap: { stateDir: state, binary: '/usr/bin/bwrap', term: 'xterm-256color', bottle: { ...bottleFacts, ...facts } },
  cluster: { context: null, namespace: null },
})

const compiled = (op: Operation, spec: BottleSpec = demo, facts: HostFacts = host(true)) => compile(bwrap, spec, op, facts)

const planOf = (op: Operation, spec: BottleSpec = demo, facts: HostFacts = host(true)): Plan => {
  const plan = compiled(op, spec, facts)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}

const errorOf = (op: Operation, spec: BottleSpec = demo, facts: HostFacts = host(true)): string => {
  const plan = compiled(op, spec, facts)
  if (E.isRight(plan)) throw new Error('expected a CompileError')
  return plan.left.message
}

const first = (plan: Plan): Step => {
  const s = plan.steps[0]
  if (s === undefined) throw new Error('no steps')
  return s
}

const agent: Operation = { _tag: 'agent', args: ['-p', 'hi'], tty: null }
const exec: Operation = { _tag: 'exec', script: 'npm test', user: null }

describe('bwrap argv and env snapshots', () => {
  it('agent with a terminal: no new session, the prompt bound read-only, TERM from the host', () => {
    const s = first(planOf(agent))
    expect(s.argv).toStrictEqual([
      '/usr/bin/bwrap', '--unshare-all', '--unshare-user', '--die-with-parent',
      '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc',
      '--tmpfs', '/tmp', '--tmpfs', '/home', '--tmpfs', '/root',
      '--ro-bind', `${state}/demo/system-prompt.md`, promptGuestPath,
      '--bind', `${state}/demo/home`, '/home/node',
      '--bind', '/src/app', '/src/app',
      '--uid', '1000', '--gid', '1000', '--chdir', '/src/app', '--',
      // bottle's command wrapper (src/guest.ts): 127 with a line if claude is missing.
      '/bin/sh', '-c', commandWrapper, 'sh', runIdMark,
      'claude', '--append-system-prompt-file', promptGuestPath, '-p', 'hi',
    ])
    expect(s.env).toStrictEqual({
      inheritHost: false,
      vars: [
        { _tag: 'plain', name: 'HOME', value: '/home/node' },
        { _tag: 'plain', name: 'USER', value: 'node' },
        { _tag: 'plain', name: 'PATH', value: guestPath('/home/node') },
        { _tag: 'plain', name: 'TERM', value: 'xterm-256color' },
        { _tag: 'plain', name: 'CI', value: '1' },
        { _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' },
      ],
    })
    expect(s.stdio).toBe('terminal')
  })

  it('exec: a new session (it blocks TIOCSTI), no TERM, stdin and output passed through', () => {
    const s = first(planOf(exec))
    expect(s.argv.filter((w) => w === '--new-session')).toHaveLength(1)
    expect(s.env.vars.map((v) => v.name)).toStrictEqual(['HOME', 'USER', 'PATH', 'CI', 'CLAUDE_CODE_OAUTH_TOKEN'])
    expect(s.guest?.tail).toStrictEqual(['sh', '-c', 'npm test'])
    expect(s.stdio).toBe('terminal')
  })

  it.each([
    ['default', false],
    ['none', false],
    ['host', true],
  ] as const)('network %s: --share-net is %s', (network, shared) => {
    expect(first(planOf(exec, { ...demo, network })).argv.includes('--share-net')).toBe(shared)
  })

  it('a rootfs directory as image replaces the host /', () => {
    const argv = first(planOf(exec, { ...demo, image: '/srv/rootfs/debian/' })).argv
    expect(argv.slice(argv.indexOf('--ro-bind'), argv.indexOf('--ro-bind') + 3)).toStrictEqual(['--ro-bind', '/srv/rootfs/debian', '/'])
  })

  it.each([
    ['node, not in the rootfs passwd', 'node', {}, ['1000', '1000'], '/home/node'],
    ['node, listed there', 'node', { node: { uid: 1001, gid: 1002 } }, ['1001', '1002'], '/home/node'],
    ['root, whatever passwd says', 'root', { root: { uid: 5, gid: 5 } }, ['0', '0'], '/root'],
  ] as const)('the user switch: %s', (_label, user, accounts, [uid, gid], home) => {
    const s = first(planOf(exec, { ...demo, user }, host(false, { accounts })))
    const after = (flag: string) => s.argv[s.argv.indexOf(flag) + 1]
    expect([after('--uid'), after('--gid')]).toStrictEqual([uid, gid])
    // The bottle's one home is bound at the home of whoever runs.
    expect(s.argv.slice(s.argv.indexOf(`${state}/demo/home`) - 1, s.argv.indexOf(`${state}/demo/home`) + 2)).toStrictEqual(['--bind', `${state}/demo/home`, home])
    expect(s.env.vars.slice(0, 2)).toStrictEqual([{ _tag: 'plain', name: 'HOME', value: home }, { _tag: 'plain', name: 'USER', value: user }])
  })

  it('an env entry named PATH or TERM replaces the default, in spec order', () => {
    const spec = { ...demo, env: [['TERM', 'dumb'], ['PATH', '/opt/bin']] as const, secrets: [] }
    expect(first(planOf(agent, spec)).env.vars.map((v) => (v._tag === 'plain' ? `${v.name}=${v.value}` : v.name))).toStrictEqual([
      'HOME=/home/node', 'USER=node', 'TERM=dumb', 'PATH=/opt/bin',
    ])
  })

  it('the workdir is the last bind, so it wins over the tmpfs mounts and the home', () => {
    const argv = first(planOf(exec)).argv
    const binds = argv.flatMap((w, i) => (w === '--bind' || w === '--ro-bind' || w === '--tmpfs' ? [argv[i + 1]] : []))
    expect(binds.at(-1)).toBe('/src/app')
  })
})

describe('bwrap env policy, for any input', () => {
  test.prop([scenarioArb], { numRuns: runs })('every guest step gets exactly HOME, USER, PATH, TERM, the env and the secrets', (raw) => {
    const s = fitFor('bwrap', raw)
    const plan = compile(bwrap, s.spec, s.op, s.host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    for (const st of plan.right.steps.filter((x) => x.guest !== undefined)) {
      const intent = st.guest?.intent
      if (intent === undefined) continue
      expect(st.env.inheritHost).toBe(false)
      const names = st.env.vars.map((v) => v.name)
      const expected = new Set(['HOME', 'USER', 'PATH', ...(intent.tty && (s.host.bwrap?.term ?? null) !== null ? ['TERM'] : []), ...intent.env.map(([k]) => k), ...intent.secrets])
      expect(new Set(names)).toStrictEqual(expected)
      expect(names).toHaveLength(expected.size)
    }
  })

  test.prop([scenarioArb, envAndSecretsArb], { numRuns: runs })('argv does not depend on env values or secret names', (raw, other) => {
    // Same input but the env: the argv must be the same word for word, so no value is in it.
    const s = fitFor('bwrap', raw)
    const a = compile(bwrap, s.spec, s.op, s.host)
    // attach hands the pane its variables by name (src/attach.ts), so there only values may change.
    const changed =
      s.op._tag === 'attach'
        ? { env: s.spec.env.map(([k], i) => [k, other.env[i]?.[1] ?? `${k}-other`] as const), secrets: s.spec.secrets }
        : { env: other.env, secrets: other.secrets }
    const b = compile(bwrap, { ...s.spec, ...changed }, s.op, s.host)
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('valid input rejected')
    expect(b.right.steps.map((st) => st.argv)).toStrictEqual(a.right.steps.map((st) => st.argv))
  })

  it('a secret is named, never valued, in every rendering', () => {
    const plan = planOf(agent)
    for (const out of [renderText(plan), renderJson(plan), renderSh(plan)]) expect(out).toContain('CLAUDE_CODE_OAUTH_TOKEN')
    expect(plan.secrets).toStrictEqual(['CLAUDE_CODE_OAUTH_TOKEN'])
  })
})

describe('bwrap lifecycle', () => {
  const fresh = host(false, { launched: false, promptInstalled: false })

  it('launch: mkdir the state directory (undone by rm -rf), start a sandbox once, copy the prompt in', () => {
    const plan = planOf({ _tag: 'launch' }, demo, fresh)
    expect(plan.steps.map((s) => s.argv.slice(0, 4))).toStrictEqual([
      ['mkdir', '-p', '--', state],
      ['mkdir', '-m', '700', '--'],
      ['sh', '-c', 'cat > "$1"', 'sh'],
      ['/usr/bin/bwrap', '--unshare-all', '--unshare-user', '--die-with-parent'],
      ['cp', '--', '/src/app/prompt.md', `${state}/demo/system-prompt.md`],
    ])
    expect(plan.steps[1]?.argv.slice(4)).toStrictEqual([`${state}/demo`, `${state}/demo/home`])
    expect(plan.steps[1]?.undo.map((u) => u.argv)).toStrictEqual([['rm', '-rf', '--', `${state}/demo`]])
    // The labels ls reads back, on stdin: the spec's record, never an env value.
    expect(plan.steps[2]?.argv[4]).toBe(`${state}/demo/labels`)
    expect(plan.steps[2]?.stdin).toMatchObject({ _tag: 'text', text: expect.stringMatching(/^dev\.bottle\.managed=true\ndev\.bottle\.name=demo\n/) })
    // The prompt is not there yet when the sandbox first starts: it is not bound.
    expect(plan.steps[3]?.argv.includes(promptGuestPath)).toBe(false)
    expect(plan.steps[3]?.guest?.tail).toStrictEqual(['true'])
  })

  it('down: make it all writable (tolerating a missing bottle), then rm -rf', () => {
    const plan = planOf({ _tag: 'down' }, demo, fresh)
    expect(plan.steps.map((s) => s.argv)).toStrictEqual([
      ['chmod', '-R', 'u+w', '--', `${state}/demo`],
      ['rm', '-rf', '--', `${state}/demo`],
    ])
    expect(plan.steps[0]?.tolerate).toStrictEqual([{ exitCode: 1, stderrIncludes: 'No such file or directory' }])
    // The tolerated message is matched in English whatever the user's locale.
    expect(plan.steps[0]?.env.vars).toStrictEqual([{ _tag: 'plain', name: 'LC_ALL', value: 'C' }])
  })

  it.each([
    ['exec', exec],
    ['agent', agent],
    ['resume', { _tag: 'resume', args: [], tty: null }],
    ['cp', { _tag: 'cp', source: '/src/app/notes.txt', dest: '/home/node/notes.txt' }],
  ] as const)('%s on a bottle never launched is an error naming it', (_label, op) => {
    expect(errorOf(op, demo, fresh)).toBe(
      `bwrap bottle "demo" was never launched (no "${state}/demo"); launch it first: bottle run launch demo`,
    )
  })

  it('launch over an existing bottle is an error: its undo would delete that bottle', () => {
    expect(errorOf({ _tag: 'launch' })).toBe(`bwrap bottle "demo" already exists ("${state}/demo"); take it down first: bottle run down demo`)
  })

  it('agent for a spec with a prompt the bottle was launched without: an error saying how to put it in', () => {
    expect(errorOf(agent, demo, host(true, { promptInstalled: false }))).toBe(
      `bwrap bottle "demo" was launched without a prompt file; put one in: bottle run cp demo /src/app/prompt.md ${promptGuestPath}`,
    )
    // exec does not need it, and the bind goes only where the file is.
    expect(first(planOf(exec, demo, host(false, { promptInstalled: false }))).argv.includes(promptGuestPath)).toBe(false)
  })

  it('ls lists the state directories, made first so that none launched yet is an empty list', () => {
    const steps = bwrap.list(host(false))
    expect(steps.map((s) => s.argv.slice(0, 2))).toStrictEqual([['mkdir', '-p'], ['sh', '-c']])
    expect(steps[0]?.argv.at(-1)).toBe(state)
    expect(steps[1]?.argv.slice(3)).toStrictEqual(['sh', state])
    expect(steps[1]?.stdio).toBe('capture')
  })

  it('ls reads NAME, mtime and the labels file; a directory without labels is listed with no record', () => {
    const out = `demo\t1700000000\tdev.bottle.managed=true\tdev.bottle.name=demo\tdev.bottle.spec-hash=0123456789ab\tdev.bottle.spec=e30\t\nold\t1700000100\t\n`
    expect(bwrap.parseList(out)).toStrictEqual(E.right([
      // e30 is `{}`: not a record this version reads, so no image either.
      { name: 'demo', backend: 'bwrap', state: 'ready', createdAt: 1700000000000, image: null, specHash: '0123456789ab', spec: 'e30' },
      { name: 'old', backend: 'bwrap', state: 'ready', createdAt: 1700000100000, image: null, specHash: null, spec: null },
    ]))
    expect(E.isLeft(bwrap.parseList('not a listing\n'))).toBe(true)
  })
})

describe('bwrap cp', () => {
  it('a directory into the workspace: mkdir, then cp -R from a read-only bind, both in the sandbox', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/notes', dest: '/src/app/copied' })
    expect(plan.steps.map((s) => s.guest?.tail)).toStrictEqual([
      ['mkdir', '-p', '--', '/src/app/copied'],
      ['cp', '-R', '--', '/tmp/bottle/copy-source/.', '/src/app/copied'],
    ])
    const argv = plan.steps[1]?.argv ?? []
    expect(argv.slice(argv.indexOf('/src/app/notes') - 1, argv.indexOf('/src/app/notes') + 2)).toStrictEqual(['--ro-bind', '/src/app/notes', '/tmp/bottle/copy-source'])
    // Plumbing: the bottle's user, none of the spec's env or secrets.
    expect(plan.steps.map((s) => s.env.vars.map((v) => v.name))).toStrictEqual([['HOME', 'USER', 'PATH'], ['HOME', 'USER', 'PATH']])
  })

  it('a file into the home: its parent made first', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/notes.txt', dest: '/home/node/docs/notes.txt' })
    expect(plan.steps.map((s) => s.guest?.tail)).toStrictEqual([
      ['mkdir', '-p', '--', '/home/node/docs'],
      ['cp', '--', '/tmp/bottle/copy-source', '/home/node/docs/notes.txt'],
    ])
  })

  it('a file to the prompt path replaces the prompt file, on the host, where no guest reaches', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/notes.txt', dest: promptGuestPath })
    expect(plan.steps.map((s) => s.argv)).toStrictEqual([['cp', '--', '/src/app/notes.txt', `${state}/demo/system-prompt.md`]])
  })

  it.each([
    ['/etc/notes.txt', 'guest path "/etc/notes.txt" is outside what a bwrap bottle keeps: copy into the workdir /src/app or the home /home/node'],
    ['/src/application/x', 'guest path "/src/application/x" is outside what a bwrap bottle keeps: copy into the workdir /src/app or the home /home/node'],
    ['/tmp/x', 'guest path "/tmp/x" is outside what a bwrap bottle keeps: copy into the workdir /src/app or the home /home/node'],
  ])('outside the workdir and the home: %s', (dest, message) => {
    expect(errorOf({ _tag: 'cp', source: '/src/app/notes.txt', dest })).toBe(message)
  })

  it('a directory to the prompt path is an error', () => {
    expect(errorOf({ _tag: 'cp', source: '/src/app/notes', dest: promptGuestPath })).toBe(
      `${promptGuestPath} is the bottle's prompt file; copy a file there, not a directory`,
    )
  })
})

describe('bwrap spec rules', () => {
  it.each([
    ['an image reference', { image: 'node:22' }, 'image "node:22" is not a root filesystem directory: bwrap takes an absolute path to one (--image / for the host\'s)'],
    ['a name with a slash', { name: 'a/b' }, 'bottle name "a/b" is not a valid bwrap bottle name: letters, digits, _, . and -, starting with a letter or digit, at most 128 characters'],
    ['a name that is ..', { name: '..' }, 'bottle name ".." is not a valid bwrap bottle name: letters, digits, _, . and -, starting with a letter or digit, at most 128 characters'],
    ['a workdir over the home', { workdir: '/home' }, 'workdir "/home" would cover the bottle\'s home /home/node; choose a project directory'],
    ['/ as workdir', { workdir: '/' }, 'workdir "/" would cover the bottle\'s home /home/node; choose a project directory'],
    ['a workdir over the prompt', { workdir: '/tmp' }, 'workdir "/tmp" would cover the bottle\'s prompt directory /tmp/bottle; choose a project directory'],
  ] as const)('%s is refused', (_label, change, message) => {
    expect(errorOf(exec, { ...demo, ...change })).toBe(message)
  })

  it('without bwrap facts (a CLI bug) the compiler says so instead of guessing', () => {
    expect(errorOf(exec, demo, { ...host(false), bwrap: null })).toBe('internal: the CLI did not read the host facts bwrap needs')
  })

  it.each(['/root/proj', '/home/node/proj', '/tmp/ws'])('a workdir below a home or under /tmp is fine: %s', (workdir) => {
    expect(E.isRight(compiled(exec, { ...demo, workdir }))).toBe(true)
  })
})
