/**
 * Invariant 3: the resume fallback's `sh -c` script, run by real dash and bash, calls the agent with
 * exactly the intended argv: first with the profile's continue words, then (because the stand-in
 * fails) without. For every profile: claude, codex, and custom ones whose command is any file name
 * (builtins like `test` and reserved words like `if` included) with hostile flags and words.
 *
 * The stand-in agent on PATH records each call as NUL-terminated fields (the argument count,
 * then each argument) and exits 1, so both halves of `A || B` run.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import type { Backend } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { customProfileArb, fixedHost, nastyStringArb, specArb } from '../arbitraries.js'
import { fitFor } from '../backends/kits.js'
import { runs } from '../runs.js'

const stubDir = mkdtempSync(join(tmpdir(), 'bottle-shell-roundtrip-'))
afterAll(() => rmSync(stubDir, { recursive: true, force: true }))

/**
 * Agent names that are also shell reserved words or builtins: in command position sh reads them
 * as syntax (`if`, `case`), a keyword (bash's `time`) or runs its own builtin (`test`, `echo`).
 */
const shellWordAgentNames = ['time', 'if', 'case', 'while', 'select', 'test', 'echo', 'exit', 'set', 'eval', '['] as const

/** Puts a stand-in named `name` on the stub PATH. Absolute shebang: PATH holds only stubDir. */
const stub = (name: string): void => {
  if (existsSync(join(stubDir, name))) return
  writeFileSync(
    join(stubDir, name),
    `#!/bin/sh
{ printf '%s\\0' "$#"; for a in "$@"; do printf '%s\\0' "$a"; done; } >>"$BOTTLE_STUB_LOG"
exit 1
`,
  )
  chmodSync(join(stubDir, name), 0o755)
}

/** Splits the log back into one argv per call. */
const callsIn = (log: string): string[][] => {
  const fields = log.split('\0').slice(0, -1)
  const calls: string[][] = []
  for (let i = 0; i < fields.length;) {
    const n = Number(fields[i])
    calls.push(fields.slice(i + 1, i + 1 + n))
    i += 1 + n
  }
  return calls
}

let runId = 0

/** Runs `sh -c SCRIPT` with the given shell and returns the stand-in's calls. */
const callsUnder = (shell: string, script: string): string[][] => {
  const log = join(stubDir, `calls-${runId++}`)
  writeFileSync(log, '')
  const result = spawnSync(shell, ['-c', script], {
    env: { PATH: stubDir, BOTTLE_STUB_LOG: log },
    // Node's pipes are socketpairs; bash with a socket on stdin thinks sshd started it and reads ~/.bashrc.
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // The stand-in fails both times, so the script's status is the fallback's: 1.
  expect({ status: result.status, stderr: result.stderr.toString() }).toStrictEqual({ status: 1, stderr: '' })
  return callsIn(readFileSync(log, 'utf8'))
}

/** Compiles resume on a backend and checks its script under both shells. */
const resumeRoundTrips = (backend: Backend, spec: BottleSpec, args: readonly string[]): void => {
  const op = { _tag: 'resume', args, tty: null } as const
  const fit = fitFor(backend.name, { spec, op, host: fixedHost(spec, op) })
  const plan = compile(backend, fit.spec, op, fit.host)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  const tail = plan.right.steps[plan.right.exitCodeFrom ?? -1]?.guest?.tail ?? []
  expect(tail.slice(0, 2)).toStrictEqual(['sh', '-c'])
  expect(tail).toHaveLength(3)
  stub(spec.agent.command)
  const { promptFlag, continueArgs } = spec.agent
  const prompt = spec.prompt === null || promptFlag === null ? [] : [promptFlag, backend.promptPath(spec)]
  const expected = [[...prompt, ...continueArgs, ...args], [...prompt, ...args]]
  for (const shell of ['/usr/bin/dash', '/usr/bin/bash']) expect(callsUnder(shell, tail[2] ?? '')).toStrictEqual(expected)
}

/**
 * The script is built by shared code (compile.ts resumeTail), and the cross-backend law shows each
 * backend runs the same tail; so each run picks a backend rather than repeating every shell pair
 * on every backend, which would triple the time for no new case.
 */
const backendArb = fc.constantFrom(...Object.values(backends))

describe('invariant 3: the resume script under dash and bash', () => {
  test.prop([backendArb, specArb, fc.array(nastyStringArb, { maxLength: 6 })], { numRuns: runs })(
    'claude',
    (backend, spec, args) => {
      resumeRoundTrips(backend, { ...spec, agent: agentProfiles.claude, allowRoot: true }, args)
    },
  )

  test.prop([backendArb, specArb, fc.array(nastyStringArb, { maxLength: 3 })], { numRuns: Math.ceil(runs / 4) })(
    'codex',
    (backend, spec, args) => {
      // codex takes no prompt file (a compile error, tested as an example).
      resumeRoundTrips(backend, { ...spec, agent: agentProfiles.codex, prompt: null }, args)
    },
  )

  test.prop([backendArb, specArb, customProfileArb({ slash: false }), fc.array(nastyStringArb, { maxLength: 3 })], { numRuns: runs })(
    'custom profiles with hostile commands, prompt flags and continue words',
    (backend, spec, agent, args) => {
      // A spec with a prompt but a profile without a flag is a compile error: drop the prompt then.
      resumeRoundTrips(backend, { ...spec, agent, prompt: agent.promptFlag === null ? null : spec.prompt, allowRoot: true }, args)
    },
  )

  test.prop([backendArb, specArb, fc.constantFrom(...shellWordAgentNames), fc.array(nastyStringArb, { maxLength: 3 })], { numRuns: Math.ceil(runs / 4) })(
    'an agent named like a shell reserved word or builtin',
    (backend, spec, command, args) => {
      resumeRoundTrips(backend, { ...spec, agent: { ...agentProfiles.claude, name: 'custom', command, rootEnv: [] }, allowRoot: true }, args)
    },
  )
})
