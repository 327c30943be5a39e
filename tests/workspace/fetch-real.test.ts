/**
 * `bottle run fetch` for real, with real git: on bwrap (the host's git in the sandbox) and on the
 * real docker engine and podman (the test image carries a copy of the host's git; skipped with the
 * reason when the engines' image has none). The stand-in agent is a guest exec: it makes a
 * repository in the workdir, commits, and plants hooks in its own .git. The commits come back as
 * the host branch bottle/NAME; more commits fast-forward it; a diverged host branch is refused
 * and left as it was; no hook runs on the host, neither the bottle's nor the host repository's own
 * (fetch turns hooks off); bad input is one line and exit 2, nothing run.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { type EngineName, client, imageHasGit, onEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

const git = (cwd: string, args: readonly string[]) =>
  spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' })

const commitAs = (msg: string) => `git -c user.email=agent@example.invalid -c user.name=agent commit -q --allow-empty -m '${msg}' && git rev-parse HEAD`

interface Where {
  readonly backend: 'bwrap' | EngineName
  readonly name: string
  readonly extra: readonly string[]
  readonly env: Readonly<Record<string, string>>
  /** The engines' bottle user is uid 1000, and git refuses a repository another user owns. */
  readonly owner: number | null
  readonly cleanup: () => void
}

const suite = (where: Where): void => {
  const root = mkdtempSync(join(tmpdir(), `bottle-fetch-${where.backend}-`))
  chmodSync(root, 0o755)
  const repo = join(root, 'repo')
  const work = join(root, 'work')
  const outside = join(root, 'outside')
  const hostMark = join(root, 'host-hook-ran')
  const bottleMark = join(root, 'bottle-hook-ran')
  const env = { ...(process.env as Record<string, string>), ...where.env, XDG_STATE_HOME: join(root, 'state') }
  const bottle = (args: readonly string[], cwd = repo) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const { name, backend } = where
  const branch = `bottle/${name}`
  const head = (ref: string) => git(repo, ['rev-parse', '--verify', '-q', ref]).stdout.trim()
  afterAll(() => {
    where.cleanup()
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`fetch on ${backend}`, { timeout: 300_000 }, () => {
    it('launch; fetch before the workdir is a repository, or from outside one, is refused with one line and exit 2', () => {
      mkdirSync(repo)
      mkdirSync(outside)
      expect(git(repo, ['init', '-q', '-b', 'main']).status).toBe(0)
      expect(git(repo, ['commit', '-q', '--allow-empty', '-m', 'host']).status).toBe(0)
      // The host repository's own hook: fetch runs with hooks off, so not even this one runs.
      writeFileSync(join(repo, '.git', 'hooks', 'reference-transaction'), `#!/bin/sh\ntouch ${hostMark}\n`, { mode: 0o755 })
      mkdirSync(work, { mode: 0o777 })
      chmodSync(work, 0o777)
      if (where.owner !== null) chownSync(work, where.owner, where.owner)
      expect(bottle(['run', 'launch', name, '-b', backend, '--workdir', work, ...where.extra, '-q'])).toMatchObject({ status: 0, stderr: '' })
      if (backend === 'bwrap') {
        const early = bottle(['run', 'fetch', name, '-b', backend, '-q'])
        expect(early).toMatchObject({ status: 2, stdout: '' })
        expect(early.stderr).toBe(`bottle: the workdir "${work}" of ${name} is not a git repository: there are no commits to fetch\n`)
      }
      const away = bottle(['run', 'fetch', name, '-b', backend, '-q'], outside)
      expect(away.status).toBe(2)
      expect(away.stderr).toMatch(/^bottle: fetch brings the bottle's commits into the git repository you are in, and "[^"]+" is in none: cd into the repository first\n$/)
      expect(head(branch)).toBe('')
    })

    it("the bottle's commit comes back as the host branch; a second fetch fast-forwards it; no hook runs on the host", () => {
      const made = bottle(['run', 'exec', name, [
        'set -e',
        'git init -q -b main',
        // The engines' image has git without its templates: no hooks directory yet.
        'mkdir -p .git/hooks',
        // The bottle's own hooks and config: a bundle carries none of them.
        `for h in reference-transaction post-merge post-checkout; do printf '#!/bin/sh\\ntouch ${bottleMark} 2>/dev/null\\nexit 0\\n' > .git/hooks/$h; chmod +x .git/hooks/$h; done`,
        `git config core.sshCommand 'touch ${bottleMark}'`,
        commitAs('one'),
      ].join('\n'), '-b', backend, '-q'])
      expect([made.status, made.stderr]).toStrictEqual([0, made.stderr])
      const first = made.stdout.trim()
      expect(first).toMatch(/^[0-9a-f]{40}$/)
      const fetched = bottle(['run', 'fetch', name, '-b', backend, '-q'])
      expect(fetched).toMatchObject({ status: 0 })
      expect(fetched.stderr).toBe(`bottle: fetch: ${branch} is at ${first}\n`)
      expect(head(branch)).toBe(first)
      const more = bottle(['run', 'exec', name, `${commitAs('two')}`, '-b', backend, '-q'])
      expect(more.status).toBe(0)
      const second = more.stdout.trim()
      expect(bottle(['run', 'fetch', name, '-b', backend, '-q']).status).toBe(0)
      expect(head(branch)).toBe(second)
      expect(git(repo, ['merge-base', '--is-ancestor', first, branch]).status).toBe(0)
      expect(existsSync(hostMark)).toBe(false)
      expect(existsSync(bottleMark)).toBe(false)
      // Nothing of the fetch is left: no scratch ref.
      expect(git(repo, ['for-each-ref', 'refs/bottle-fetch/']).stdout).toBe('')
    })

    it('a host branch with commits the bottle does not have is refused, one line, and left as it was', () => {
      // Hooks off here too: the host repository's own hook must not be what marks the host.
      expect(git(repo, ['-c', 'core.hooksPath=/dev/null', 'branch', '-f', branch, 'main']).status).toBe(0)
      const before = head(branch)
      const r = bottle(['run', 'fetch', name, '-b', backend, '-q'])
      expect(r.status).toBe(1)
      expect(r.stderr).toBe(`bottle: fetch: ${branch} has commits the bottle's HEAD does not contain: refused, nothing was changed (rename or delete the branch, then fetch again)\n`)
      expect(head(branch)).toBe(before)
      expect(git(repo, ['for-each-ref', 'refs/bottle-fetch/']).stdout).toBe('')
      expect(existsSync(hostMark)).toBe(false)
      expect(existsSync(bottleMark)).toBe(false)
      expect(bottle(['run', 'down', name, '-b', backend, '-q']).status).toBe(0)
    })
  })
}

const tag = randomBytes(3).toString('hex')

if (onPath('bwrap', process.env.PATH) || process.env.CI !== undefined)
  suite({ backend: 'bwrap', name: `fe-${tag}`, extra: ['--network', 'open'], env: {}, owner: null, cleanup: () => {} })
else it.skip('bwrap: skipped, not on PATH', () => {})

for (const engineName of ['docker', 'podman'] as const)
  onEngine(engineName, (found) => {
    const name = `bt-${tag}-fe${engineName[0] ?? ''}`
    suite({
      backend: engineName,
      name,
      extra: ['--image', found.image, '--network', 'open'],
      env: found.clientEnv,
      owner: 1000,
      cleanup: () => void client(found, ['rm', '-f', name]),
    })
  }, imageHasGit)
