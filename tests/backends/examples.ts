/**
 * The example tables every backend shares, built once: the same ops, terminals, prompts, users and
 * env on each backend, each row checked against how that backend spells it (its `Spelling`). A
 * backend's test file calls `backendExamples` and keeps only the examples that are its own.
 * `argvLine` shows a step's argv as one line (POSIX sh words), for snapshots a reader can read.
 *
 *   backendExamples(docker, host, { ttyWords: (f) => f.slice(2, f.indexOf('-u')), withTty: ['-i', '-t'], … })
 *   argvLine(['docker', 'exec', '-i', 'demo', '/bin/sh', '-c', commandWrapper, 'sh', ''])
 *   // "docker exec -i demo /bin/sh -c <command wrapper> sh ''"
 */
import { describe, expect, it } from 'vitest'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import type { BottleOperation as Operation } from '../../src/plan/operation.js'
import { commandWrapper } from '../../src/guest.js'
import { quoteShArgv } from '../../src/plan/quote.js'
import type { EnvVar, Plan } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { demo, planFor } from './fixtures.js'

/** bottle's command wrapper (src/guest.ts), named instead of spelled out: it is the same in every guest step. */
const wrapperMark = '<command wrapper>'

/** One step's argv as one line of sh words; bottle's command wrapper script appears by name. */
export const argvLine = (argv: readonly string[]): string => {
  const marker = 'BOTTLE_COMMAND_WRAPPER_WORD'
  return quoteShArgv(argv.map((w) => (w === commandWrapper ? marker : w))).replaceAll(marker, wrapperMark)
}

/** Every step of a plan as one line each. */
export const argvLines = (plan: Plan): string[] => plan.steps.map((s) => argvLine(s.argv))

/** How one backend spells what the shared tables check, read from a guest step's framing. */
export interface Spelling {
  /** The framing words that pass stdin on and ask for a terminal (docker: what stands between `exec` and `-u`). */
  readonly ttyWords: (framing: readonly string[]) => readonly string[]
  readonly withTty: readonly string[]
  readonly withoutTty: readonly string[]
  /** The framing words that switch to the user, read where the backend puts them. */
  readonly userSwitch: (framing: readonly string[]) => readonly string[]
  /** What those words are for this user, whose home is `home`. */
  readonly userSwitchFor: (user: string, home: string) => readonly string[]
  /** Groups of words, each contiguous in the framing: how it carries CI=1 and the secret CLAUDE_CODE_OAUTH_TOKEN. */
  readonly envWords: readonly (readonly string[])[]
  /** What the backend process's env gets for a guest command: the secret by name, or nothing. */
  readonly processEnv: readonly EnvVar[]
  /** Where the prompt file is in the bottle. */
  readonly promptPath: string
}

const agent = (tty: boolean | null, args: readonly string[] = []): Operation => ({ _tag: 'agent', args: [...args], tty })
const resume = (tty: boolean | null): Operation => ({ _tag: 'resume', args: [], tty })

const ttyRows: readonly (readonly [string, Operation, boolean, boolean])[] = [
  ['agent: a terminal on stdin', agent(null), true, true],
  ['agent: no terminal', agent(null), false, false],
  ['agent --no-tty with a terminal', agent(false), true, false],
  ['agent --tty without one', agent(true), false, true],
  ['resume: a terminal on stdin', resume(null), true, true],
  ['resume --tty without one', resume(true), false, true],
  ['exec never has a TTY', { _tag: 'exec', script: 'ls', user: null }, true, false],
  ['shell: a terminal on stdin', { _tag: 'shell', tty: null }, true, true],
  ['shell: no terminal', { _tag: 'shell', tty: null }, false, false],
  ['shell --no-tty with a terminal', { _tag: 'shell', tty: false }, true, false],
]

const envRows: readonly (readonly [string, Operation])[] = [
  ['agent', agent(null)],
  ['resume', resume(null)],
  ['exec', { _tag: 'exec', script: 'ls', user: 'root' }],
  ['shell', { _tag: 'shell', tty: null }],
]

const userRows: readonly (readonly [string, string])[] = [
  ['node', '/home/node'],
  ['claude', '/home/claude'],
  ['root', '/root'],
]

const containsRun = (words: readonly string[], run: readonly string[]): boolean =>
  words.some((_, i) => run.every((w, j) => words[i + j] === w))

/**
 * The shared tables for one backend: the TTY toggle, the prompt flag right after the agent, guest
 * env and secrets on every exec, and the user switch before the agent. `host` is the backend's
 * example host (with a terminal on stdin); `spec` defaults to the shared demo bottle.
 */
export const backendExamples = (backend: Backend, host: HostFacts, spelling: Spelling, spec: BottleSpec = demo): void => {
  const guestOf = (op: Operation, s: BottleSpec = spec, facts: HostFacts = host) => {
    const step = planFor(backend, op, s, facts).steps[0]
    if (step?.guest === undefined) throw new Error('the first step is no guest command')
    return { step, guest: step.guest }
  }

  describe(`${backend.name} examples shared by every backend`, () => {
    it.each(ttyRows)('TTY toggle, %s', (_label, op, stdinIsTTY, hasTty) => {
      expect(spelling.ttyWords(guestOf(op, spec, { ...host, stdinIsTTY }).guest.framing)).toStrictEqual(hasTty ? spelling.withTty : spelling.withoutTty)
    })

    it.each([
      ['with a prompt', spec, ['claude', '--append-system-prompt-file', spelling.promptPath, '-p', 'hi']],
      ['without a prompt', { ...spec, prompt: null }, ['claude', '-p', 'hi']],
    ] as const)('the prompt flag sits directly after the agent binary, %s', (_label, s, tail) => {
      expect(guestOf(agent(null, ['-p', 'hi']), s).guest.tail).toStrictEqual(tail)
    })

    it.each(envRows)('guest env and secrets go with every exec: %s', (_label, op) => {
      const { step, guest } = guestOf(op)
      expect(spelling.envWords.map((run) => containsRun(guest.framing, run))).toStrictEqual(spelling.envWords.map(() => true))
      expect(step.env.vars).toStrictEqual(spelling.processEnv)
    })

    it.each(userRows)('the user switch for %s comes before the agent, whatever its arguments say', (user, home) => {
      // claude refuses root unless the spec allows it.
      const { guest } = guestOf(agent(null, ['--', '-u', 'claude']), { ...spec, user, allowRoot: true })
      expect(spelling.userSwitch(guest.framing)).toStrictEqual(spelling.userSwitchFor(user, home))
      expect(guest.tail).toStrictEqual(['claude', '--append-system-prompt-file', spelling.promptPath, '--', '-u', 'claude'])
    })
  })
}
