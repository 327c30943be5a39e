/**
 * Rollback after a failed launch step, against stand-in smolvm and docker executables
 * (tests/standins; not the real tools). The stand-in fails invocation k on request
 * (STANDIN_FAIL_AT) before changing anything, so after a failure at step k exactly steps 1…k-1
 * have created something, and bottle must undo exactly those, newest first (invariant 8 in docs/invariants.md).
 */
import { existsSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/plan/types.js'
import * as E from 'fp-ts/lib/Either.js'
import { specHashLabel } from '../../src/backends/backend.js'
import { userCheckScript } from '../../src/backends/docker.js'
import { recordOf, specHash } from '../../src/bottle-spec/record.js'
import { resolveSpec } from '../../src/bottle-spec/spec.js'
import { type Invocation, type Sandbox, bottle, launch, sandbox } from '../standins/harness.js'

/**
 * The drift label: computed by src/bottle-spec/record.ts (tested on its own in tests/bottle-spec), the one
 * part of the create argv not spelled out by hand below.
 */
const driftLabels = (workdir: string, prompt: string | null): string[] => {
  const spec = resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: { workdir, network: { mode: 'open' }, provision: { run: false }, ...(prompt === null ? {} : { prompt }) }, cwd: workdir })
  if (E.isLeft(spec)) throw new Error(spec.left.message)
  const record = recordOf(spec.right, 'node:22')
  return ['--label', `${specHashLabel}=${specHash(record)}`]
}

/**
 * What each launch step (with a prompt file) runs, and the command that undoes it, written out by
 * hand from docs/backend-facts.md and the tools' docs rather than read back from a plan: the test then says
 * what bottle must run, not merely that it ran what it planned.
 */
