/**
 * Launch refuses a workdir that would expose the host (src/workdir.ts), on every backend that
 * binds one: exit 2, one line, nothing run (the stand-in smolvm and docker log nothing; tests/standins,
 * not the real tools), nothing created (no state directory, no missing directory made). kubernetes
 * binds no host directory (launch makes the workdir, empty, in the Pod), so it takes any path.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, bottleProcess, lines, sandbox } from '../standins/harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = sandbox()
})
afterEach(() => sb.dispose())

/** The sandbox's HOME is its root; the state root is under it ($HOME/.local/state/bottle). */
const stateRoot = () => join(sb.root, '.local', 'state', 'bottle')

const refused = async (args: readonly string[], env: Record<string, string> = {}): Promise<string> => {
  const r = await bottle(args, { ...sb.env, ...env })
  expect(r.stdout).toBe('')
  expect(lines(r.stderr)).toHaveLength(1)
  expect(r.code).toBe(2)
  expect(sb.log()).toEqual([])
  expect(existsSync(stateRoot())).toBe(false)
  return r.stderr.trimEnd()
}

const binding = ['docker', 'podman', 'smolvm', 'bwrap'] as const

describe('launch refuses a workdir that would expose the host', () => {
  it.each(binding)('%s: the home, through --workdir, a trailing slash, `..` or a symlink', async (backend) => {
    const link = join(sb.workdir, 'to-home')
    symlinkSync(sb.root, link)
    for (const workdir of [sb.root, `${sb.root}/`, `${sb.workdir}/..`, link])
      expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', workdir])).toMatch(/^bottle: workdir ".*" (\(through symlinks ".*"\) )?is your home directory/)
  })

  it.each(binding)('%s: `/` and a directory above the home', async (backend) => {
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', '/'])).toContain('is the host\'s root directory')
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', join(sb.root, '..')])).toContain('holds your home directory')
  })

  it.each(binding)('%s: a directory holding the state root, or inside it', async (backend) => {
    const stateHome = join(sb.workdir, 'state')
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir], { XDG_STATE_HOME: stateHome })).toContain('holds bottle\'s state directory')
    const inside = join(sb.root, 'outside-state', 'bottle', 'docker')
    mkdirSync(inside, { recursive: true })
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', inside], { XDG_STATE_HOME: join(sb.root, 'outside-state') })).toContain('is inside bottle\'s state directory')
  })

  it.each(binding)('%s: a state root reached through a symlink into the workdir, not created yet', async (backend) => {
    // XDG_STATE_HOME names a path outside the workdir as written; resolved, it lands inside it.
    mkdirSync(join(sb.workdir, 'inner'))
    symlinkSync(join(sb.workdir, 'inner'), join(sb.root, 'state-link'))
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir], { XDG_STATE_HOME: join(sb.root, 'state-link', 'state') })).toContain(
      `holds bottle's state directory ${JSON.stringify(join(sb.workdir, 'inner', 'state', 'bottle'))}`,
    )
  })

  it.each(binding)('%s: a path that does not exist is refused and not created; a file is refused', async (backend) => {
    const missing = join(sb.workdir, 'not-yet')
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', missing])).toMatch(/^bottle: workdir ".*not-yet" does not exist/)
    expect(existsSync(missing)).toBe(false)
    const file = join(sb.workdir, 'a-file')
    writeFileSync(file, '')
    expect(await refused(['plan', 'launch', 'demo', '-b', backend, '--workdir', file])).toContain('is not a directory')
  })

  it('run launch from the home (`cd ~; bottle run launch x`), the built executable: nothing run, nothing created', async () => {
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'docker'], sb.env, { cwd: sb.root })
    expect(r.stderr).toBe(`bottle: workdir ${JSON.stringify(sb.root)} is your home directory: the agent could read and write all of it (~/.ssh, credentials); choose a project directory below it\n`)
    expect(r.exitCode).toBe(2)
    expect(sb.log()).toEqual([])
    expect(existsSync(stateRoot())).toBe(false)
  })

  it('CONTROL: a project directory below the home launches on the stand-in docker', async () => {
    const r = await bottle(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '-q', '--network', 'open'], sb.env)
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(sb.log().map((i) => i.argv[0])).toContain('create')
  })

  it('kubernetes binds no host directory, so a launch from the home plans (the Pod gets an empty workdir of that name)', async () => {
    const r = await bottle(['plan', 'launch', 'demo', '-b', 'kubernetes', '--workdir', sb.root, '--network', 'open'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('no host directory is shared with the cluster')
  })

  it('only launch checks: an op on a launched bottle runs with the recorded workdir, checked when it was launched', async () => {
    expect((await bottle(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '-q', '--network', 'open'], sb.env)).code).toBe(0)
    const r = await bottle(['plan', 'exec', 'demo', 'true', '-b', 'docker'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`-w ${sb.workdir}`)
  })
})
