/**
 * Interrupts during a launch, the way Terraform handles them, against stand-in smolvm and docker
 * executables (tests/standins; not the real tools), with the built executable (node
 * dist/bottle.js) as a real process. The stand-in sleeps in the chosen invocation
 * (STANDIN_SLEEP_AT); once the log shows it has started, the test signals bottle (its pid, as
 * `kill` does, or its whole process group, as a terminal's Ctrl-C or hangup does). bottle must
 * say so, let the step in flight finish (it runs in a process group of its own: the signal never
 * reaches it), undo what this run created, newest first, and exit 128+n. A second signal forces:
 * bottle stops and prints the command that removes what may be left.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/plan/types.js'
import { type Sandbox, bottleProcess, launch, lines, sandbox, until } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

const argvs = (): string[][] => sb.log().map((i) => [i.tool, ...i.argv])

/** How long the chosen invocation sleeps: the step in flight is left to finish, so keep it short. */
const sleepSeconds = 2

/**
 * Starts a launch whose invocation `sleepAt` sleeps, waits until that invocation is running, and
 * signals bottle: just its own pid (a `kill`), or its whole process group (a terminal's key).
 */
const interruptLaunch = async (
  backend: BackendName,
  sleepAt: number,
  signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP',
  target: 'bottle' | 'group',
  extraArgs: (sb: Sandbox) => string[] = () => [],
  when: 'before' | 'after' = 'before',
) => {
  sb = sandbox()
  const child = bottleProcess(
    ['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', ...extraArgs(sb)],
    { ...sb.env, STANDIN_SLEEP_AT: String(sleepAt), STANDIN_SLEEP_SECONDS: String(sleepSeconds), STANDIN_SLEEP_WHEN: when },
    { detached: target === 'group' },
  )
  await until(() => sb.log().some((i) => i.seq === sleepAt))
  const pid = child.pid
  if (pid === undefined) throw new Error('bottle did not start')
  process.kill(target === 'group' ? -pid : pid, signal)
  return { r: await child }
}

/** bottle's stderr holds only its progress, undo and own lines: no stack trace, no stray output. */
const onlyProgress = (stderr: string): boolean => lines(stderr).every((l) => /^(\[\d+\/\d+\] |undo: |bottle: )/.test(l))

/** Each invocation's argv, the create's cut to its first five words. */
const shortened = (): string[][] => argvs().map((a) => (a[2] === 'create' ? a.slice(0, 5) : a))

