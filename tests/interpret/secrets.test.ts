/**
 * Secrets, against stand-in smolvm and docker executables (tests/standins; not the real tools).
 * A secret's value lives in the host env only; bottle must hand it to the backend process through
 * that process's environment (docker `-e NAME`, smolvm `--secret-env NAME=NAME`) and never put it
 * in argv, stdin, its own output, or a plan. The stand-ins resolve those flags from their own env
 * as the real tools do, and the guest script writes what it received to a file: so the value is
 * shown to arrive, and the log shows how.
 */
import { fc, test } from '@fast-check/vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nastyString } from '../arbitraries.js'
import { type Invocation, type Sandbox, bottle, bottleProcess, launch, lines, sandbox, spawnRuns, standinBackends } from '../standins/harness.js'

/** Every string inside a value: argv words, stdin, env values, … */
const strings = (x: unknown): string[] =>
  typeof x === 'string' ? [x] : Array.isArray(x) ? x.flatMap(strings) : typeof x === 'object' && x !== null ? Object.values(x).flatMap(strings) : []

/** A record with the env entries that legitimately carry secrets taken out. */
const withoutEnv = (inv: Invocation, names: readonly string[]): unknown => ({
  ...inv,
  env: Object.fromEntries(Object.entries(inv.env).filter(([k]) => !names.includes(k))),
})

// A uuid first, so "the value is absent from X" is never true or false by accident (a value "a"
// is inside every argv); then the characters that break quoting and parsing.
const secretValueArb = fc.tuple(fc.uuid(), nastyString({ maxFragments: 6 })).map(([u, s]) => `${u}${s}`)

// Prefixed, so a generated name never collides with PATH, HOME or the stand-ins' own variables.
const secretsArb = fc
  .uniqueArray(fc.stringMatching(/^[A-Z0-9_]{1,8}$/).map((s) => `SECRET_${s}`), { minLength: 1, maxLength: 3 })
  .chain((names) => fc.tuple(fc.constant(names), fc.array(secretValueArb, { minLength: names.length, maxLength: names.length })))
  .map(([names, values]) => names.map((n, i) => [n, values[i] ?? ''] as const))

describe.each(standinBackends)('secrets against a stand-in %s', (backend) => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = sandbox()
    await launch(sb, backend)
  })
  afterAll(() => sb.dispose())

  test.prop([secretsArb], { numRuns: spawnRuns })(
    'reach the guest through the backend process env, and appear in no argv, stdin, output or plan',
    async (secrets) => {
      sb.clearLog()
      const names = secrets.map(([n]) => n)
      const values = secrets.map(([, v]) => v)
      const outFile = (n: string) => join(sb.root, `${n}.out`)
      const script = names.map((n) => `printf %s "$${n}" > '${outFile(n)}'`).join('; ')
      const args = ['exec', 'demo', script, '-b', backend, '--workdir', sb.workdir, '--network', 'open', '-e', 'PLAIN=visible', ...names.flatMap((n) => ['--secret', n])]
      const env = { ...sb.env, ...Object.fromEntries(secrets) }

      const r = await bottle(['run', ...args], env)
      expect(r.code).toBe(0)
      // The guest received each value exactly.
      for (const [n, v] of secrets) expect(readFileSync(outFile(n), 'utf8')).toBe(v)
      const log = sb.log()
      expect(log).toHaveLength(1)
      const inv = log[0] as Invocation
      // …through the backend process's environment…
      for (const [n, v] of secrets) expect(inv.env[n]).toBe(v)
      // …and nowhere else: not in argv, stdin, cwd or any other env entry.
      const elsewhere = strings(withoutEnv(inv, names))
      for (const v of values) expect(elsewhere.filter((s) => s.includes(v))).toEqual([])
      // bottle's own output says nothing of them, and neither does any rendering of the plan.
      for (const v of values) {
        expect(r.stdout + r.stderr).not.toContain(v)
        for (const format of ['text', 'json', 'sh'])
          expect((await bottle(['plan', ...args, '--format', format], env)).stdout).not.toContain(v)
      }
    },
  )
})

describe('a secret missing from the host env', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = sandbox()
    await launch(sb, 'docker')
    await launch(sb, 'smolvm')
  })
  afterAll(() => sb.dispose())

  it.each(standinBackends)('fails before the first step on %s: exit 2, one line naming it, nothing spawned', async (backend) => {
    const r = await bottle(
      ['run', 'exec', 'demo', 'true', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--secret', 'PRESENT', '--secret', 'ABSENT'],
      { ...sb.env, PRESENT: 'here' },
    )
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toEqual(['bottle: secret ABSENT not set in the host environment; nothing was run'])
    expect(sb.log()).toEqual([])
  })

  it('fails the same way in the built executable, and names every missing secret', async () => {
    const r = await bottleProcess(
      ['run', 'exec', 'demo', 'true', '-b', 'smolvm', '--workdir', sb.workdir, '--network', 'open', '--secret', 'ONE', '--secret', 'TWO'],
      sb.env,
    )
    expect(r.exitCode).toBe(2)
    expect(lines(r.stderr)).toEqual(['bottle: secrets ONE, TWO not set in the host environment; nothing was run'])
    expect(r.stdout).toBe('')
    expect(sb.log()).toEqual([])
  })

  it('counts an empty value as set: the secret exists, it is just empty', async () => {
    const r = await bottle(['run', 'exec', 'demo', '[ -z "$EMPTY" ]', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open', '--secret', 'EMPTY'], {
      ...sb.env,
      EMPTY: '',
    })
    expect(r.code).toBe(0)
    expect(sb.log()).toHaveLength(1)
  })
})
