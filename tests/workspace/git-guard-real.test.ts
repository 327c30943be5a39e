/**
 * The workdir's .git is read-only in a bottle, for real: on bwrap and on the real docker engine
 * and podman (tests/engines), a bottle that writes a hook, a `core.fsmonitor` and a `gitdir:` line
 * into the repository it is launched in, or swaps the `.git` for one of its own, fails to; and
 * `git` on the host afterwards (status, commit, checkout: the commands that run hooks and the
 * fsmonitor) runs nothing of the bottle's. The engines' test image has no git: the bottle writes
 * with plain sh, which is all an attacker needs. Skipped with the reason where a sandbox is missing.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { type EngineName, client, onEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

const git = (cwd: string, args: readonly string[]) =>
  spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } })

/** A repository with one commit, every file writable by every user (the engines' bottle user is uid 1000). */
const makeRepo = (dir: string): void => {
  mkdirSync(dir, { recursive: true })
  expect(git(dir, ['init', '-q', '-b', 'main']).status).toBe(0)
  writeFileSync(join(dir, 'README'), 'hello\n')
  expect(git(dir, ['add', 'README']).status).toBe(0)
  expect(git(dir, ['commit', '-q', '-m', 'init']).status).toBe(0)
  openUp(dir)
}

/** Every file and directory below `dir` writable by anyone: without the read-only bind, the bottle's writes would land. */
const openUp = (dir: string): void => {
  chmodSync(dir, 0o777)
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) chmodSync(join(e.parentPath, e.name), e.isDirectory() ? 0o777 : 0o666)
}

/**
 * What a hostile bottle does to the repository it is in (cwd: the workdir); MARK is a host path
 * that any of it, run on the host, would create. Each attempt reports whether it got through.
 */
const attack = (mark: string): string =>
  [
    `hook='#!/bin/sh\ntouch ${mark}\n'`,
    'for h in pre-commit post-commit post-checkout reference-transaction; do printf "$hook" > .git/hooks/$h 2>/dev/null && chmod +x .git/hooks/$h 2>/dev/null && echo "got-through=hook $h"; done',
    `printf '[core]\\n\\tfsmonitor = touch ${mark}\\n\\thooksPath = .githooks\\n' >> .git/config 2>/dev/null && echo got-through=config`,
    // Swapping the whole .git for one of the bottle's own.
    'mv .git .git-old 2>/dev/null && echo got-through=rename',
    'rm -rf .git 2>/dev/null; [ -d .git/objects ] || echo got-through=removed',
    // A hooksPath inside the working tree, in case the config line got through.
    `mkdir -p .githooks && printf "$hook" > .githooks/post-checkout && chmod +x .githooks/post-checkout`,
    'echo done=1',
  ].join('\n')

/** The same against a linked worktree, whose .git is a gitfile naming the main repository's git directory. */
const attackGitfile = (mark: string, evil: string): string =>
  [
    `mkdir -p ${evil}/hooks ${evil}/objects ${evil}/refs && printf 'ref: refs/heads/main\\n' > ${evil}/HEAD`,
    `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = touch ${mark}\\n' > ${evil}/config`,
    `printf 'gitdir: ${evil}\\n' > .git 2>/dev/null && echo got-through=gitfile`,
    'echo done=1',
  ].join('\n')

/** The host's git in the repository: the commands that run hooks and ask the fsmonitor. */
const hostGitRuns = (repo: string): void => {
  git(repo, ['status'])
  git(repo, ['commit', '-q', '--allow-empty', '-m', 'host'])
  git(repo, ['checkout', '-q', '-b', `b-${randomBytes(3).toString('hex')}`])
}

interface Where {
  readonly name: string
  readonly backend: 'bwrap' | EngineName
  readonly extra: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly cleanup: () => void
}

const suite = (where: Where): void => {
  const root = mkdtempSync(join(tmpdir(), `bottle-gitguard-${where.backend}-`))
  chmodSync(root, 0o755)
  const env = { ...(process.env as Record<string, string>), ...where.env, XDG_STATE_HOME: join(root, 'state') }
  const bottle = (cwd: string, args: readonly string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  afterAll(() => {
    where.cleanup()
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`the workdir's .git is read-only on ${where.backend}`, { timeout: 300_000 }, () => {
    it('a bottle writes no hook, config or git directory of its own into the repository, and host git runs nothing of it', () => {
      const repo = join(root, 'repo')
      makeRepo(repo)
      const mark = join(root, `pwned-${randomBytes(3).toString('hex')}`)
      const name = `${where.name}a`
      expect(bottle(repo, ['run', 'launch', name, '-b', where.backend, ...where.extra, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const r = bottle(repo, ['run', 'exec', name, attack(mark), '-b', where.backend, '-q'])
      expect(r.stdout).toContain('done=1')
      expect(r.stdout).not.toContain('got-through')
      // The working tree is still the bottle's to write.
      expect(existsSync(join(repo, '.githooks', 'post-checkout'))).toBe(true)
      hostGitRuns(repo)
      expect(existsSync(mark)).toBe(false)
      expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).not.toContain('fsmonitor')
      expect(bottle(repo, ['run', 'down', name, '-b', where.backend, '-q']).status).toBe(0)
    })

    it('a linked worktree: the gitfile cannot be pointed at a git directory the bottle made', () => {
      const main = join(root, 'main')
      makeRepo(main)
      const wt = join(root, 'wt')
      expect(git(main, ['worktree', 'add', '-q', wt]).status).toBe(0)
      openUp(wt)
      const mark = join(root, `pwned-${randomBytes(3).toString('hex')}`)
      const name = `${where.name}w`
      expect(bottle(wt, ['run', 'launch', name, '-b', where.backend, ...where.extra, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const r = bottle(wt, ['run', 'exec', name, attackGitfile(mark, join(wt, 'evil')), '-b', where.backend, '-q'])
      expect(r.stdout).toContain('done=1')
      expect(r.stdout).not.toContain('got-through')
      expect(readFileSync(join(wt, '.git'), 'utf8')).toBe(`gitdir: ${join(main, '.git', 'worktrees', 'wt')}\n`)
      hostGitRuns(wt)
      expect(existsSync(mark)).toBe(false)
      expect(bottle(wt, ['run', 'down', name, '-b', where.backend, '-q']).status).toBe(0)
    })
  })
}

const tag = randomBytes(3).toString('hex')

if (onPath('bwrap', process.env.PATH) || process.env.CI !== undefined)
  suite({ name: `gg-${tag}-`, backend: 'bwrap', extra: ['--network', 'open'], env: {}, cleanup: () => {} })
else it.skip('bwrap: skipped, not on PATH', () => {})

for (const engineName of ['docker', 'podman'] as const)
  onEngine(engineName, (found) => {
    const name = `bt-${tag}-gg${engineName[0] ?? ''}`
    suite({
      name,
      backend: engineName,
      extra: ['--image', found.image, '--network', 'open'],
      env: found.clientEnv,
      cleanup: () => void client(found, ['rm', '-f', `${name}a`, `${name}w`]),
    })
  })
