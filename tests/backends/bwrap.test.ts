/**
 * bwrap's plans, as examples: the sandbox framing, the env policy (exactly the listed vars,
 * nothing in argv), the state-directory lifecycle, cp's rules, and the checks that need host
 * facts (never launched, already there). tests/bwrap runs the same plans for real.
 */
import { test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { BwrapBottleFacts, HostFacts } from '../../src/backends/backend.js'
import { bwrap, bwrapProcessPath, guestPath, parseStateRoot, promptGuestPath } from '../../src/backends/bwrap.js'
import { scanBudget, scanThenRunScript } from '../../src/backends/bwrap-scan.js'
import { quoteShArgv } from '../../src/plan/quote.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { renderJson, renderSh, renderText } from '../../src/plan/render.js'
import type { Plan, Step } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { backendSteps, isRecordStep } from '../records.js'
import { demo } from './fixtures.js'
import { bwrapBaseFacts, envAndSecretsArb, scenarioArb } from '../arbitraries.js'
import { fitFor } from './kits.js'
import { runs } from '../runs.js'

// Bytes no labels file bottle writes could hold: a NUL, a bare 0xff, a TAB.
const randomJunk = Buffer.from([0x00, 0xff, 0x09, 0x41, 0x3d, 0x80]).toString('hex')

const state = '/home/me/.local/state/bottle/bwrap'

const bottleFacts: BwrapBottleFacts = { launched: true, promptInstalled: true, unsafe: null, users: ['node'], accounts: {} }
const host = (stdinIsTTY: boolean, facts: Partial<BwrapBottleFacts> = {}): HostFacts => ({
  cwd: '/src/app',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY,
  pathKinds: { '/src/app/prompt.md': 'file', '/src/app/notes': 'dir', '/src/app/notes.txt': 'file' },
  tmpdir: '/tmp',
  uid: 1000,
  bwrap: bwrapBaseFacts(state, { term: 'xterm-256color', bottle: { ...bottleFacts, ...facts } }),
  cluster: { context: null, namespace: null },
})

const compiled = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host(true)) => compile(bwrap, spec, op, facts)

const planOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host(true)): Plan => {
  const plan = compiled(op, spec, facts)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}

const errorOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host(true)): string => {
  const plan = compiled(op, spec, facts)
  if (E.isRight(plan)) throw new Error('expected a CompileError')
  return plan.left.message
}

const first = (plan: Plan): Step => {
  const s = plan.steps[0]
  if (s === undefined) throw new Error('no steps')
  return s
}

const agent: BottleOperation = { _tag: 'agent', args: ['-p', 'hi'], tty: null }
const exec: BottleOperation = { _tag: 'exec', script: 'npm test', user: null }

/** The root every sandbox gets on a Debian host (tests/arbitraries' debianSystem): system dirs read-only, the rest fresh. */
const rootWords = [
  '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin',
  '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--ro-bind', '/etc', '/etc', '--ro-bind', '/opt', '/opt',
  '--dev', '/dev', '--proc', '/proc',
  '--tmpfs', '/tmp', '--tmpfs', '/run', '--tmpfs', '/var', '--tmpfs', '/home', '--tmpfs', '/root',
  '--tmpfs', '/mnt', '--tmpfs', '/media', '--tmpfs', '/srv',
]

/** The words after a flag, as many as it takes. */
const after = (argv: readonly string[], flag: string, n = 1): readonly string[] => argv.slice(argv.indexOf(flag) + 1, argv.indexOf(flag) + 1 + n)

/** The `--setenv K V` pairs of an argv, as K=V. */
const setenvs = (argv: readonly string[]): string[] =>
  argv.flatMap((w, i) => (w === '--setenv' ? [`${argv[i + 1]}=${argv[i + 2]}`] : []))

