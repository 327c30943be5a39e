/**
 * `workspace: copy` for real, with real git: on bwrap (the host's git) and on the real docker
 * engine and podman (the test image carries git; skipped with the reason when it has none). A host
 * repository with a committed file, a modified one, a deleted one, an untracked one, an ignored
 * one and a symlink is launched with the copy: in the bottle, `git log`, `git status` and the
 * files are exactly the user's state, owned by the bottle's user; the repository's config has no
 * remote, credential helper or include, and no hooks (not even the user's init.templateDir's); no
 * hook of the host repository runs; a write in the bottle does not reach the host. A commit in
 * the bottle comes back with fetch as bottle/NAME, whose parent is the user's HEAD. On bwrap,
 * fetch with a small --max-bundle refuses the bundle, one line, nothing fetched or left behind.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { type EngineName, client, imageHasGit, onEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

/** The test's own git on the host, hooks off: a hook that runs is then one a bottle step ran. */
const git = (cwd: string, args: readonly string[]) =>
  spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', '-c', 'core.hooksPath=/dev/null', ...args], { cwd, encoding: 'utf8' })

interface Where {
  readonly backend: 'bwrap' | EngineName
  readonly name: string
  readonly extra: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly cleanup: () => void
}

const suite = (where: Where): void => {
  const root = mkdtempSync(join(tmpdir(), `bottle-wscopy-${where.backend}-`))
  chmodSync(root, 0o755)
  const repo = join(root, 'repo')
  const hostMark = join(root, 'host-hook-ran')
  const template = join(root, 'template')
  const scratch = join(root, 'tmp')
  // The user's own global config (git reads $XDG_CONFIG_HOME/git/config too) names a template
  // with a hook: the bottle's repository must not get it.
  const globalConfig = join(root, 'xdg', 'git', 'config')
  const env = {
    ...(process.env as Record<string, string>), ...where.env,
    XDG_STATE_HOME: join(root, 'state'), XDG_CONFIG_HOME: join(root, 'xdg'), TMPDIR: scratch,
  }
  const bottle = (args: readonly string[], cwd = repo) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const inBottle = (script: string) => bottle(['run', 'exec', where.name, script, '-b', where.backend, '-q'])
  const { name, backend } = where
  let userHead = ''
  afterAll(() => {
    where.cleanup()
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`workspace: copy on ${backend}`, { timeout: 300_000 }, () => {
    it('launch copies HEAD and the uncommitted work; git in the bottle sees exactly the user\'s state', () => {
      mkdirSync(scratch)
      mkdirSync(join(template, 'hooks'), { recursive: true })
      writeFileSync(join(template, 'hooks', 'post-checkout'), `#!/bin/sh\ntouch ${hostMark}\n`, { mode: 0o755 })
      mkdirSync(join(root, 'xdg', 'git'), { recursive: true })
      writeFileSync(globalConfig, `[init]\n\ttemplateDir = ${template}\n`)
      mkdirSync(repo)
      expect(git(repo, ['init', '-q', '--template=', '-b', 'work']).status).toBe(0)
      writeFileSync(join(repo, 'committed'), 'as committed\n')
      writeFileSync(join(repo, 'modified'), 'before\n')
      writeFileSync(join(repo, 'deleted'), 'going\n')
      writeFileSync(join(repo, '.gitignore'), '*.log\n')
      symlinkSync('committed', join(repo, 'link'))
      expect(git(repo, ['add', '-A']).status).toBe(0)
      expect(git(repo, ['commit', '-q', '-m', 'host commit']).status).toBe(0)
      userHead = git(repo, ['rev-parse', 'HEAD']).stdout.trim()
      writeFileSync(join(repo, 'modified'), 'after\n')
      unlinkSync(join(repo, 'deleted'))
      writeFileSync(join(repo, 'untracked'), 'new\n')
      writeFileSync(join(repo, 'ignored.log'), 'secret-ish\n')
      // What must stay on the host: remotes, credential helpers, includes, hooks.
      expect(git(repo, ['remote', 'add', 'origin', 'https://example.invalid/repo.git']).status).toBe(0)
      expect(git(repo, ['config', 'credential.helper', 'store']).status).toBe(0)
      expect(git(repo, ['config', 'include.path', join(root, 'included')]).status).toBe(0)
      mkdirSync(join(repo, '.git', 'hooks'))
      for (const h of ['reference-transaction', 'post-checkout', 'post-index-change'])
        writeFileSync(join(repo, '.git', 'hooks', h), `#!/bin/sh\ntouch ${hostMark}\n`, { mode: 0o755 })

      const launched = bottle(['run', 'launch', name, '-b', backend, '--workspace', 'copy', ...where.extra, '-q'])
      expect([launched.status, launched.stderr]).toStrictEqual([0, ''])
      const seen = inBottle([
        'set -e',
        'git log --format=%H:%s',
        'echo --',
        'git symbolic-ref HEAD',
        'echo --',
        'git status --porcelain',
        'echo --',
        'cat committed modified untracked; readlink link',
        'echo --',
        'ls -A',
        'echo --',
        // Owned by the bottle's user, every file and the workdir itself.
        'find . -path ./.git -prune -o ! -user "$(id -u)" -print',
        'echo --',
        'cat .git/config',
        'echo --',
        'ls -A .git',
      ].join('\n'))
      expect([seen.status, seen.stderr]).toStrictEqual([0, ''])
      const [log, head, status, files, listing, notMine, config, dotGit] = seen.stdout.split('--\n').map((p) => p.replace(/\n$/, ''))
      expect(log).toBe(`${userHead}:host commit`)
      expect(head).toBe('refs/heads/work')
      expect(status?.split('\n')).toStrictEqual([' D deleted', ' M modified', '?? untracked'])
      expect(files).toBe('as committed\nafter\nnew\ncommitted')
      expect(listing?.split('\n').sort()).toStrictEqual(['.git', '.gitignore', 'committed', 'link', 'modified', 'untracked'])
      expect(notMine).toBe('')
      expect(config).not.toMatch(/remote|credential|include|example\.invalid/)
      expect(dotGit?.split('\n')).not.toContain('hooks')
      expect(existsSync(hostMark)).toBe(false)
      // Nothing of the scratch copy is left on the host.
      expect(readdirSync(join(root, 'state', 'bottle', backend, name))).not.toContain('workspace-copy')
    })

    it('the host repository is not bound: a write in the bottle stays there', () => {
      const wrote = inBottle('echo from-the-bottle > modified && rm committed && echo x > planted && git add -A && mkdir -p .git/hooks && printf "#!/bin/sh\\ntouch ' + hostMark + '\\n" > .git/hooks/post-checkout')
      expect([wrote.status, wrote.stderr]).toStrictEqual([0, ''])
      expect(readFileSync(join(repo, 'modified'), 'utf8')).toBe('after\n')
      expect(existsSync(join(repo, 'committed'))).toBe(true)
      expect(existsSync(join(repo, 'planted'))).toBe(false)
      expect(git(repo, ['status', '--porcelain']).stdout.split('\n').filter(Boolean)).toStrictEqual([' D deleted', ' M modified', '?? untracked'])
      expect(existsSync(hostMark)).toBe(false)
    })

    it('a commit in the bottle comes back as bottle/NAME, whose parent is the user\'s HEAD', () => {
      const made = inBottle('git -c user.email=agent@example.invalid -c user.name=agent commit -q -m agent && git rev-parse HEAD')
      expect([made.status, made.stderr]).toStrictEqual([0, ''])
      const commit = made.stdout.trim()
      if (backend === 'bwrap') {
        // The cap: a bundle larger than it is refused, one line; nothing fetched, nothing left in TMPDIR.
        const capped = bottle(['run', 'fetch', name, '-b', backend, '--max-bundle', '100', '-q'])
        expect(capped).toMatchObject({ status: 1, stdout: '' })
        expect(capped.stderr).toBe('bottle: fetch: the bundle from the bottle is larger than 100 bytes (--max-bundle): nothing was fetched\n')
        expect(git(repo, ['rev-parse', '--verify', '-q', `bottle/${name}`]).stdout).toBe('')
        expect(readdirSync(scratch)).toStrictEqual([])
      }
      const fetched = bottle(['run', 'fetch', name, '-b', backend, '-q'])
      expect(fetched).toMatchObject({ status: 0, stderr: `bottle: fetch: bottle/${name} is at ${commit}\n` })
      expect(git(repo, ['rev-parse', `bottle/${name}^`]).stdout.trim()).toBe(userHead)
      expect(git(repo, ['show', '--format=', '--name-status', `bottle/${name}`]).stdout.trim().split('\n')).toStrictEqual(['D\tcommitted', 'D\tdeleted', 'M\tmodified', 'A\tplanted', 'A\tuntracked'])
      expect(existsSync(hostMark)).toBe(false)
      expect(bottle(['run', 'down', name, '-b', backend, '-q']).status).toBe(0)
    })
  })
}

const tag = randomBytes(3).toString('hex')

if (onPath('bwrap', process.env.PATH) || process.env.CI !== undefined)
  suite({ backend: 'bwrap', name: `wc-${tag}`, extra: ['--network', 'open'], env: {}, cleanup: () => {} })
else it.skip('bwrap: skipped, not on PATH', () => {})

for (const engineName of ['docker', 'podman'] as const)
  onEngine(engineName, (found) => {
    const name = `bt-${tag}-wc${engineName[0] ?? ''}`
    suite({
      backend: engineName,
      name,
      // The test image has no npm registry to reach: nothing to install (provision is tested elsewhere).
      extra: ['--image', found.image, '--network', 'open', '--no-provision'],
      env: found.clientEnv,
      cleanup: () => void client(found, ['rm', '-f', name]),
    })
  }, imageHasGit)
