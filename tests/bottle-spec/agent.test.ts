/**
 * Agent profiles, as examples: the tails each built-in profile gives, the three compile errors a
 * profile can cause (a prompt it cannot take, a resume it cannot do, root it refuses), and
 * allow_root (claude's IS_SANDBOX=1). The law suite runs every profile through every invariant.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { docker } from '../../src/backends/docker.js'
import { smolvm } from '../../src/backends/smolvm.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import type { Plan } from '../../src/plan/types.js'
import { type AgentProfile, agentProfiles, customProfile, profileNamed } from '../../src/bottle-spec/agent.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'

const resolved = resolveSpec({ name: 'demo', fromManifest: { prompt: '/src/app/prompt.md', network: { mode: 'open' } }, fromFlags: {}, cwd: '/src/app' })
if (E.isLeft(resolved)) throw new Error(resolved.left.message)
/** demo: node, /src/app, a prompt file, claude. */
const demo: BottleSpec = resolved.right

const host: HostFacts = { cwd: '/src/app', home: '/home/me', stateRoot: '/home/me/.local/state/bottle', stdinIsTTY: false, pathKinds: { '/src/app/prompt.md': 'file' }, tmpdir: '/tmp', uid: 1000, bwrap: null, cluster: { context: null, namespace: null } }

const agent: BottleOperation = { _tag: 'agent', args: ['-x'], tty: null }
const resume: BottleOperation = { _tag: 'resume', args: ['-x'], tty: null }
const attach: BottleOperation = { _tag: 'attach', pane: 'split', target: null, resume: false, args: [] }

const compiled = (spec: Partial<BottleSpec>, op: BottleOperation): E.Either<string, Plan> =>
  E.mapLeft((e: { message: string }) => e.message)(compile(docker, { ...demo, ...spec }, op, host))

const tailOf = (spec: Partial<BottleSpec>, op: BottleOperation): readonly string[] => {
  const plan = compiled(spec, op)
  if (E.isLeft(plan)) throw new Error(plan.left)
  return plan.right.steps[0]?.guest?.tail ?? []
}

const errorOf = (spec: Partial<BottleSpec>, op: BottleOperation): string => {
  const plan = compiled(spec, op)
  if (E.isRight(plan)) throw new Error('expected a compile error')
  return plan.left
}

const custom = (fields: Parameters<typeof customProfile>[0]): AgentProfile => {
  const p = customProfile(fields)
  if (E.isLeft(p)) throw new Error(p.left.message)
  return p.right
}

describe('tails per profile', () => {
  it.each([
    ['claude, agent', agentProfiles.claude, '/src/app/prompt.md', agent, ['claude', '--append-system-prompt-file', '/opt/bottle/system-prompt.md', '-x']],
    ['claude, resume', agentProfiles.claude, null, resume, ['sh', '-c', '(exec claude --continue -x) || exec claude -x']],
    ['codex, agent', agentProfiles.codex, null, agent, ['codex', '-x']],
    ['codex, resume', agentProfiles.codex, null, resume, ['sh', '-c', '(exec codex resume --last -x) || exec codex -x']],
    [
      'custom, resume',
      custom({ command: 'my agent;', promptFlag: '--sys', continueArgs: ['--last', 'it\'s'] }),
      '/src/app/prompt.md',
      resume,
      ['sh', '-c', "(exec 'my agent;' --sys /opt/bottle/system-prompt.md --last 'it'\\''s' -x) || exec 'my agent;' --sys /opt/bottle/system-prompt.md -x"],
    ],
  ] as const)('%s', (_label, profile, prompt, op, tail) => {
    expect(tailOf({ agent: profile, prompt }, op)).toStrictEqual(tail)
  })
})