describe('an interrupted launch against a stand-in smolvm', () => {
  // The create's argv is long (labels, image, mounts): it is identified by its first five words.
  const create = ['smolvm', 'machine', 'create', '--name', 'demo']
  const start = ['smolvm', 'machine', 'start', '--name', 'demo']
  const stop = ['smolvm', 'machine', 'stop', '--name', 'demo']
  // The create's undo: this run's id looked for in the listing, then the delete.
  const ls = ['smolvm', 'machine', 'ls', '--json']
  const del = ['smolvm', 'machine', 'delete', '--name', 'demo', '-f']

  it('SIGINT to bottle during `machine start`: says so, lets start finish, stops and deletes the machine, exits 130', async () => {
    const { r } = await interruptLaunch('smolvm', 2, 'SIGINT', 'bottle')
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, ls, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(r.stderr).toContain('bottle: SIGINT: letting step 2/4 finish, then undoing what this run created')
    expect(r.stderr).toContain('bottle: undone: nothing this run created is left')
    expect(onlyProgress(r.stderr)).toBe(true)
  })

  it('Ctrl-C (SIGINT to the whole process group) during `machine start`: the step in flight never sees it, finishes, and is undone', async () => {
    const { r } = await interruptLaunch('smolvm', 2, 'SIGINT', 'group')
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, ls, del])
    expect(sb.live('smolvm')).toEqual([])
  })

  it('SIGHUP to the whole group (a closed terminal) during `machine create`: the create finishes and is undone, exit 129', async () => {
    const { r } = await interruptLaunch('smolvm', 1, 'SIGHUP', 'group')
    expect(r.exitCode).toBe(129)
    expect(shortened()).toEqual([create, ls, del])
    expect(sb.live('smolvm')).toEqual([])
  })

  it('SIGTERM during `machine create`: runs the create\'s own undo, exits 143', async () => {
    const { r } = await interruptLaunch('smolvm', 1, 'SIGTERM', 'bottle')
    expect(r.exitCode).toBe(143)
    expect(shortened()).toEqual([create, ls, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(r.stderr).not.toContain('undo step failed')
  })

  it('a second SIGINT while rolling back forces: the undo stops, and bottle prints the command that removes what is left', async () => {
    sb = sandbox()
    // Invocation 2 (start) and 3 (stop, the first undo) each sleep.
    const child = bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', sb.workdir, '--network', 'open', '--no-provision'], {
      ...sb.env,
      STANDIN_SLEEP_AT: '2,3',
      STANDIN_SLEEP_SECONDS: '5',
    })
    await until(() => sb.log().some((i) => i.seq === 2))
    process.kill(child.pid ?? 0, 'SIGINT')
    await until(() => sb.log().some((i) => i.seq === 3))
    process.kill(child.pid ?? 0, 'SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop])
    expect(r.stderr).toContain('bottle: SIGINT again: forcing')
    expect(lines(r.stderr)).toContain('bottle: to remove it: bottle run down demo -b smolvm')
    expect(sb.live('smolvm')).toEqual(['demo'])
  })

  it('with -q, an interrupted launch still undoes everything and prints nothing', async () => {
    const { r } = await interruptLaunch('smolvm', 2, 'SIGINT', 'bottle', () => ['-q'])
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, ls, del])
    expect(r.stderr).toBe('')
  })
})

