/**
 * `workspace: copy` through the CLI (dist/bottle.js): what the edge reads (the workdir's
 * repository, found upward as git finds it) reaches the plan, and bad input is one line on
 * stderr, exit 2, nothing run (no bottle state made): copy where the workdir is in no repository,
 * bind on kubernetes, an unknown mode in a flag or the manifest, a repository that is the home.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { copyScript } from '../../src/workspace.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-wscli-'))
const state = join(root, 'state')
const home = join(root, 'home')
const repo = join(root, 'repo')
const sub = join(repo, 'pkg')
const outside = join(root, 'outside')
for (const d of [home, sub, outside]) mkdirSync(d, { recursive: true })
spawnSync('git', ['init', '-q', '-b', 'main', repo])
writeFileSync(join(sub, 'file'), 'x\n')

afterAll(() => rmSync(root, { recursive: true, force: true }))

const bottle = (args: readonly string[], cwd: string, more: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: state, HOME: home, ...more },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

interface JsonPlan {
  readonly steps: readonly { readonly argv: readonly string[] }[]
  readonly notes: readonly { readonly _tag: string; readonly text?: string }[]
}
const planOf = (stdout: string): JsonPlan => JSON.parse(stdout) as JsonPlan
const builds = (p: JsonPlan) => p.steps.filter((s) => s.argv[2] === copyScript)

describe('the edge finds the repository the workdir is in', () => {
  it('from a subdirectory of the repository: the whole repository is copied (to the workdir)', () => {
    const r = bottle(['plan', 'launch', 'demo', '-b', 'docker', '--workspace', 'copy', '--format', 'json'], sub)
    expect(r.status).toBe(0)
    const [build] = builds(planOf(r.stdout))
    expect(build?.argv.slice(4)).toStrictEqual([repo, `${state}/bottle/docker/demo/workspace-copy`])
  })

  it('kubernetes copies by default; outside a repository it keeps the empty workdir, with a note', () => {
    const inRepo = bottle(['plan', 'launch', 'demo', '-b', 'kubernetes', '--format', 'json'], repo)
    expect(inRepo.status).toBe(0)
    expect(builds(planOf(inRepo.stdout))).toHaveLength(1)
    const away = bottle(['plan', 'launch', 'demo', '-b', 'kubernetes', '--format', 'json'], outside)
    expect(away.status).toBe(0)
    expect(builds(planOf(away.stdout))).toHaveLength(0)
    expect(planOf(away.stdout).notes.some((n) => n.text?.startsWith(`the workdir ${outside} is in no git repository on the host`))).toBe(true)
  })

  it('docker binds by default: no copy', () => {
    const r = bottle(['plan', 'launch', 'demo', '-b', 'docker', '--format', 'json'], repo)
    expect(r.status).toBe(0)
    expect(builds(planOf(r.stdout))).toHaveLength(0)
  })
})

describe('a repository with no commit yet, launched from a subdirectory, on bwrap', () => {
  it.skipIf(spawnSync('bwrap', ['--version']).status !== 0)('the files only, on the same unborn branch; fetch does not refuse the copied workdir', () => {
    const launched = bottle(['run', 'launch', 'unborn', '-b', 'bwrap', '--workspace', 'copy', '--network', 'open', '-q'], sub)
    expect([launched.status, launched.stderr]).toStrictEqual([0, ''])
    const seen = bottle(['run', 'exec', 'unborn', 'git symbolic-ref HEAD; git status --porcelain; pwd; ls -A', '-b', 'bwrap', '-q'], sub)
    // The whole repository lands at the workdir: its top is the workdir in the bottle.
    expect(seen).toMatchObject({ status: 0, stdout: `refs/heads/main\n?? pkg/\n${sub}\n.git\npkg\n` })
    // The host's pkg/ has no .git of its own: only a bound workdir is asked that.
    expect(bottle(['plan', 'fetch', 'unborn', '-b', 'bwrap'], sub).status).toBe(0)
    expect(bottle(['run', 'down', 'unborn', '-b', 'bwrap', '-q'], sub).status).toBe(0)
  })
})

describe('bad input: one line, exit 2, nothing run', () => {
  it.each<[string, readonly string[], string, RegExp]>([
    ['copy outside any repository', ['run', 'launch', 'demo', '-b', 'bwrap', '--workspace', 'copy'], outside,
      /^bottle: workspace: copy copies the git repository the workdir is in, and "[^"]+" is in none: run git init there, or leave workspace out\n$/],
    ['bind on kubernetes', ['run', 'launch', 'demo', '-b', 'kubernetes', '--workspace', 'bind'], repo,
      /^bottle: workspace: bind: kubernetes cannot bind a host directory; leave workspace out \(copy, its default\) or set workspace: copy\n$/],
    ['an unknown mode', ['run', 'launch', 'demo', '-b', 'bwrap', '--workspace', 'mount'], repo, /^bottle: .*--workspace.*"mount".*\n$/],
  ])('%s', (_, args, cwd, message) => {
    const r = bottle(args, cwd)
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trimEnd()).not.toContain('\n')
    expect(existsSync(join(state, 'bottle', 'bwrap', 'demo'))).toBe(false)
  })

  it('an unknown mode in the manifest names the file and key', () => {
    writeFileSync(join(outside, 'bottle.yaml'), 'bottles:\n  demo:\n    workspace: mount\n')
    const r = bottle(['run', 'launch', 'demo', '-b', 'bwrap'], outside)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: bottle\.yaml: bottles\.demo\.workspace: .*\n$/)
  })

  it('a repository that is the home (or holds it) is not copied', () => {
    spawnSync('git', ['init', '-q', home])
    const inHome = join(home, 'proj')
    mkdirSync(inHome)
    const r = bottle(['run', 'launch', 'demo', '-b', 'bwrap', '--workspace', 'copy'], inHome)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: workspace: copy would copy the repository "[^"]+", which is refused as a workdir would be: workdir "[^"]+" is your home directory/)
    expect(existsSync(join(state, 'bottle', 'bwrap', 'demo'))).toBe(false)
    rmSync(join(home, '.git'), { recursive: true, force: true })
  })
})
