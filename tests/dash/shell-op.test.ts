/**
 * The `shell` op: which shell it opens, and that `bottle run shell` on real bwrap opens it as the
 * bottle's user with the bottle's HOME, env and cwd, passes the shell's exit code through, and
 * refuses a bottle that is not launched.
 *
 * The choice of shell is tested by running the op's own script under dash and under bash in a
 * bwrap sandbox whose /etc/passwd is one the test writes (the script reads only that file).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { shellScript } from '../../src/compile.js'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const hostDir = mkdtempSync('/var/tmp/bottle-shell-op-')
const stateHome = join(hostDir, 'state')
const ws = mkdtempSync(join(tmpdir(), 'bottle-shell-op-ws-'))
afterAll(() => {
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

const hasBwrap = onPath('bwrap', process.env.PATH)

/** Runs the shell script under `sh` as USER=user, with `passwd` as /etc/passwd; stdin asks which shell it is. */
const chosenShell = (sh: string, passwd: string, user: string): string => {
  const file = join(hostDir, `passwd-${Math.random().toString(36).slice(2)}`)
  writeFileSync(file, passwd)
  // A shell of the test's own that says it was chosen: /tmp/fish (on a tmpfs /tmp) prints its name.
  const fish = join(hostDir, 'fish')
  writeFileSync(fish, '#!/bin/sh\necho fish\n')
  chmodSync(fish, 0o755)
  const r = spawnSync('bwrap', [
    '--ro-bind', '/', '/', '--tmpfs', '/tmp', '--ro-bind', file, '/etc/passwd', '--ro-bind', fish, '/tmp/fish', '--dev', '/dev',
    '--setenv', 'USER', user, '--', sh, '-c', shellScript, 'sh',
  ], { input: 'if [ -n "$BASH_VERSION" ]; then echo bash; else echo sh; fi\n', encoding: 'utf8' })
  expect(r.stderr).toBe('')
  return r.stdout.trim()
}

describe.skipIf(!hasBwrap)('the shell the shell op opens', () => {
  const other = 'root:x:0:0:root:/root:/bin/bash\n'
  it.each([
    ['the login shell from passwd', 'dash', `${other}node:x:1000:1000::/home/node:/tmp/fish\n`, 'fish'],
    ['bash where passwd says bash', 'dash', `node:x:1000:1000::/home/node:/bin/bash\n`, 'bash'],
    ['/bin/sh for a user passwd does not list', 'bash', other, 'sh'],
    ['/bin/sh for nologin', 'dash', `${other}node:x:1000:1000::/home/node:/usr/sbin/nologin\n`, 'sh'],
    ['/bin/sh for false', 'dash', `${other}node:x:1000:1000::/home/node:/bin/false\n`, 'sh'],
    ['/bin/sh for a shell that is not there', 'dash', `node:x:1000:1000::/home/node:/bin/nosuchshell\n`, 'sh'],
    ['/bin/sh for a relative shell', 'dash', `node:x:1000:1000::/home/node:fish\n`, 'sh'],
    // read fails on a last line without a newline but still fills the fields: not node's.
    ['not the shell of the last entry, unterminated', 'bash', `${other}nodejs:x:1:1::/:/tmp/fish`, 'sh'],
    ['not the shell of a user whose name merely starts the same', 'dash', `nodes:x:1:1::/:/tmp/fish\nnode:x:1000:1000::/home/node:/bin/bash\n`, 'bash'],
  ])('%s (under %s)', (_label, sh, passwd, want) => {
    expect(chosenShell(sh, passwd, 'node')).toBe(want)
  })
})

const bottle = (args: readonly string[], input: string) => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome, SHELL_OP_SECRET: 'sekret-Ω-value' }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', input })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe.skipIf(!hasBwrap)('bottle run shell, on real bwrap', () => {
  it('is refused before launch, then opens a shell as the user with HOME, env, secret and cwd, and passes its code through', () => {
    const refused = bottle(['run', 'shell', 'sh1', '-b', 'bwrap', '-q'], 'exit 0\n')
    expect(refused.status).toBe(2)
    expect(refused.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1)

    expect(bottle(['run', 'launch', 'sh1', '-b', 'bwrap', '--user', 'root', '-e', 'GREETING=hi there', '--secret', 'SHELL_OP_SECRET', '-q'], '').status).toBe(0)
    const ran = bottle(['run', 'shell', 'sh1', '-b', 'bwrap', '-q'], 'echo "$(id -u) $HOME $USER [$GREETING] [$SHELL_OP_SECRET] $(pwd)"; exit 7\n')
    expect(ran.stderr).toBe('')
    expect(ran.stdout).toBe(`0 /root root [hi there] [sekret-Ω-value] ${ws}\n`)
    expect(ran.status).toBe(7)
    // No TTY without a terminal on stdin; --tty without one is refused, with one line.
    const tty = bottle(['run', 'shell', 'sh1', '-b', 'bwrap', '-q', '--tty'], '')
    expect(tty.status).toBe(2)
    expect(tty.stderr).toMatch(/^bottle: --tty needs a terminal on stdin[^\n]*\n$/)
    expect(bottle(['run', 'down', 'sh1', '-b', 'bwrap', '-q'], '').status).toBe(0)
  })

  it('bottle plan shell shows the shell script and no secret value', () => {
    expect(bottle(['run', 'launch', 'sh2', '-b', 'bwrap', '--secret', 'SHELL_OP_SECRET', '-q'], '').status).toBe(0)
    const planned = bottle(['plan', 'shell', 'sh2', '-b', 'bwrap', '--format', 'json'], '')
    expect(planned.status).toBe(0)
    expect(planned.stdout).not.toContain('sekret')
    const plan = JSON.parse(planned.stdout) as { op: string; steps: { guest: { tail: string[] } }[]; exitCodeFrom: number }
    expect([plan.op, plan.steps[0]?.guest.tail, plan.exitCodeFrom]).toStrictEqual(['shell', ['sh', '-c', shellScript, 'sh'], 0])
    expect(bottle(['run', 'down', 'sh2', '-b', 'bwrap', '-q'], '').status).toBe(0)
  })
})
