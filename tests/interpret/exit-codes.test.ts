/**
 * Exit-code passthrough, against stand-in smolvm and docker executables (tests/standins; not the
 * real tools). The stand-ins run the guest's `sh -c SCRIPT` and exit with its status, as the real
 * `docker exec` and `smolvm machine exec` do (docs/backend-facts.md §1.5, §2.2); what is
 * checked is that bottle turns whatever its backend process ends with into its own exit code.
 */
import { fc, test } from '@fast-check/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, bottleProcess, launch, sandbox, spawnRuns, standinBackends } from '../standins/harness.js'

// Signals whose default action ends a process; SIGUSR1 is left out (node opens its inspector).
const fatalSignals = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGUSR2: 12, SIGALRM: 14, SIGTERM: 15 } as const
type FatalSignal = keyof typeof fatalSignals

describe.each(standinBackends)('bottle run exec against a stand-in %s', (backend) => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = sandbox()
    await launch(sb, backend)
  })
  afterAll(() => sb.dispose())

  const exec = (script: string) => bottle(['run', 'exec', 'demo', script, '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env)

  test.prop([fc.integer({ min: 0, max: 255 })], { numRuns: spawnRuns })('exits with the guest command\'s exit code', async (n) => {
    const r = await exec(`exit ${n}`)
    expect(r.code).toBe(n)
    // A guest's failure is the guest's: bottle adds no message of its own, and undoes nothing.
    expect(r.stderr).toBe('')
    expect(sb.live(backend)).toEqual(['demo'])
  })

  it.each(Object.keys(fatalSignals) as FatalSignal[])(
    'exits 128+n when the backend process itself dies of signal n: %s',
    async (sig) => {
      // $PPID of the guest shell is the stand-in process: this kills the backend CLI, not the guest,
      // so the 128+n comes from bottle's own translation of a signal death.
      const r = await exec(`kill -${sig.slice(3)} $PPID; sleep 1`)
      expect(r.code).toBe(128 + fatalSignals[sig])
    },
  )

  it('passes on 143 for a guest killed by SIGTERM (both tools report 128+n for a signalled guest)', async () => {
    const r = await exec('kill -TERM $$')
    expect(r.code).toBe(143)
  })
})

describe.each(standinBackends)('bottle run agent (the built executable) against a stand-in %s', (backend) => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = sandbox()
    await launch(sb, backend)
  })
  afterAll(() => sb.dispose())

  // The agent is `sh` here (--agent may name any agent binary), so the stand-in really runs it.
  it('hands our stdin to the agent and exits with its code', async () => {
    const r = await bottleProcess(
      ['run', 'agent', 'demo', '-b', backend, '--agent', 'sh', '--no-tty', '--', '-c', 'cat; exit 3'],
      sb.env,
      { input: 'from the host\n' },
    )
    expect(r.exitCode).toBe(3)
    expect(r.stdout).toBe('from the host\n')
  })
})

describe('the built executable (node dist/bottle.js) against a stand-in docker', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = sandbox()
    await launch(sb, 'docker')
  })
  afterAll(() => sb.dispose())

  // main.ts sets process.exitCode from main(): check the real process status, ends included.
  // 2 and 127 are also bottle's own codes (invalid input, not installed): a guest's still wins.
  it.each([0, 2, 127, 255])('has process exit status %i when the guest exits with it', async (n) => {
    const r = await bottleProcess(['run', 'exec', 'demo', `exit ${n}`, '-b', 'docker', '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.exitCode).toBe(n)
    expect(r.stderr).toBe('')
  })

  it("passes the guest's stdout and stderr through as they are", async () => {
    const r = await bottleProcess(
      ['run', 'exec', 'demo', "printf 'out\\n'; printf 'err\\n' >&2; exit 7", '-b', 'docker', '--workdir', sb.workdir, '--network', 'open'],
      sb.env,
    )
    expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' })
  })
})
