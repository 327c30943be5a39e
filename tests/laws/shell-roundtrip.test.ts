/**
 * Invariant 3: the resume fallback's `sh -c` script, run by real dash and bash, calls the agent with
 * exactly the intended argv: first with `--continue`, then (because the stand-in fails) without.
 *
 * The stand-in agent on PATH records each call as NUL-terminated fields (the argument count,
 * then each argument) and exits 1, so both halves of `A || B` run.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import type { Backend } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { compile, continueFlag, promptFlag } from '../../src/compile.js'
import type { BottleSpec } from '../../src/spec/spec.js'
import { fitFor, fixedHost, nastyStringArb, specArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const stubDir = mkdtempSync(join(tmpdir(), 'bottle-shell-roundtrip-'))
afterAll(() => rmSync(stubDir, { recursive: true, force: true }))

/**
 * Agent names the spec accepts (src/spec/validate.ts) that are also shell reserved words: in
 * command position, unquoted, sh reads them as syntax (`if`, `case`) or a keyword (bash's `time`).
 */
const reservedAgentNames = ['time', 'if', 'case', 'while', 'select'] as const

// Absolute shebang: PATH holds only stubDir, and printf is a builtin in dash and bash.
for (const name of ['claude', ...reservedAgentNames]) {
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
  for (let i = 0; i < fields.length; ) {
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
  const tail = plan.right.steps[0]?.guest?.tail ?? []
  expect(tail.slice(0, 2)).toStrictEqual(['sh', '-c'])
  expect(tail).toHaveLength(3)
  const prompt = spec.prompt === null ? [] : [promptFlag, backend.promptPath(spec)]
  const expected = [[...prompt, continueFlag, ...args], [...prompt, ...args]]
  for (const shell of ['/usr/bin/dash', '/usr/bin/bash']) expect(callsUnder(shell, tail[2] ?? '')).toStrictEqual(expected)
}

describe.each(Object.values(backends).map((b) => [b.name, b] as const))('invariant 3 on %s', (_name, backend) => {
  test.prop([specArb, fc.array(nastyStringArb, { maxLength: 6 })], { numRuns: runs })(
    'the resume script reproduces the agent argv under dash and bash',
    (spec, args) => {
      resumeRoundTrips(backend, { ...spec, agent: 'claude' }, args)
    },
  )

  test.prop([specArb, fc.constantFrom(...reservedAgentNames), fc.array(nastyStringArb, { maxLength: 3 })], { numRuns: runs })(
    'the resume script runs an agent named like a shell reserved word',
    (spec, agent, args) => {
      resumeRoundTrips(backend, { ...spec, agent }, args)
    },
  )
})
