/**
 * The workdir's .git, read-only in the bottle (src/workspace-guard.ts): what is decided from what
 * the edge finds there, and, for every backend that binds the workdir, that the plan binds it
 * read-only after (inside) the workdir's own bind; bwrap in every sandbox, launch and later.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { posix } from 'node:path'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { type DotGit, gitGuard, gitdirOf } from '../../src/workspace-guard.js'
import type { Step } from '../../src/plan/types.js'
import { fitFor } from '../backends/kits.js'
import { scenarioArb, withOp } from '../arbitraries.js'

const w = '/src/app'
const guard = (dotGit: DotGit, dirsOnly: string | null = null) => gitGuard({ workdir: w, dotGit }, dirsOnly)

describe('gitGuard: what is bound read-only, or why launch is refused', () => {
  it.each<[string, DotGit, string[]]>([
    ['no .git: nothing to bind', { kind: 'missing' }, []],
    ['a git directory', { kind: 'dir' }, ['/src/app/.git']],
    ['a gitfile naming a directory elsewhere (a linked worktree)', { kind: 'file', gitdir: '/src/main/.git/worktrees/app', gitdirKind: 'dir' }, ['/src/app/.git']],
    ['a gitfile naming a directory inside its .git', { kind: 'file', gitdir: '/src/app/.git/x', gitdirKind: 'dir' }, ['/src/app/.git']],
    ['a gitfile naming a directory in the workdir: both', { kind: 'file', gitdir: '/src/app/gd', gitdirKind: 'dir' }, ['/src/app/.git', '/src/app/gd']],
    ['a file that names no git directory', { kind: 'file', gitdir: null, gitdirKind: 'missing' }, ['/src/app/.git']],
  ])('%s', (_, dotGit, paths) => {
    expect(guard(dotGit)).toStrictEqual({ _tag: 'guard', paths })
  })

  it.each<[string, DotGit, string | null, RegExp]>([
    ['a symlink', { kind: 'symlink' }, null, /^the workdir's \.git "\/src\/app\/\.git" is a symbolic link, which bottle will not bind read-only: set workspace: copy/],
    ['a FIFO', { kind: 'other' }, null, /is neither a file nor a directory/],
    ['a gitfile naming a symlink in the workdir', { kind: 'file', gitdir: '/src/app/gd', gitdirKind: 'symlink' }, null, /names the git directory "\/src\/app\/gd", which is not a plain directory/],
    ['a gitfile on smolvm', { kind: 'file', gitdir: '/elsewhere', gitdirKind: 'dir' }, 'smolvm', /is a file \(a linked worktree or a submodule\), and smolvm can bind only directories read-only/],
  ])('refused: %s', (_, dotGit, dirsOnly, reason) => {
    const g = guard(dotGit, dirsOnly)
    expect(g._tag).toBe('refused')
    expect(g._tag === 'refused' ? g.reason : '').toMatch(reason)
    expect(g._tag === 'refused' ? g.reason : '').not.toContain('\n')
  })

  it('gitdirOf reads the first line as git does, relative to the workdir', () => {
    expect(gitdirOf('gitdir: ../main/.git/worktrees/app\n', w)).toBe('/src/main/.git/worktrees/app')
    expect(gitdirOf('gitdir: /abs/dir\r\nmore\n', w)).toBe('/abs/dir')
    expect(gitdirOf('gitdir: gd', w)).toBe('/src/app/gd')
    expect(gitdirOf('not a gitfile\ngitdir: /x\n', w)).toBeNull()
    expect(gitdirOf('', w)).toBeNull()
  })
})

/** Every place a step's argv binds `path` read-only over itself, after the workdir's read-write bind. */
const bindsReadOnlyAfterWorkdir = (s: Step, workdir: string, path: string): boolean => {
  const a = s.argv
  const at = (i: number, ...xs: string[]) => xs.every((x, j) => a[i + j] === x)
  const workdirBind = a.findIndex((_, i) => at(i, '--bind', workdir, workdir) || at(i, '-v', `${workdir}:${workdir}`))
  if (workdirBind < 0) return false
  return a.some((_, i) => i > workdirBind && (at(i, '--ro-bind', path, path) || at(i, '-v', `${path}:${path}:ro`)))
}

