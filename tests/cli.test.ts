/**
 * The CLI's new surface, in-process and in plan mode only (nothing spawns): --agent and
 * --allow-root, agent profiles in a manifest, and attach's flags. Invalid input is one line on
 * stderr and exit 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../src/cli.js'
import type { Plan } from '../src/plan/types.js'
import { writeRecordOf } from './records.js'

const dir = mkdtempSync(join(tmpdir(), 'bottle-cli-'))
// The state root beside the workdir (`dir`): launch refuses a workdir that holds it.
const stateHome = mkdtempSync(join(tmpdir(), 'bottle-cli-state-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  rmSync(stateHome, { recursive: true, force: true })
})
const prompt = join(dir, 'prompt.md')
writeFileSync(prompt, 'be brief\n')

const manifest = (text: string): string => {
  const file = join(dir, `m${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, text)
  return file
}

const cli = async (...argv: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (t) => out.push(t), err: (l) => err.push(l), env: { PATH: '/nonexistent', XDG_STATE_HOME: stateHome } })
  return { code, out: out.join(''), err: err.join('\n') }
}

/**
 * A launched bottle, as far as planning goes: its launch record, written from `plan launch` as
 * `run launch` would. Ops on it then compile from the record, with their own flags on top.
 */
const launched = async (...argv: string[]): Promise<void> => {
  rmSync(join(stateHome, 'bottle'), { recursive: true, force: true })
  const r = await cli('plan', 'launch', 'demo', '--workdir', dir, '--format', 'json', ...argv)
  expect({ code: r.code, err: r.err }).toStrictEqual({ code: 0, err: '' })
  writeRecordOf(JSON.parse(r.out) as Plan)
}

const jsonPlan = async (...argv: string[]): Promise<Plan> => {
  const r = await cli(...argv)
  expect({ code: r.code, err: r.err }).toStrictEqual({ code: 0, err: '' })
  return JSON.parse(r.out) as Plan
}

describe('--agent and --allow-root', () => {
  beforeAll(() => launched('-b', 'docker'))
  it.each([
    ['claude', ['claude', '--append-system-prompt-file', '/opt/bottle/system-prompt.md']],
    ['codex', ['codex']],
    ['/opt/agent x', ['/opt/agent x']],
  ])('--agent %s', async (agent, tail) => {
    const p = await jsonPlan('plan', 'agent', 'demo', '-b', 'docker', '--agent', agent, '--format', 'json', ...(agent === 'claude' ? ['--prompt', prompt] : []))
    expect(p.steps[0]?.guest?.tail).toStrictEqual(tail)
  })

  it.each([
    [['agent', 'demo', '--agent', 'codex', '--prompt', prompt], /^bottle: agent "codex" takes no system-prompt file/],
    [['resume', 'demo', '--agent', 'aider'], /^bottle: agent "aider" has no continueArgs, so it cannot resume a session/],
    [['agent', 'demo', '--user', 'root'], /^bottle: agent "claude" refuses to run as root/],
    [['agent', 'demo', '--agent', '-x'], /^bottle: --agent: agent command "-x" must not start with "-"/],
    [['attach', 'demo', '--pane', 'tab'], /--pane.*tab.*split, respawn, window/],
  ])('rejects %j with exit 2 and one line', async (args, message) => {
    const r = await cli('plan', ...args, '-b', 'docker')
    expect({ code: r.code, out: r.out }).toStrictEqual({ code: 2, out: '' })
    expect(r.err).toMatch(message)
    expect(r.err.split('\n')).toHaveLength(1)
  })

  it('--allow-root runs claude as root with IS_SANDBOX=1', async () => {
    await launched('-b', 'podman')
    const p = await jsonPlan('plan', 'agent', 'demo', '-b', 'podman', '--user', 'root', '--allow-root', '--format', 'json')
    expect(p.steps[0]?.argv).toContain('IS_SANDBOX=1')
  })
})

describe('agent profiles in a manifest', () => {
  it('takes a custom profile and allow_root', async () => {
    const file = manifest(
      'bottles:\n  demo:\n    user: root\n    allow_root: true\n    agent: { command: aider, promptFlag: --read, continueArgs: [--restore-chat-history], refusesRoot: true }\n',
    )
    await launched('-b', 'docker', '-f', file)
    const p = await jsonPlan('plan', 'resume', 'demo', '-b', 'docker', '--format', 'json')
    expect(p.steps[0]?.guest?.tail).toStrictEqual(['sh', '-c', '(exec aider --restore-chat-history) || exec aider'])
  })

  it('--agent replaces the manifest\'s profile whole', async () => {
    const file = manifest('bottles:\n  demo:\n    agent: { command: aider, continueArgs: [--restore-chat-history] }\n')
    await launched('-b', 'docker', '-f', file)
    const p = await jsonPlan('plan', 'resume', 'demo', '-b', 'docker', '--agent', 'codex', '--format', 'json')
    expect(p.steps[0]?.guest?.tail).toStrictEqual(['sh', '-c', '(exec codex resume --last) || exec codex'])
  })

  it('names the file and key of a bad profile', async () => {
    const file = manifest('bottles:\n  demo:\n    agent: { command: aider, refusesRoot: maybe }\n')
    const r = await cli('plan', 'launch', 'demo', '-b', 'docker', '-f', file)
    expect(r).toStrictEqual({ code: 2, out: '', err: `bottle: ${file}: bottles.demo.agent.refusesRoot: must be true or false, not "maybe"` })
  })
})

describe('attach', () => {
  it('plans a tmux pane running the agent step, with a terminal', async () => {
    await launched('-b', 'docker')
    const p = await jsonPlan('plan', 'attach', 'demo', '-b', 'docker', '--target', '%7', '--format', 'json', '--', 'a;')
    expect(p.op).toBe('attach')
    expect(p.exitCodeFrom).toBeNull()
    expect(p.steps[0]?.argv.slice(0, 5)).toStrictEqual(['tmux', 'split-window', '-t', '%7', '--'])
    expect(p.steps[0]?.argv.at(-1)).toBe('a\\;')
    expect(p.steps[0]?.pane?.argv.at(-1)).toBe('a;')
    expect(p.steps[0]?.pane?.guest?.intent.tty).toBe(true)
  })

  it('--format sh renders the hand-off with the secret as a reference', async () => {
    await launched('-b', 'smolvm')
    const r = await cli('plan', 'attach', 'demo', '-b', 'smolvm', '--secret', 'TOKEN', '--pane', 'window', '--format', 'sh')
    expect(r.code).toBe(0)
    expect(r.out).toContain('BOTTLE_ATTACH_0="$TOKEN" sh -c')
  })
})
