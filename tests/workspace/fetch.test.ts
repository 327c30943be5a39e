/**
 * fetch's plan on every backend (stand-ins for smolvm and kubernetes: the plan is all there is to
 * check here): one host step that runs the backend's own exec of `git bundle create - HEAD` in the
 * workdir as the bottle's user, decoded back by each backend's independent decoder, and hands the
 * bundle to fetchScript with the host repository and bottle/NAME; and the refusals, each one line.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { branchProblem, defaultMaxBundle, fetchScript } from '../../src/fetch.js'
import { show } from '../../src/plan/errors.js'
import { kits, fitFor } from '../backends/kits.js'
import { scenarioArb, withOp } from '../arbitraries.js'

const repoArb = fc.constantFrom('/src/app', '/home/me/repo', "/tmp/it's here")

describe.each(Object.values(backends).map((b) => [b.name, b] as const))('%s: the fetch plan', (name, backend) => {
  test.prop([scenarioArb, repoArb])('one host step: the bundle made in the workdir as the bottle user, fetched into the host repository as bottle/NAME', (s0, repo) => {
    const s = withOp(fitFor(name, s0), { _tag: 'fetch', maxBundle: null })
    const host = { ...s.host, fetch: { hostRepo: repo, workdirIsRepo: backend.bindsWorkdir ? true : null } }
    const bad = branchProblem(s.spec.name)
    const plan = compile(backend, s.spec, s.op, host)
    if (bad !== null) {
      expect(plan).toStrictEqual(E.left({ _tag: 'CompileError', message: bad }))
      return
    }
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const step = plan.right.steps.at(-1)
    if (step === undefined) throw new Error('no step')
    expect(plan.right.exitCodeFrom).toBe(plan.right.steps.length - 1)
    expect(step.argv.slice(0, 9)).toStrictEqual(['/bin/sh', '-c', fetchScript, 'sh', repo, `bottle/${s.spec.name}`, `refs/bottle-fetch/${s.spec.name}`, host.tmpdir, String(defaultMaxBundle)])
    // The rest is the backend's exec, read back by its own decoder.
    const launch = compile(backend, s.spec, { _tag: 'launch' }, withOp(s, { _tag: 'launch' }).host)
    if (E.isLeft(launch)) throw new Error(launch.left.message)
    const intent = kits[name].decode({ ...step, argv: step.argv.slice(9) }, { host, launch: launch.right })
    expect(intent).toMatchObject({ user: s.spec.user, cwd: s.spec.workdir, argv: ['git', 'bundle', 'create', '-', 'HEAD'], tty: false })
    expect(intent.secrets).toStrictEqual(name === 'kubernetes' ? intent.secrets : [])
  })
})

describe('fetch refuses, one line, before anything runs', () => {
  const s0 = fc.sample(scenarioArb, { numRuns: 1, seed: 11 })[0]
  if (s0 === undefined) throw new Error('no sample')
  const s = withOp(fitFor('docker', { ...s0, spec: { ...s0.spec, name: 'demo' } }), { _tag: 'fetch', maxBundle: null })
  it('outside a git repository', () => {
    const plan = compile(backends.docker, s.spec, s.op, { ...s.host, cwd: '/elsewhere', fetch: { hostRepo: null, workdirIsRepo: true } })
    expect(plan).toStrictEqual(E.left({ _tag: 'CompileError', message: `fetch brings the bottle's commits into the git repository you are in, and "/elsewhere" is in none: cd into the repository first` }))
  })
  it('from a bound workdir that is no repository', () => {
    const plan = compile(backends.docker, s.spec, s.op, { ...s.host, fetch: { hostRepo: '/src', workdirIsRepo: false } })
    expect(plan).toStrictEqual(E.left({ _tag: 'CompileError', message: `the workdir ${show(s.spec.workdir)} of demo is not a git repository: there are no commits to fetch` }))
  })
  it.each(['0', '2x', '1.5g', '-1', ''])('a --max-bundle that is not a positive size: %s', (max) => {
    const plan = compile(backends.docker, s.spec, { _tag: 'fetch', maxBundle: max }, { ...s.host, fetch: { hostRepo: '/src', workdirIsRepo: true } })
    expect(plan).toStrictEqual(E.left({ _tag: 'CompileError', message: `--max-bundle ${show(max)} must be a positive whole number of bytes or of a unit b, k, m, g or t (powers of 1024), such as 512m or 2g` }))
  })
  it.each<[string | null, number]>([[null, 2 * 1024 ** 3], ['100', 100], ['64m', 64 * 1024 ** 2]])('the cap the script is given: %s', (max, bytes) => {
    const plan = compile(backends.docker, s.spec, { _tag: 'fetch', maxBundle: max }, { ...s.host, fetch: { hostRepo: '/src', workdirIsRepo: true } })
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    expect(plan.right.steps.at(-1)?.argv[8]).toBe(String(bytes))
  })
  it('with workspace: copy the workdir is the bottle\'s own: not asked about on the host, not refused', () => {
    const plan = compile(backends.docker, { ...s.spec, workspace: 'copy' }, s.op, { ...s.host, fetch: { hostRepo: '/src', workdirIsRepo: null } })
    expect(E.isRight(plan)).toBe(true)
  })
  it.each(['a..b', '.x', 'x.lock', 'x.'])('a bottle name git takes for no branch: %s', (bottleName) => {
    expect(branchProblem(bottleName)).toMatch(/^bottle name "[^"]+" does not make a git branch name/)
  })
  it.each(['demo', 'a.b', 'a-b_c', 'x1'])('a name it takes: %s', (bottleName) => {
    expect(branchProblem(bottleName)).toBeNull()
  })
})