describe('compile errors a profile causes', () => {
  it.each([
    ['agent', agent],
    ['resume', resume],
    ['attach', attach],
    ['launch', { _tag: 'launch' } as const],
  ] as const)('codex with a prompt file: %s', (_label, op) => {
    expect(errorOf({ agent: agentProfiles.codex }, op)).toBe(
      'agent "codex" takes no system-prompt file, so the prompt "/src/app/prompt.md" cannot reach it (codex adds instructions from AGENTS.md; -c model_instructions_file would replace its own): remove prompt, or give the agent profile a promptFlag',
    )
  })

  it.each([
    ['resume', resume],
    ['attach --resume', { ...attach, resume: true }],
  ] as const)('a profile without continueArgs cannot %s', (_label, op) => {
    expect(errorOf({ agent: custom({ command: 'aider' }), prompt: null }, op)).toBe(
      'agent "aider" has no continueArgs, so it cannot resume a session: give the agent profile continueArgs, or use agent',
    )
  })

  it.each([
    ['agent', agent],
    ['resume', resume],
    ['attach', attach],
  ] as const)('claude as root without allow_root: %s', (_label, op) => {
    expect(errorOf({ user: 'root' }, op)).toBe(
      'agent "claude" refuses to run as root, and the bottle\'s user is root: choose another user (--user), or set allow_root: true (--allow-root) if root in this sandbox is what you want',
    )
  })

  it.each([
    ['exec as root', { _tag: 'exec', script: 'id', user: 'root' } as const, { user: 'node' }],
    ['launch as root', { _tag: 'launch' } as const, { user: 'root' }],
    ['down as root', { _tag: 'down' } as const, { user: 'root' }],
    ['codex as root', agent, { user: 'root', agent: agentProfiles.codex, prompt: null }],
    ['a custom profile that does not refuse root', agent, { user: 'root', agent: custom({ command: 'x' }), prompt: null }],
  ] as const)('no error: %s', (_label, op, spec) => {
    expect(E.isRight(compiled(spec, op))).toBe(true)
  })

  it('a custom profile that refuses root is refused as root too', () => {
    expect(errorOf({ user: 'root', prompt: null, agent: custom({ command: 'x', refusesRoot: true }) }, agent)).toMatch(/^agent "x" refuses to run as root/)
  })
})

describe('allow_root', () => {
  const intentOf = (spec: Partial<BottleSpec>, op: BottleOperation = agent) => {
    const plan = compiled(spec, op)
    if (E.isLeft(plan)) throw new Error(plan.left)
    return plan.right.steps[0]?.guest?.intent
  }

  it('lets claude run as root, with IS_SANDBOX=1 in its env', () => {
    expect(intentOf({ user: 'root', allowRoot: true })).toMatchObject({ user: 'root', home: '/root', env: [['IS_SANDBOX', '1']] })
  })

  it('keeps a value the spec gives IS_SANDBOX', () => {
    expect(intentOf({ user: 'root', allowRoot: true, env: [['IS_SANDBOX', '0']] })?.env).toStrictEqual([['IS_SANDBOX', '0']])
  })

  it('sets nothing for codex, and nothing for exec', () => {
    expect(intentOf({ user: 'root', allowRoot: true, agent: agentProfiles.codex, prompt: null })?.env).toStrictEqual([])
    expect(intentOf({ user: 'root', allowRoot: true }, { _tag: 'exec', script: 'id', user: null })?.env).toStrictEqual([])
  })

  it('reaches the guest on smolvm as -e', () => {
    const plan = compile(smolvm, { ...demo, user: 'root', allowRoot: true }, agent, host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    expect(plan.right.steps[0]?.argv).toContain('IS_SANDBOX=1')
  })
})

describe('profiles', () => {
  it.each([
    ['claude', agentProfiles.claude],
    ['codex', agentProfiles.codex],
    ['aider', { name: 'custom', command: 'aider', promptFlag: null, continueArgs: [], refusesRoot: false, rootEnv: [] }],
    ['/opt/my agent;', { name: 'custom', command: '/opt/my agent;', promptFlag: null, continueArgs: [], refusesRoot: false, rootEnv: [] }],
  ] as const)('--agent %s', (flag, profile) => {
    expect(profileNamed(flag)).toStrictEqual(E.right(profile))
  })

  it.each([
    [{ command: '' }, 'agent command must not be empty'],
    [{ command: '-x' }, 'agent command "-x" must not start with "-" (it would be read as a flag)'],
    [{ command: 'a\0' }, 'agent command "a\\u0000" contains a NUL byte'],
    [{ command: 'a', promptFlag: '' }, 'promptFlag must not be empty (leave it out if the agent takes no prompt file)'],
    [{ command: 'a', continueArgs: ['x\0'] }, 'continueArgs word "x\\u0000" contains a NUL byte'],
  ])('rejects %j', (fields, message) => {
    expect(customProfile(fields)).toStrictEqual(E.left({ _tag: 'CompileError', message }))
  })

  it('rejects a built-in profile that was changed, through resolveSpec', () => {
    const spec = resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: { agent: { ...agentProfiles.claude, refusesRoot: false } }, cwd: '/' })
    expect(E.isLeft(spec)).toBe(true)
  })
})