describe('bwrap argv and env snapshots', () => {
  it('agent with a terminal: a pty of its own (script), no new session, the prompt bound read-only, TERM from the host', () => {
    const s = first(planOf(agent))
    const framing = [
      '/usr/bin/bwrap', '--unshare-all', '--unshare-user', '--die-with-parent',
      ...rootWords,
      '--ro-bind', `${state}/demo/system-prompt.md`, promptGuestPath,
      '--bind', `${state}/demo/home`, '/home/node',
      '--bind', '/src/app', '/src/app',
      '--remount-ro', '/',
      '--uid', '1000', '--gid', '1000', '--chdir', '/src/app',
      '--setenv', 'HOME', '/home/node', '--setenv', 'USER', 'node', '--setenv', 'PATH', guestPath('/home/node'),
      '--setenv', 'TERM', 'xterm-256color', '--setenv', 'CI', '1', '--',
    ]
    const tail = ['claude', '--append-system-prompt-file', promptGuestPath, '-p', 'hi']
    expect(s.guest?.framing).toStrictEqual(framing)
    // script runs its command with $SHELL: a fixed /bin/sh, which drops it (and would move a
    // secret named SHELL back under its name) before exec.
    const prelude = 'unset SHELL; [ -z "${bottle_secret_SHELL+x}" ] || { SHELL=$bottle_secret_SHELL; export SHELL; unset bottle_secret_SHELL; }; '
    expect(s.argv).toStrictEqual(['/usr/bin/script', '-q', '-e', '-c', `${prelude}${quoteShArgv(['exec', ...framing, ...tail])}`, '/dev/null'])
    // The host process holds a fixed PATH, script's fixed SHELL and the secret, nothing from the spec.
    expect(s.env).toStrictEqual({
      inheritHost: false,
      vars: [
        { _tag: 'plain', name: 'PATH', value: bwrapProcessPath },
        { _tag: 'plain', name: 'SHELL', value: '/bin/sh' },
        { _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' },
      ],
    })
    expect(s.stdio).toBe('terminal')
  })

  it('exec: a new session (it blocks TIOCSTI), no pty, no TERM, output passed through', () => {
    const s = first(planOf(exec))
    expect(s.argv[0]).toBe('/usr/bin/bwrap')
    expect(s.argv.filter((w) => w === '--new-session')).toHaveLength(1)
    expect(setenvs(s.argv).map((e) => e.split('=')[0])).toStrictEqual(['HOME', 'USER', 'PATH', 'CI'])
    expect(s.env.vars.map((v) => v.name)).toStrictEqual(['PATH', 'CLAUDE_CODE_OAUTH_TOKEN'])
    expect(s.guest?.tail).toStrictEqual(['sh', '-c', 'npm test'])
    expect(s.stdio).toBe('terminal')
  })

  it.each([
    ['open', false],
    ['none', false],
    ['host', true],
    ['egress', false],
  ] as const)('network %s: --share-net is %s', (mode, shared) => {
    const network = mode === 'egress' ? { mode, allow: [] } : { mode }
    expect(first(planOf(exec, { ...demo, network })).argv.includes('--share-net')).toBe(shared)
  })

  it("a rootfs directory as image: its system directories in the host's place", () => {
    const argv = first(planOf(exec, { ...demo, image: '/srv/rootfs/debian/' })).argv
    expect(after(argv, '--ro-bind', 2)).toStrictEqual(['/srv/rootfs/debian/usr', '/usr'])
    expect(argv.includes('/')).toBe(true)
    expect(argv.filter((w, i) => w === '--ro-bind' && argv[i + 2] === '/')).toStrictEqual([])
  })

  it.each([
    ['node, not in the rootfs passwd', 'node', {}, ['1000', '1000'], '/home/node'],
    ['node, listed there', 'node', { node: { uid: 1001, gid: 1002 } }, ['1001', '1002'], '/home/node'],
    ['root, whatever passwd says', 'root', { root: { uid: 5, gid: 5 } }, ['0', '0'], '/root'],
    ['alice, listed there', 'alice', { alice: { uid: 1500, gid: 1500 } }, ['1500', '1500'], '/home/alice'],
  ] as const)('the user switch: %s', (_label, user, accounts, [uid, gid], home) => {
    const s = first(planOf(exec, { ...demo, user }, host(false, { accounts, users: [user] })))
    expect([after(s.argv, '--uid')[0], after(s.argv, '--gid')[0]]).toStrictEqual([uid, gid])
    // The bottle's one home is bound at the home of whoever runs.
    expect(s.argv.slice(s.argv.indexOf(`${state}/demo/home`) - 1, s.argv.indexOf(`${state}/demo/home`) + 2)).toStrictEqual(['--bind', `${state}/demo/home`, home])
    expect(setenvs(s.argv).slice(0, 2)).toStrictEqual([`HOME=${home}`, `USER=${user}`])
  })

  it.each(['alice', 'constructor', 'toString'])('a user the rootfs passwd does not list (%s) is refused: exit 2, nothing run', (user) => {
    expect(errorOf({ _tag: 'exec', script: 'id', user }, demo, host(false, { users: ['node', user] }))).toBe(
      `user "${user}" is not in "/etc/passwd": bwrap runs a user by the ids listed there (root, and the default user node, need none)`,
    )
  })

  it('an env entry named PATH or TERM replaces the default, in spec order', () => {
    const spec = { ...demo, env: [['TERM', 'dumb'], ['PATH', '/opt/bin']] as const, secrets: [] }
    const s = first(planOf(agent, spec))
    expect(setenvs(s.guest?.framing ?? [])).toStrictEqual(['HOME=/home/node', 'USER=node', 'TERM=dumb', 'PATH=/opt/bin'])
    expect(s.env.vars).toStrictEqual([{ _tag: 'plain', name: 'PATH', value: bwrapProcessPath }, { _tag: 'plain', name: 'SHELL', value: '/bin/sh' }])
  })

  it('a secret named SHELL under a pty: script gets SHELL=/bin/sh, the secret another name, moved back in sh', () => {
    const s = first(planOf(agent, { ...demo, secrets: ['SHELL'] }))
    expect(s.env.vars).toStrictEqual([
      { _tag: 'plain', name: 'PATH', value: bwrapProcessPath },
      { _tag: 'plain', name: 'SHELL', value: '/bin/sh' },
      { _tag: 'secret', name: 'bottle_secret_SHELL', from: 'SHELL' },
    ])
    // Without a terminal there is no script: bwrap gets the secret under its own name.
    const plainExec = first(planOf({ _tag: 'exec', script: 'true', user: null }, { ...demo, secrets: ['SHELL'] }))
    expect(plainExec.env.vars).toStrictEqual([{ _tag: 'plain', name: 'PATH', value: bwrapProcessPath }, { _tag: 'secret', name: 'SHELL' }])
  })

  it('a secret named PATH is the bwrap process PATH, and no default PATH is set', () => {
    const s = first(planOf(exec, { ...demo, env: [], secrets: ['PATH'] }))
    expect(s.env.vars).toStrictEqual([{ _tag: 'secret', name: 'PATH' }])
    expect(setenvs(s.argv)).toStrictEqual(['HOME=/home/node', 'USER=node'])
  })

  it('when bottle is root, the step scans /etc first and bwrap reads the masks from fd 3, right after the system binds', () => {
    const facts = host(false)
    const scanned = { ...facts, bwrap: facts.bwrap === null ? null : { ...facts.bwrap, rootOnlyScan: ['/etc', '/opt'] } }
    const s = first(planOf(exec, demo, scanned))
    const argv = s.argv
    const bwrapAt = argv.indexOf('/usr/bin/bwrap')
    expect(argv.slice(0, bwrapAt)).toStrictEqual(['/bin/sh', '-c', scanThenRunScript, 'bottle-scan', `${state}/demo`, '/', String(scanBudget / 64), 'etc opt'])
    const at = (words: readonly string[]) => argv.findIndex((_, i) => words.every((w, j) => argv[i + j] === w))
    // The masks follow what they mask, and come before the fresh mounts.
    expect(at(['--args', '3'])).toBe(at(['--ro-bind', '/opt', '/opt']) + 3)
    expect(at(['--ro-bind', '/etc', '/etc'])).toBeGreaterThan(-1)
    expect(at(['--args', '3'])).toBeLessThan(at(['--dev', '/dev']))
    // The framing the plan records is the whole command before the guest's argv.
    expect(s.guest?.framing.slice(0, 4)).toStrictEqual(['/bin/sh', '-c', scanThenRunScript, 'bottle-scan'])
    // Not root: no scan, bwrap first.
    const plain = first(planOf(exec, demo, facts)).argv
    expect(plain[0]).toBe('/usr/bin/bwrap')
    expect(plain).not.toContain('--args')
  })

  it.each([
    ['the state root under /opt', { stateRoot: '/opt/state/bottle', stateDir: '/opt/state/bottle/bwrap' }, '/opt/state/bottle'],
    ['the host home under /opt', { hostHome: '/opt/me' }, '/opt/me'],
  ])('%s is covered by a tmpfs after the binds', (_label, change, hidden) => {
    const facts = host(false)
    const moved = { ...facts, bwrap: facts.bwrap === null ? null : { ...facts.bwrap, ...change } }
    const argv = first(planOf(exec, demo, moved)).argv
    const tmpfs = argv.findIndex((w, i) => w === '--tmpfs' && argv[i + 1] === hidden)
    expect(tmpfs).toBeGreaterThan(argv.indexOf('/src/app'))
    // Under /var, a fresh tmpfs already hides it: nothing more.
    expect(first(planOf(exec)).argv.filter((w) => w === state || w === '/home/me')).toStrictEqual([])
  })

  it.each([
    ['contains the state root', { workdir: '/home/me/.local' }, 'workdir "/home/me/.local" contains your bottle\'s state directory "/home/me/.local/state/bottle"; choose a project directory'],
  ])('a workdir that %s is refused', (_label, change, message) => {
    expect(errorOf(exec, { ...demo, ...change })).toBe(message)
  })

  it('a state directory with something planted in it is refused before anything runs', () => {
    expect(errorOf(exec, demo, host(false, { unsafe: `${state}/demo/home is not a directory (a symlink or a file was put in its place)` }))).toBe(
      `bwrap bottle "demo" cannot be trusted: ${state}/demo/home is not a directory (a symlink or a file was put in its place); nothing was run (take it down: bottle run down demo)`,
    )
    // down still works: it removes the directory, and rm -rf does not follow a symlink in it.
    expect(E.isRight(compiled({ _tag: 'down' }, demo, host(false, { unsafe: 'x' })))).toBe(true)
  })

  it('the workdir is the last bind, so it wins over the tmpfs mounts and the home', () => {
    const argv = first(planOf(exec)).argv
    const binds = argv.flatMap((w, i) => (w === '--bind' || w === '--ro-bind' || w === '--tmpfs' ? [argv[i + 1]] : []))
    expect(binds.at(-1)).toBe('/src/app')
  })
})

describe('bwrap env policy, for any input', () => {
  test.prop([scenarioArb], { numRuns: runs })('every guest step sets exactly HOME, USER, PATH, TERM and the env with --setenv; its process gets PATH and the secrets', (raw) => {
    const s = fitFor('bwrap', raw)
    const plan = compile(bwrap, s.spec, s.op, s.host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    for (const st of plan.right.steps.filter((x) => x.guest !== undefined)) {
      const intent = st.guest?.intent
      if (intent === undefined) continue
      const names = setenvs(st.guest?.framing ?? []).map((e) => e.slice(0, e.indexOf('=')))
      const defaults = ['PATH', ...(intent.tty && (s.host.bwrap?.term ?? null) !== null ? ['TERM'] : [])].filter((k) => !intent.secrets.includes(k))
      const expected = new Set(['HOME', 'USER', ...defaults, ...intent.env.map(([k]) => k)])
      expect(new Set(names)).toStrictEqual(expected)
      expect(names).toHaveLength(expected.size)
      // Invariant 10: the host bwrap process holds a fixed PATH and the secrets' values, nothing from
      // the spec; under a pty, script's fixed SHELL, and a secret named SHELL under another name.
      expect(st.env.inheritHost).toBe(false)
      expect(st.env.vars).toStrictEqual([
        ...(intent.secrets.includes('PATH') ? [] : [{ _tag: 'plain', name: 'PATH', value: bwrapProcessPath }]),
        ...(intent.tty ? [{ _tag: 'plain', name: 'SHELL', value: '/bin/sh' }] : []),
        ...intent.secrets.map((name) => (intent.tty && name === 'SHELL' ? { _tag: 'secret', name: 'bottle_secret_SHELL', from: 'SHELL' } : { _tag: 'secret', name })),
      ])
    }
  })

  test.prop([scenarioArb], { numRuns: runs })('a guest with a terminal runs in a pty of its own; one without, in a new session', (raw) => {
    const s = fitFor('bwrap', raw)
    const plan = compile(bwrap, s.spec, s.op, s.host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const steps = plan.right.steps.flatMap((st) => [st, ...(st.pane === undefined ? [] : [st.pane])]).filter((st) => st.guest !== undefined)
    for (const st of steps) {
      const tty = st.guest?.intent.tty === true
      expect(st.argv[0]).toBe(tty ? '/usr/bin/script' : s.host.bwrap?.binary)
      expect(st.guest?.framing.includes('--new-session')).toBe(!tty)
    }
  })

  test.prop([scenarioArb, envAndSecretsArb], { numRuns: runs })('argv does not depend on secret names: secrets travel in the process env only', (raw, other) => {
    // Plain env is in argv (--setenv, as docker's -e K=V); secrets never: other names, same argv.
    const s = fitFor('bwrap', raw)
    const a = compile(bwrap, s.spec, s.op, s.host)
    // attach hands the pane its variables by name (src/attach.ts); PATH and TERM replace defaults.
    const secrets = s.op._tag === 'attach' ? s.spec.secrets : other.secrets.filter((n) => n !== 'PATH' && n !== 'TERM' && !s.spec.env.some(([k]) => k === n))
    const b = compile(bwrap, { ...s.spec, secrets }, s.op, s.host)
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('valid input rejected')
    const guestOnly = (p: typeof a.right) => p.steps.filter((st) => st.guest !== undefined && !st.guest.intent.secrets.some((n) => n === 'PATH' || n === 'TERM')).map((st) => st.argv)
    if (s.spec.secrets.some((n) => n === 'PATH' || n === 'TERM')) return
    expect(guestOnly(b.right)).toStrictEqual(guestOnly(a.right))
  })

  it('a secret is named, never valued, in every rendering', () => {
    const plan = planOf(agent)
    for (const out of [renderText(plan), renderJson(plan), renderSh(plan)]) expect(out).toContain('CLAUDE_CODE_OAUTH_TOKEN')
    expect(plan.secrets).toStrictEqual(['CLAUDE_CODE_OAUTH_TOKEN'])
  })
})

describe('bwrap lifecycle', () => {
  const fresh = host(false, { launched: false, promptInstalled: false })

  it('launch: a plain mkdir of the state directory with the launch id (undone only if the id is this run\'s), start a sandbox once, copy the prompt in', () => {
    const full = planOf({ _tag: 'launch' }, demo, fresh)
    const plan = { ...full, steps: backendSteps(full) }
    expect(plan.steps.map((s) => s.argv.slice(0, 2))).toStrictEqual([
      ['mkdir', '-p'],
      ['sh', '-c'],
      ['sh', '-c'],
      ['/usr/bin/bwrap', '--unshare-all'],
      ['cp', '--remove-destination'],
    ])
    const [, claim] = plan.steps
    // The launch id slot is the last word: the script gets the state directory and the id.
    expect(claim?.argv.slice(3)).toStrictEqual(['sh', `${state}/demo`, ''])
    expect(claim?.launchId).toStrictEqual([5])
    expect(claim?.argv[2]).toMatch(/^mkdir -m 700 -- "\$1" && /)
    expect(claim?.undo.map((u) => [...u.argv.slice(0, 2), ...u.argv.slice(3)])).toStrictEqual([['sh', '-c', 'sh', `${state}/demo`, '']])
    expect(claim?.undo[0]?.launchId).toStrictEqual([5])
    // The launch record is written only once the plain mkdir has claimed the state directory.
    expect(full.steps.findIndex((s) => isRecordStep(s) && s.undo.length > 0)).toBeGreaterThan(full.steps.indexOf(claim as Step))
    expect(plan.steps[4]?.argv.slice(0, 3)).toStrictEqual(['cp', '--remove-destination', '--'])
    expect(plan.steps[4]?.argv[4]).toBe(`${state}/demo/system-prompt.md`)
    // The labels ls reads back, on stdin: the spec's record, never an env value.
    expect(plan.steps[2]?.argv[4]).toBe(`${state}/demo/labels`)
    expect(plan.steps[2]?.stdin).toMatchObject({ _tag: 'text', text: expect.stringMatching(/^dev\.bottle\.managed=true\ndev\.bottle\.name=demo\n/) })
    // The prompt is not there yet when the sandbox first starts: it is not bound.
    expect(plan.steps[3]?.argv.includes(promptGuestPath)).toBe(false)
    expect(plan.steps[3]?.guest?.tail).toStrictEqual(['true'])
  })

  it('down: make it all writable (tolerating a missing bottle), then rm -rf', () => {
    const plan = { ...planOf({ _tag: 'down' }, demo, fresh) }
    plan.steps = backendSteps(plan)
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

  it('ls reads each entry (kind, name and labels in hex, mtime); a directory without labels is listed with no record', () => {
    const hex = (t: string): string => Buffer.from(t, 'utf8').toString('hex')
    const labels = 'dev.bottle.managed=true\ndev.bottle.name=demo\ndev.bottle.spec-hash=0123456789ab\ndev.bottle.spec=e30\n'
    const out = `dir\t${hex('demo')}\t1700000000\t${hex(labels)}\ndir\t${hex('old')}\t1700000100\t\n`
    expect(bwrap.parseList(out)).toStrictEqual(E.right([
      // An older bottle's spec label is not read: the spec is in the launch record, which the CLI reads.
      { name: 'demo', backend: 'bwrap', state: 'ready', createdAt: 1700000000000, image: null, specHash: '0123456789ab', spec: null },
      { name: 'old', backend: 'bwrap', state: 'ready', createdAt: 1700000100000, image: null, specHash: null, spec: null },
    ]))
    expect(parseStateRoot(out).skipped).toStrictEqual([])
  })

  it('ls skips, each with one line naming it, what is not a bottle directory, and lists the rest', () => {
    const hex = (t: string): string => Buffer.from(t, 'utf8').toString('hex')
    const out = [
      `link\t${hex('ln')}`,
      `other\t${hex('f')}`,
      `dir\t${hex('a b')}\t1\t`,
      `dir\t${hex('new\nline')}\t1\t`,
      `dir\t${hex('ok')}\t1\t${randomJunk}`,
      'not a listing',
    ].join('\n')
    const { rows, skipped } = parseStateRoot(out)
    expect(rows.map((r) => [r.name, r.spec])).toStrictEqual([['ok', null]])
    expect(skipped).toStrictEqual([
      'bwrap state root: skipped "ln": a symlink, not a bottle directory',
      'bwrap state root: skipped "f": not a directory',
      expect.stringMatching(/^bwrap state root: skipped "a b": not a name bottle gives/),
      expect.stringMatching(/^bwrap state root: skipped "new\\nline": not a name bottle gives/),
      'bwrap state root: "ok" is listed without a record: its labels file is not one bottle wrote',
      'bwrap state root, line 6: not a line the listing prints: "not a listing"',
    ])
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
    expect(plan.steps.map((s) => setenvs(s.argv).map((e) => e.split('=')[0]))).toStrictEqual([['HOME', 'USER', 'PATH'], ['HOME', 'USER', 'PATH']])
    expect(plan.steps.map((s) => s.env.vars.map((v) => v.name))).toStrictEqual([['PATH'], ['PATH']])
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
    // --remove-destination: a symlink planted at the destination is unlinked, never written through.
    expect(plan.steps.map((s) => s.argv)).toStrictEqual([['cp', '--remove-destination', '--', '/src/app/notes.txt', `${state}/demo/system-prompt.md`]])
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
