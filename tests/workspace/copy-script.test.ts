/**
 * The host step that builds a `workspace: copy` (src/workspace.ts copyScript), run for real under
 * dash and bash with the host's git: what it builds from names git allows and shells and tar
 * could misread, and that a failure leaves no scratch directory behind while never removing one
 * that was there before it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { copyScript } from '../../src/workspace.js'

const root = mkdtempSync(join(tmpdir(), 'bottle-wsscript-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const git = (cwd: string, args: readonly string[]) =>
  spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', '-c', 'core.hooksPath=/dev/null', ...args], { cwd, encoding: 'utf8' })

const shells = ['dash', 'bash'].filter((sh) => spawnSync(sh, ['-c', 'true']).status === 0)

describe.each(shells)('under %s', (shell) => {
  const build = (repo: string, scratch: string) => spawnSync(shell, ['-c', copyScript, 'sh', repo, scratch], { encoding: 'utf8', cwd: root })

  it('file names that start with a dash, hold spaces, quotes or a newline are copied as files, not read as options', () => {
    const repo = join(root, `repo-${shell}`)
    mkdirSync(repo)
    expect(git(repo, ['init', '-q', '-b', 'main']).status).toBe(0)
    const names = ['--checkpoint=1', '--checkpoint-action=exec=touch PWNED', "it's \"here\"", 'new\nline', '-rf']
    for (const n of names) writeFileSync(join(repo, n), `${n}\n`)
    expect(git(repo, ['add', '--', ...names.slice(0, 2)]).status).toBe(0)
    expect(git(repo, ['commit', '-q', '-m', 'odd names']).status).toBe(0)
    const scratch = join(root, `scratch-${shell}`)
    const r = build(repo, scratch)
    expect([r.status, r.stderr]).toStrictEqual([0, ''])
    for (const n of names) expect(readFileSync(join(scratch, 'tree', n), 'utf8')).toBe(`${n}\n`)
    expect(existsSync(join(root, 'PWNED'))).toBe(false)
    expect(existsSync(join(repo, 'PWNED'))).toBe(false)
    expect(git(join(scratch, 'tree'), ['status', '--porcelain', '-z']).stdout.split('\0').filter(Boolean).sort()).toStrictEqual(
      names.slice(2).map((n) => `?? ${n}`).sort(),
    )
  })

  it('a build that fails removes the scratch directory it made, one line on stderr, exit 1', () => {
    const notRepo = join(root, `plain-${shell}`)
    mkdirSync(notRepo)
    const scratch = join(root, `failed-${shell}`)
    const r = build(notRepo, scratch)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^bottle: workspace: .* is not a git repository git can read: nothing is copied\n$/)
    expect(existsSync(scratch)).toBe(false)
  })

  it('a scratch directory that is there already is neither used nor removed', () => {
    const scratch = join(root, `there-${shell}`)
    mkdirSync(scratch)
    writeFileSync(join(scratch, 'keep'), 'mine\n')
    const r = build(join(root, `repo-${shell}`), scratch)
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(`bottle: workspace: cannot make the scratch directory ${scratch} (if a launch that was killed left it, remove it): nothing is copied\n`)
    expect(readdirSync(scratch)).toStrictEqual(['keep'])
  })
})
