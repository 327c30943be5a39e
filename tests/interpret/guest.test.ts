/**
 * The guest command's edges, against the stand-in docker and smolvm (not the real tools; the
 * same cases were run on a private dockerd 20.10, see the report): an interrupt stops the command
 * in the bottle, a missing bottle is the backend's failure (125), a missing agent is 127, exec
 * passes stdin on, and a launch whose user the image lacks stops at once with exit 2.
 *
 * The stand-ins run `sh -c` guest commands on the host and, like `docker exec` without a TTY,
 * leave them running when the client is killed: the guest's pid file tells whether it was stopped.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottleProcess, launch, recordOnly, sandbox, standinBackends, until } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.each(standinBackends)('the guest command on a stand-in %s', (backend) => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s while exec runs: the command in the bottle is stopped, and bottle exits %i', async (signal, code) => {
    sb = sandbox()
    await launch(sb, backend)
    const pidFile = join(sb.workdir, 'guest.pid')
    // The guest's sleep records its own pid (exec keeps it), then runs far longer than the test.
    const child = bottleProcess(['run', 'exec', 'demo', `sh -c 'echo $$ >${pidFile}; exec sleep 60'`, '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))
    const guestPid = Number(readFileSync(pidFile, 'utf8'))
    expect(alive(guestPid)).toBe(true)
    process.kill(child.pid ?? 0, signal)
    const r = await child
    expect(r.exitCode).toBe(code)
    await until(() => !alive(guestPid), 5_000)
    expect(alive(guestPid)).toBe(false)
  })

  it('exec on a bottle that does not exist: the backend\'s own exit 1 becomes 125, with one line naming it', async () => {
    sb = sandbox()
    // Launched (it has a record), then gone from the backend.
    await recordOnly(sb, backend, 'nosuch')
    const r = await bottleProcess(['run', 'exec', 'nosuch', 'exit 0', '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.exitCode).toBe(125)
    expect(r.stderr).toContain(`bottle: ${backend} could not run the command in the bottle nosuch (its exit 1 was ${backend}'s own, not the command's)`)
  })

  it('--format sh does as bottle run: a missing bottle is 125 with the same line; the command\'s own 1 stays 1', async () => {
    sb = sandbox()
    await launch(sb, backend)
    await recordOnly(sb, backend, 'nosuch')
    const script = async (name: string, body: string) => {
      const p = await bottleProcess(['plan', 'exec', name, body, '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--format', 'sh'], sb.env)
      expect(p.exitCode).toBe(0)
      return execa('sh', ['-c', p.stdout], { env: sb.env, extendEnv: false, reject: false })
    }
    const missing = await script('nosuch', 'exit 0')
    expect(missing.exitCode).toBe(125)
    expect(missing.stderr).toContain(`bottle: ${backend} could not run the command in the bottle nosuch (its exit 1 was ${backend}'s own, not the command's)`)
    const own = await script('demo', 'exit 1')
    expect([own.exitCode, own.stderr]).toStrictEqual([1, ''])
  })

  it('exec whose script exits 1 in a running bottle: 1, the command\'s own, with no line of bottle\'s', async () => {
    sb = sandbox()
    await launch(sb, backend)
    const r = await bottleProcess(['run', 'exec', 'demo', 'echo out; exit 1', '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toBe('')
  })

  it('agent whose binary the bottle lacks: 127, with a line naming it', async () => {
    sb = sandbox()
    await launch(sb, backend)
    const r = await bottleProcess(['run', 'agent', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--agent', 'no-such-agent-xyz'], sb.env)
    expect(r.exitCode).toBe(127)
    expect(r.stderr).toContain('bottle: no-such-agent-xyz: command not found in the bottle')
  })

  it('exec passes piped stdin to the command', async () => {
    sb = sandbox()
    await launch(sb, backend)
    const r = await bottleProcess(['run', 'exec', 'demo', 'tr a-z A-Z', '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env, { input: 'piped in\n' })
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toBe('PIPED IN\n')
  })
})

describe('a launch whose user the image does not have, on a stand-in docker', () => {
  it('stops right after start with exit 2 and a line naming the user, and removes the container', async () => {
    sb = sandbox()
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--user', 'nosuchuser'], sb.env)
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('bottle: the image has no user nosuchuser')
    // create, start, the check; then the undo (which removes only what carries this run's id).
    expect(sb.log().map((i) => i.argv[0]).slice(0, 4)).toStrictEqual(['create', 'start', 'exec', 'ps'])
    expect(sb.live('docker')).toStrictEqual([])
  })
})

describe('a launch whose user the image does not have, on a stand-in smolvm', () => {
  it('stops right after start with exit 2 and a line naming the user, and deletes the machine', async () => {
    sb = sandbox()
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--user', 'nosuchuser'], sb.env)
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('bottle: the image has no user nosuchuser: choose one it has (--user), or add it to the image')
    // create, start, the check as root; then the undo: stop, and delete (this run's id found).
    expect(sb.log().map((i) => i.argv.slice(1, 2)[0])).toStrictEqual(['create', 'start', 'exec', 'stop', 'ls', 'delete'])
    expect(sb.live('smolvm')).toStrictEqual([])
  })

  it('a user the stand-in image has passes the check, and the launch goes on', async () => {
    sb = sandbox()
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--user', 'claude', '-q'], sb.env)
    expect([r.exitCode, r.stderr]).toStrictEqual([0, ''])
    expect(sb.live('smolvm')).toStrictEqual(['demo'])
  })
})

describe('--tty with piped stdin, on a stand-in docker', () => {
  it('is refused before anything runs, exit 2, with one line (docker would refuse -t: "the input device is not a TTY")', async () => {
    sb = sandbox()
    await recordOnly(sb, 'docker')
    const r = await bottleProcess(['run', 'agent', 'demo', '--tty', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open'], sb.env, { input: 'piped\n' })
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe('bottle: --tty needs a terminal on stdin, and stdin is not one (a pipe or a file): drop --tty, or run from a terminal\n')
    expect(sb.log()).toStrictEqual([])
  })
})