describe('an interrupted launch against a stand-in docker', () => {
  /** The launch id the create of the run whose log starts at `from` carried. */
  const idOf = (from = 0): string => {
    const label = sb.log().slice(from).find((i) => i.argv[0] === 'create')?.argv.find((a) => a.startsWith('dev.bottle.launch-id='))
    if (label === undefined) throw new Error('no create with a launch id')
    return label.slice('dev.bottle.launch-id='.length)
  }

  it.each(['bottle', 'group'] as const)(
    'item 1: an interrupted second launch of an existing bottle (SIGINT to %s during its create) leaves the existing one, exit 130',
    async (target) => {
      sb = sandbox()
      await launch(sb, 'docker')
      // Without its launch record (an older bottle's), so that the second launch reaches docker.
      rmSync(join(sb.root, '.local', 'state', 'bottle', 'docker', 'demo', 'record.json'))
      const before = sb.log().length
      const child = bottleProcess(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open', '--no-provision'], {
        ...sb.env,
        STANDIN_SLEEP_AT: String(before + 1),
        STANDIN_SLEEP_SECONDS: '1',
      }, { detached: target === 'group' })
      await until(() => sb.log().some((i) => i.seq === before + 1))
      if (child.pid === undefined) throw new Error('bottle did not start')
      process.kill(target === 'bottle' ? child.pid : -child.pid, 'SIGINT')
      const r = await child
      expect(r.exitCode).toBe(130)
      // The create was refused (the name is taken): nothing of this run's exists, nothing is removed.
      expect(argvs().slice(before).map((a) => a.slice(0, 2))).toEqual([['docker', 'create']])
      expect(sb.live('docker')).toEqual(['demo'])
    },
  )

  it('item 1: a second launch whose create client exits 130 (interrupted, as docker does) while the name is taken leaves the existing bottle', async () => {
    sb = sandbox()
    await launch(sb, 'docker')
    // Without its launch record (an older bottle's), so that the second launch reaches docker.
    rmSync(join(sb.root, '.local', 'state', 'bottle', 'docker', 'demo', 'record.json'))
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open', '--no-provision'], { ...sb.env, STANDIN_LATE_AT: '1' })
    expect(r.exitCode).toBe(130)
    // The create may have made something (128+n), so its undo looked: for this run's id only.
    const looked = argvs().slice(1)
    expect(looked.length).toBeGreaterThan(0)
    expect(looked.every((a) => a[1] === 'ps')).toBe(true)
    expect(sb.live('docker')).toEqual(['demo'])
  }, 40_000)

  it('SIGINT during `docker create`: the create finishes, then the container carrying this run\'s id is removed by its engine id, exit 130', async () => {
    const { r } = await interruptLaunch('docker', 1, 'SIGINT', 'bottle')
    expect(r.exitCode).toBe(130)
    expect(argvs().map((a) => a.slice(0, 2))).toEqual([
      ['docker', 'create'],
      ['docker', 'ps'],
      ['docker', 'rm'],
    ])
    expect(argvs()[1]).toEqual(['docker', 'ps', '-aq', '--no-trunc', '--filter', 'name=^/?demo$', '--filter', `label=dev.bottle.launch-id=${idOf()}`])
    expect(argvs()[2]?.slice(0, 3)).toEqual(['docker', 'rm', '-f'])
    expect(argvs()[2]?.[3]).toMatch(/^[0-9a-f]{64}$/)
    expect(sb.live('docker')).toEqual([])
    expect(onlyProgress(r.stderr)).toBe(true)
  })

  it('Ctrl-C during the prompt copy (step 5 of 6): removes the container it had created, exits 130', async () => {
    const { r } = await interruptLaunch('docker', 5, 'SIGINT', 'group', (s) => ['--prompt', s.hostFile('prompt.md', 'hi\n')])
    expect(r.exitCode).toBe(130)
    expect(argvs().map((a) => a.slice(0, 2))).toEqual([
      ['docker', 'create'],
      ['docker', 'start'],
      ['docker', 'exec'],
      ['docker', 'exec'],
      ['docker', 'cp'],
      ['docker', 'ps'],
      ['docker', 'rm'],
    ])
    expect(sb.live('docker')).toEqual([])
  })

  it('item 2: a create whose client exits 130 while the engine finishes it later leaks nothing (engine polled for 10 s after bottle exits)', async () => {
    sb = sandbox()
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open', '--no-provision'], { ...sb.env, STANDIN_LATE_AT: '1' })
    expect(r.exitCode).toBe(130)
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      expect(sb.live('docker')).toEqual([])
      await new Promise((res) => setTimeout(res, 200))
    }
    // The undo looked until the engine had made it, then removed it by its id.
    expect(argvs().at(-1)?.slice(0, 3)).toEqual(['docker', 'rm', '-f'])
  }, 40_000)

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)(
    'item 2: %s to the whole group while the create\'s client is still running: no container is left (engine polled for 10 s)',
    async (signal) => {
      const { r } = await interruptLaunch('docker', 1, signal, 'group', () => [], 'after')
      expect(r.exitCode).toBe({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }[signal])
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        expect(sb.live('docker')).toEqual([])
        await new Promise((res) => setTimeout(res, 250))
      }
    },
    40_000,
  )
})

describe('an interrupted exec (the guest command) against a stand-in docker', () => {
  it('exits with the interrupted command\'s code, 130, and undoes nothing: exec created nothing', async () => {
    sb = sandbox()
    await launch(sb, 'docker')
    const child = bottleProcess(['run', 'exec', 'demo', 'sleep 10', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open'], sb.env)
    await until(() => sb.log().length === 1)
    process.kill(child.pid ?? 0, 'SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    // The command, then the step that stops it in the bottle (docker exec forwards no signal).
    expect(argvs().map((a) => a.slice(0, 2))).toEqual([['docker', 'exec'], ['docker', 'exec']])
    expect(sb.live('docker')).toEqual(['demo'])
  })
})