/** The steps that make a sandbox or a container with the workdir in it. */
const mountsWorkdir = (s: Step, workdir: string): boolean =>
  s.argv.some((x, i) => (x === '--bind' && s.argv[i + 1] === workdir) || (x === '-v' && s.argv[i + 1] === `${workdir}:${workdir}`))

const binding = Object.values(backends).filter((b) => b.bindsWorkdir)

describe.each(binding.map((b) => [b.name, b] as const))('%s: the .git launch found is bound read-only', (name, backend) => {
  test.prop([scenarioArb])('launch: every step that mounts the workdir binds its .git read-only after it', (s0) => {
    const s = withOp(fitFor(name, s0), { _tag: 'launch' })
    const dotGit = posix.join(s.spec.workdir, '.git')
    const plan = compile(backend, s.spec, s.op, { ...s.host, gitGuard: [dotGit] })
    expect(E.isRight(plan)).toBe(true)
    if (E.isLeft(plan)) return
    const mounting = plan.right.steps.filter((st) => mountsWorkdir(st, s.spec.workdir))
    expect(mounting.length).toBeGreaterThan(0)
    for (const st of mounting) expect(bindsReadOnlyAfterWorkdir(st, s.spec.workdir, dotGit)).toBe(true)
    // And not without it: the bind comes from the guard, nothing else.
    const bare = compile(backend, s.spec, s.op, s.host)
    if (E.isRight(bare)) expect(JSON.stringify(bare.right.steps)).not.toContain(JSON.stringify(dotGit).slice(1, -1) + ':ro')
  })
})

describe('bwrap: every later sandbox binds what its launch recorded', () => {
  // exec: a sandbox of its own, no pty wrapper (whose shell string holds the framing as one word).
  test.prop([scenarioArb.filter((s) => s.op._tag === 'exec' || s.op._tag === 'cp' || s.op._tag === 'probe')])(
    'an op after launch binds the recorded paths read-only in each sandbox',
    (s0) => {
      const fitted = fitFor('bwrap', s0)
      const s = withOp(fitted, fitted.op)
      const paths = [posix.join(s.spec.workdir, '.git'), posix.join(s.spec.workdir, 'gd')]
      const bw = s.host.bwrap
      if (bw === null || bw.bottle === null) throw new Error('bwrap facts expected')
      const plan = compile(backends.bwrap, s.spec, s.op, { ...s.host, bwrap: { ...bw, bottle: { ...bw.bottle, gitGuard: paths } } })
      if (E.isLeft(plan)) throw new Error(plan.left.message)
      const mounting = plan.right.steps.filter((st) => mountsWorkdir(st, s.spec.workdir))
      expect(mounting.length).toBeGreaterThan(0)
      for (const st of mounting) for (const p of paths) expect(bindsReadOnlyAfterWorkdir(st, s.spec.workdir, p)).toBe(true)
    },
  )

  it('launch records the paths in the state directory, which no sandbox shows', () => {
    const s0 = fc.sample(scenarioArb, { numRuns: 1, seed: 7 })[0]
    if (s0 === undefined) throw new Error('no sample')
    const s = withOp(fitFor('bwrap', s0), { _tag: 'launch' })
    const plan = compile(backends.bwrap, s.spec, s.op, { ...s.host, gitGuard: ['/x/.git'] })
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const record = plan.right.steps.find((st) => st.title.startsWith('record the git paths'))
    expect(record?.stdin).toStrictEqual({ _tag: 'text', text: '["/x/.git"]\n' })
    expect(record?.argv.at(-1)).toBe(`${s.host.bwrap?.stateDir ?? ''}/${s.spec.name}/git-guard.json`)
  })
})
