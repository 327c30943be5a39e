/**
 * SIGINT/SIGTERM during a launch, against stand-in smolvm and docker executables (tests/standins;
 * not the real tools), with the built executable (node dist/bottle.js) as a real process. The
 * stand-in sleeps in the chosen invocation (STANDIN_SLEEP_AT); once the log shows it has started,
 * the test signals bottle, and bottle must stop, undo what it created (the interrupted step's
 * undo included when the signal ended it or it finished: an interrupted create may have created
 * something; not when it exited with an error of its own) and exit 128+n.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/plan/types.js'
import { type Sandbox, bottleProcess, launch, lines, sandbox, until } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

const argvs = (): string[][] => sb.log().map((i) => [i.tool, ...i.argv])

/**
 * Starts a launch whose invocation `sleepAt` hangs, waits until that invocation is running, and
 * signals bottle: just its own pid (a `kill`), or its whole process group (a terminal's Ctrl-C).
 */
const interruptLaunch = async (
  backend: BackendName,
  sleepAt: number,
  signal: 'SIGINT' | 'SIGTERM',
  target: 'bottle' | 'group',
  extraArgs: (sb: Sandbox) => string[] = () => [],
  when: 'before' | 'after' = 'before',
) => {
  sb = sandbox()
  const child = bottleProcess(
    ['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, ...extraArgs(sb)],
    { ...sb.env, STANDIN_SLEEP_AT: String(sleepAt), STANDIN_SLEEP_SECONDS: '30', STANDIN_SLEEP_WHEN: when },
    { detached: target === 'group' },
  )
  await until(() => sb.log().some((i) => i.seq === sleepAt))
  const pid = child.pid
  if (pid === undefined) throw new Error('bottle did not start')
  process.kill(target === 'group' ? -pid : pid, signal)
  const started = Date.now()
  const r = await child
  return { r, waited: Date.now() - started }
}

/** bottle's stderr holds only its progress and undo lines: no stack trace, no stray output. */
const onlyProgress = (stderr: string): boolean => lines(stderr).every((l) => /^(\[\d+\/\d+\] |undo: )/.test(l))

/** Each invocation's argv, the create's cut to its first five words. */
const shortened = (): string[][] => argvs().map((a) => (a[2] === 'create' ? a.slice(0, 5) : a))

describe('an interrupted launch against a stand-in smolvm', () => {
  // The create's argv is long (labels, image, mounts): it is identified by its first five words.
  const create = ['smolvm', 'machine', 'create', '--name', 'demo']
  const start = ['smolvm', 'machine', 'start', '--name', 'demo']
  const stop = ['smolvm', 'machine', 'stop', '--name', 'demo']
  const del = ['smolvm', 'machine', 'delete', '--name', 'demo', '-f']

  it('SIGINT to bottle during `machine start`: stops and deletes the machine, exits 130', async () => {
    const { r, waited } = await interruptLaunch('smolvm', 2, 'SIGINT', 'bottle')
    expect(r.exitCode).toBe(130)
    // The sleeping stand-in was ended by the forwarded signal, not by its 30 s running out.
    expect(waited).toBeLessThan(10_000)
    expect(shortened()).toEqual([create, start, stop, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(onlyProgress(r.stderr)).toBe(true)
  })

  it('Ctrl-C (SIGINT to the whole process group) during `machine start`: the same undo, exit 130', async () => {
    const { r } = await interruptLaunch('smolvm', 2, 'SIGINT', 'group')
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, del])
    expect(sb.live('smolvm')).toEqual([])
  })

  it('SIGTERM during `machine create`: runs the create\'s own undo, exits 143', async () => {
    const { r } = await interruptLaunch('smolvm', 1, 'SIGTERM', 'bottle')
    expect(r.exitCode).toBe(143)
    // Nothing after the interrupted step runs; its undo does (the machine was never made here,
    // so delete answers "vm not found", which the plan tolerates).
    expect(shortened()).toEqual([create, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(r.stderr).not.toContain('undo step failed')
  })

  it('SIGINT after `machine create` made the machine but before it exited: the machine is deleted', async () => {
    const { r } = await interruptLaunch('smolvm', 1, 'SIGINT', 'bottle', () => [], 'after')
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(r.stderr).not.toContain('undo step failed')
  })

  it('a second SIGINT while rolling back does not cut the rollback short', async () => {
    sb = sandbox()
    // Invocation 2 (start) and 3 (stop, the first undo) each sleep 2 s.
    const child = bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', sb.workdir], {
      ...sb.env,
      STANDIN_SLEEP_AT: '2,3',
      STANDIN_SLEEP_SECONDS: '2',
    })
    await until(() => sb.log().some((i) => i.seq === 2))
    process.kill(child.pid ?? 0, 'SIGINT')
    await until(() => sb.log().some((i) => i.seq === 3))
    process.kill(child.pid ?? 0, 'SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, del])
    expect(sb.live('smolvm')).toEqual([])
    expect(r.stderr).not.toContain('undo step failed')
  })

  it('with -q, an interrupted launch still undoes everything and prints nothing', async () => {
    const { r } = await interruptLaunch('smolvm', 2, 'SIGINT', 'bottle', () => ['-q'])
    expect(r.exitCode).toBe(130)
    expect(shortened()).toEqual([create, start, stop, del])
    expect(r.stderr).toBe('')
  })
})

describe('an interrupted launch against a stand-in docker', () => {
  it('SIGINT while `docker create` is refused because the name is taken: the existing bottle stays, exit 130', async () => {
    sb = sandbox()
    await launch(sb, 'docker')
    const before = sb.log().length
    // The create sleeps, SIGINT arrives, and the stand-in (which handles SIGINT) then exits 125
    // on its own: the name conflict. Its undo (`rm -f demo`) would remove the bottle it refused.
    const child = bottleProcess(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir], {
      ...sb.env,
      STANDIN_SLEEP_AT: String(before + 1),
      STANDIN_SLEEP_SECONDS: '1',
      STANDIN_IGNORE_SIGINT: '1',
    })
    await until(() => sb.log().some((i) => i.seq === before + 1))
    if (child.pid === undefined) throw new Error('bottle did not start')
    process.kill(child.pid, 'SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(argvs().slice(before).map((a) => a.slice(0, 2))).toEqual([['docker', 'create']])
    expect(sb.live('docker')).toEqual(['demo'])
  })

  it('SIGINT during `docker create`: removes the container, exits 130', async () => {
    const { r } = await interruptLaunch('docker', 1, 'SIGINT', 'bottle')
    expect(r.exitCode).toBe(130)
    expect(argvs().map((a) => a.slice(0, 2))).toEqual([
      ['docker', 'create'],
      ['docker', 'rm'],
    ])
    expect(argvs()[1]).toEqual(['docker', 'rm', '-f', 'demo'])
    expect(onlyProgress(r.stderr)).toBe(true)
  })

  it('SIGINT after `docker create` made the container but before it exited: the container is removed', async () => {
    const { r } = await interruptLaunch('docker', 1, 'SIGINT', 'bottle', () => [], 'after')
    expect(r.exitCode).toBe(130)
    expect(argvs()[1]).toEqual(['docker', 'rm', '-f', 'demo'])
    expect(sb.live('docker')).toEqual([])
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
      ['docker', 'rm'],
    ])
    expect(sb.live('docker')).toEqual([])
  })
})

describe('an interrupted exec (the guest command) against a stand-in docker', () => {
  it('exits with the interrupted command\'s code, 130, and undoes nothing: exec created nothing', async () => {
    sb = sandbox()
    await launch(sb, 'docker')
    const child = bottleProcess(['run', 'exec', 'demo', 'sleep 10', '-b', 'docker', '--workdir', sb.workdir], sb.env)
    await until(() => sb.log().length === 1)
    process.kill(child.pid ?? 0, 'SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    // The command, then the step that stops it in the bottle (docker exec forwards no signal).
    expect(argvs().map((a) => a.slice(0, 2))).toEqual([['docker', 'exec'], ['docker', 'exec']])
    expect(sb.live('docker')).toEqual(['demo'])
  })
})