const launchSteps = (backend: BackendName, workdir: string, prompt: string | null, id: string): { argv: string[]; undo: string[][] | null }[] =>
  backend === 'smolvm'
    ? [
      {
        argv: ['machine', 'create', '--name', 'demo', '--label', 'dev.bottle.managed=true', '--label', 'dev.bottle.name=demo', ...driftLabels(workdir, prompt), '--label', `dev.bottle.launch-id=${id}`, '--image', 'node:22', '-v', `${workdir}:${workdir}`, '-w', workdir],
        // No label filter: the listing is searched for this run's id, then the machine deleted.
        undo: [['machine', 'ls', '--json'], ['machine', 'delete', '--name', 'demo', '-f']],
      },
      { argv: ['machine', 'start', '--name', 'demo'], undo: [['machine', 'stop', '--name', 'demo']] },
      // The image must have the user: `runuser -u USER` looks it up only when a command runs.
      { argv: ['machine', 'exec', '--name', 'demo', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', '--', 'runuser', '-u', 'root', '--', '/bin/sh', '-c', userCheckScript, 'sh', 'node'], undo: null },
      { argv: ['machine', 'exec', '--name', 'demo', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', '--', 'runuser', '-u', 'root', '--', 'mkdir', '-p', '--', '/opt/bottle'], undo: null },
      { argv: ['machine', 'cp', prompt ?? '', 'demo:/opt/bottle/system-prompt.md'], undo: null },
      { argv: ['machine', 'exec', '--name', 'demo', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', '--', 'runuser', '-u', 'root', '--', 'chown', '-R', '--', 'node', '/opt/bottle/system-prompt.md'], undo: null },
    ]
    : [
      {
        argv: ['create', '--name', 'demo', '--label', 'dev.bottle.managed=true', '--label', 'dev.bottle.name=demo', ...driftLabels(workdir, prompt), '--label', `dev.bottle.launch-id=${id}`, '--init', '-v', `${workdir}:${workdir}`, '-w', workdir, '--entrypoint', 'sleep', 'node:22', 'infinity'],
        // Listed by name and this run's id, removed by the engine's own id.
        undo: [
          ['ps', '-aq', '--no-trunc', '--filter', 'name=^/?demo$', '--filter', `label=dev.bottle.launch-id=${id}`],
          ['rm', '-f', expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string],
        ],
      },
      { argv: ['start', 'demo'], undo: null },
      // The image must have the user: the engine looks `-u USER` up only when a command runs.
      { argv: ['exec', '-u', 'root', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', 'demo', '/bin/sh', '-c', userCheckScript, 'sh', 'node'], undo: null },
      { argv: ['exec', '-u', 'root', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', 'demo', 'mkdir', '-p', '--', '/opt/bottle'], undo: null },
      { argv: ['cp', prompt ?? '', 'demo:/opt/bottle/system-prompt.md'], undo: null },
      { argv: ['exec', '-u', 'root', '-e', 'HOME=/root', '-e', 'USER=root', '-w', '/', 'demo', 'chown', '-R', '--', 'node', '/opt/bottle/system-prompt.md'], undo: null },
    ]

const argvs = (log: readonly Invocation[]): string[][] => log.map((i) => [i.tool, ...i.argv])

/** The launch id the run's create carried (the interpreter made it): the label's value. */
const launchIdIn = (log: readonly Invocation[]): string => {
  const label = log[0]?.argv.find((a) => a.startsWith('dev.bottle.launch-id='))
  if (label === undefined) throw new Error('the create carries no launch id label')
  return label.slice('dev.bottle.launch-id='.length)
}

let sb: Sandbox
afterEach(() => sb.dispose())

const launchWithPrompt = (backend: BackendName, extraEnv: Record<string, string> = {}, flags: string[] = []) => {
  const prompt = sb.hostFile('prompt.md', 'be careful\n')
  return {
    prompt,
    run: bottle(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--prompt', prompt, ...flags], { ...sb.env, ...extraEnv }),
  }
}

describe.each(['smolvm', 'docker'] as const)('a launch that fails, against a stand-in %s', (backend) => {
  // The plan's steps: the stand-in's, with the launch record written (by /bin/sh, which the
  // stand-in log does not see) after the create steps (the user check is one of them).
  const invocations = 6
  const stepCount = invocations + 1
  const recordAfter = 3
  const planStep = (invocation: number): number => (invocation > recordAfter ? invocation + 1 : invocation)
  const recordPath = (): string => join(sb.root, '.local', 'state', 'bottle', backend, 'demo', 'record.json')

  it('runs every step in order when none fails, and leaves one running bottle', async () => {
    sb = sandbox()
    const { prompt, run } = launchWithPrompt(backend)
    expect((await run).code).toBe(0)
    const id = launchIdIn(sb.log())
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(argvs(sb.log())).toEqual(launchSteps(backend, sb.workdir, prompt, id).map((s) => [backend, ...s.argv]))
    expect(sb.live(backend)).toEqual(['demo'])
    expect(sb.guestFile(backend, 'demo', '/opt/bottle/system-prompt.md')).toBe('be careful\n')
    expect(statSync(recordPath()).mode & 0o777).toBe(0o600)
  })

  it.each(Array.from({ length: invocations }, (_, i) => i + 1))(
    'at stand-in invocation %i: undoes what steps before it created, newest first, and exits with the step\'s code',
    async (k) => {
      sb = sandbox()
      const { prompt, run } = launchWithPrompt(backend, { STANDIN_FAIL_AT: String(k), STANDIN_FAIL_CODE: '17' })
      const r = await run
      const steps = launchSteps(backend, sb.workdir, prompt, launchIdIn(sb.log()))
      const undo = steps
        .slice(0, k - 1)
        .reverse()
        .flatMap((s) => (s.undo === null ? [] : s.undo.map((u) => [backend, ...u])))
      expect(r.code).toBe(17)
      // The steps up to the failing one, then the undo of what they created; nothing else.
      expect(argvs(sb.log())).toEqual([...steps.slice(0, k).map((s) => [backend, ...s.argv]), ...undo])
      expect(sb.live(backend)).toEqual([])
      // The quiet step's own output is shown when it fails, then bottle's one-line verdict.
      expect(r.stderr).toContain(`stand-in failure injected at invocation ${k}`)
      expect(r.stderr).toContain(`bottle: step ${planStep(k)}/${stepCount} failed with exit code 17: `)
      // The launch record, written once the bottle started, is undone with it.
      expect(existsSync(recordPath())).toBe(false)
    },
  )

  it('keeps undoing after an undo step fails, and says which one failed', async () => {
    sb = sandbox()
    // Step 3 fails; so does the first undo (smolvm: stop; docker: rm -f, the only one).
    const { run } = launchWithPrompt(backend, { STANDIN_FAIL_AT: '3,4' })
    const r = await run
    expect(r.code).toBe(1)
    const tail = argvs(sb.log()).slice(3)
    if (backend === 'smolvm') {
      expect(tail).toEqual([
        ['smolvm', 'machine', 'stop', '--name', 'demo'],
        ['smolvm', 'machine', 'ls', '--json'],
        ['smolvm', 'machine', 'delete', '--name', 'demo', '-f'],
      ])
      expect(r.stderr).toContain('bottle: undo step failed (exit 1): stop the machine demo')
      expect(sb.live(backend)).toEqual([])
    } else {
      // The listing failed: nothing is removed without proof that it is this run's.
      expect(tail.map((a) => a.slice(0, 2))).toEqual([['docker', 'ps']])
      expect(r.stderr).toContain('bottle: undo step failed (exit 1): remove the container demo if this run created it')
      // The container is left, and bottle says so, with the command that removes it.
      expect(sb.live(backend)).toEqual(['demo'])
      expect(r.stderr).toContain('bottle: to remove it: bottle run down demo -b docker')
    }
  })

  it('a second launch is refused by the first one\'s record: exit 2, nothing run', async () => {
    sb = sandbox()
    await launch(sb, backend)
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision'], sb.env)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`bottle: demo is launched already on ${backend} (its launch record is ${recordPath()}); take it down first: bottle run down demo\n`)
    expect([sb.log(), sb.live(backend)]).toEqual([[], ['demo']])
  })

  it('undoes nothing when the bottle already exists without a record: the create fails and the existing one stays', async () => {
    sb = sandbox()
    await launch(sb, backend)
    rmSync(recordPath())
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision'], sb.env)
    // The real tools' codes for "name taken": smolvm 1, docker create 125.
    expect(r.code).toBe(backend === 'smolvm' ? 1 : 125)
    const [create] = launchSteps(backend, sb.workdir, null, launchIdIn(sb.log()))
    expect(argvs(sb.log())).toEqual([[backend, ...(create?.argv ?? [])]])
    expect(sb.live(backend)).toEqual(['demo'])
  })

  it('prints "undo:" lines as it rolls back, and none of them with -q', async () => {
    sb = sandbox()
    const loud = await launchWithPrompt(backend, { STANDIN_FAIL_AT: '3' }).run
    expect(loud.stderr).toMatch(/^undo: /m)
    sb.dispose()
    sb = sandbox()
    const quiet = await launchWithPrompt(backend, { STANDIN_FAIL_AT: '3' }, ['-q']).run
    expect(quiet.stderr).not.toMatch(/^(undo: |\[\d+\/\d+\] )/m)
    // -q silences progress, not failures.
    expect(quiet.stderr).toContain(`bottle: step ${planStep(3)}/`)
  })
})
