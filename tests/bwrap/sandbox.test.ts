/**
 * Real bwrap sandboxes, driven through the built CLI (dist/bottle.js, built by tests/build-dist.ts)
 * with XDG_STATE_HOME in a temporary directory. Nothing here is a stand-in: each `bottle run`
 * spawns bubblewrap, and the guest reports what it sees.
 *
 * In CI bwrap must be there (.ci/run installs it); elsewhere the suite is skipped without it.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePasswd } from '../../src/backends/bwrap-host.js'
import { onPath } from '../../src/host.js'
import { quoteShArgv } from '../../src/plan/quote.js'
import type { Plan } from '../../src/plan/types.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-bwrap-'))
const ws = join(root, 'ws')
const xdgState = join(root, 'state')
const stateOf = (name: string) => join(xdgState, 'bottle', 'bwrap', name)
mkdirSync(ws)
afterAll(() => rmSync(root, { recursive: true, force: true }))

// A fresh value per run: if it shows up anywhere it should not, it came from this run.
const secretValue = `s3cret-${randomBytes(12).toString('base64url')}`
const hostOnly = `host-only-${randomBytes(6).toString('hex')}`

/** The whole host env (so a leak would show), plus our state dir and two marked variables. */
const hostEnv = (more: Record<string, string> = {}): Record<string, string> => ({
  ...(process.env as Record<string, string>),
  XDG_STATE_HOME: xdgState,
  BOTTLE_TEST_SECRET: secretValue,
  BOTTLE_TEST_HOST_ONLY: hostOnly,
  ...more,
})

const bottle = (args: readonly string[], cwd = ws, env = hostEnv()) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Lines `key=value` printed by a guest script, as a record. */
const report = (stdout: string): Record<string, string> =>
  Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))

// The default user is node: its ids come from the host's passwd (the rootfs), else 1000.
const nodeIds = parsePasswd(readFileSync('/etc/passwd', 'utf8'), ['node']).node ?? { uid: 1000, gid: 1000 }

const haveBwrap = onPath('bwrap', process.env.PATH)

describe.skipIf(!haveBwrap && !process.env.CI)('a bwrap bottle, for real', () => {
  it('launch creates the state directory with a home, and checks that the sandbox starts', () => {
    const r = bottle(['run', 'launch', 'demo', '-b', 'bwrap', '--network', 'open', '-q'])
    expect(r).toMatchObject({ status: 0, stderr: '' })
    expect(existsSync(join(stateOf('demo'), 'home'))).toBe(true)
    const listed = bottle(['run', 'ls', '-b', 'bwrap', '-q', '--json'])
    expect(listed.status).toBe(0)
    expect((JSON.parse(listed.stdout) as { bottles: { name: string; backend: string; state: string }[] }).bottles.map((b) => [b.name, b.backend, b.state])).toStrictEqual([
      ['demo', 'bwrap', 'ready'],
    ])
  })

  it('a plan on the bottle warns when the manifest has drifted from the launch record, and applies none of it', () => {
    // Launched with no env and network: open (bwrap's own: none); then the manifest asks for more.
    const same = bottle(['plan', 'exec', 'demo', 'true', '-b', 'bwrap'])
    expect(same.stdout).not.toContain('drift')
    writeFileSync(join(ws, 'bottle.yaml'), 'bottles:\n  demo:\n    env: { NEW: "1" }\n    network: host\n')
    try {
      const changed = bottle(['plan', 'exec', 'demo', 'true', '-b', 'bwrap', '--format', 'json'])
      expect(changed.status).toBe(0)
      const plan = JSON.parse(changed.stdout) as Plan
      // The JSON plan carries the note as a typed value: a program reads its tag, not its words.
      expect(plan.notes).toContainEqual({
        _tag: 'drift',
        against: 'manifest',
        text: `demo (bwrap) has drifted from bottle.yaml: network open → host (relaunch to apply); env NEW added (bottle run update applies it); not applied: the bottle runs with its launch record`,
      })
      // The same argv as with a manifest that asks for nothing (/dev/null is refused: not a regular file).
      writeFileSync(join(ws, 'plain.yaml'), 'bottles:\n  demo: {}\n')
      expect(plan.steps[0]?.argv).toStrictEqual(JSON.parse(bottle(['plan', 'exec', 'demo', 'true', '-b', 'bwrap', '-f', 'plain.yaml', '--format', 'json']).stdout).steps[0].argv)
      expect(plan.steps[0]?.argv).not.toContain('--share-net')
      expect(plan.steps[0]?.env.vars.map((v) => v.name)).not.toContain('NEW')
    } finally {
      rmSync(join(ws, 'bottle.yaml'))
    }
  })

  it('a launch from a directory that is no root filesystem is refused in one line, and creates nothing', () => {
    const r = bottle(['run', 'launch', 'broken', '-b', 'bwrap', '--image', join(root, 'no-such-rootfs'), '-q'])
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`bottle: image "${join(root, 'no-such-rootfs')}" has no /usr or /bin: not a root filesystem directory\n`)
    expect(existsSync(stateOf('broken'))).toBe(false)
  })

  it('a launch whose sandbox cannot start fails, and is undone', () => {
    // A root filesystem with /usr but no `true` in it: bwrap sets up, then cannot exec.
    const rootfs = join(root, 'empty-rootfs')
    mkdirSync(join(rootfs, 'usr'), { recursive: true })
    const r = bottle(['run', 'launch', 'broken', '-b', 'bwrap', '--image', rootfs, '--network', 'open', '-q'])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('bwrap: execvp true')
    expect(existsSync(stateOf('broken'))).toBe(false)
  })

  it('exec: a non-root user, HOME, the workdir as cwd, the env and the secret; no host variable; exit 42', () => {
    const script = [
      'echo "uid=$(id -u)"',
      'echo "home=$HOME"',
      'echo "cwd=$(pwd)"',
      'echo "greeting=$GREETING"',
      'echo "secret=$BOTTLE_TEST_SECRET"',
      'echo "hostonly=${BOTTLE_TEST_HOST_ONLY-unset}"',
      // What bwrap handed the shell, before the shell added anything of its own.
      `echo "names=$(tr '\\0' '\\n' </proc/$$/environ | cut -d= -f1 | sort | tr '\\n' ' ')"`,
      'exit 42',
    ].join('\n')
    const args = ['exec', 'demo', '-b', 'bwrap', '-e', 'GREETING=hello world', '--secret', 'BOTTLE_TEST_SECRET', script]
    const r = bottle(['run', ...args])
    expect(r.status).toBe(42)
    expect(report(r.stdout)).toStrictEqual({
      uid: String(nodeIds.uid),
      home: '/home/node',
      cwd: ws,
      greeting: 'hello world',
      secret: secretValue,
      hostonly: 'unset',
      // BOTTLE_RUN_ID: bottle's command wrapper marks what this run started (src/guest.ts).
      names: 'BOTTLE_RUN_ID BOTTLE_TEST_SECRET GREETING HOME PATH PWD USER ',
    })
    expect(nodeIds.uid).not.toBe(0)
    // The value reached the guest, and nothing else: not bottle's messages, not any plan rendering.
    const plans = ['text', 'json', 'sh'].map((f) => bottle(['plan', ...args, '--format', f]))
    expect(plans.map((p) => p.status)).toStrictEqual([0, 0, 0])
    expect([r.stderr, ...plans.flatMap((p) => [p.stdout, p.stderr])].filter((o) => o.includes(secretValue))).toStrictEqual([])
  })

  it('cp puts a file in the home and a directory in the workspace; the guest reads them back', () => {
    writeFileSync(join(root, 'notes.txt'), 'a note\n')
    mkdirSync(join(root, 'fixtures', 'sub'), { recursive: true })
    writeFileSync(join(root, 'fixtures', 'sub', 'data.txt'), 'some data\n')
    expect(bottle(['run', 'cp', 'demo', join(root, 'notes.txt'), '/home/node/docs/notes.txt', '-b', 'bwrap', '-q'])).toMatchObject({ status: 0, stderr: '' })
    expect(bottle(['run', 'cp', 'demo', join(root, 'fixtures'), `${ws}/copied`, '-b', 'bwrap', '-q'])).toMatchObject({ status: 0, stderr: '' })
    const r = bottle(['run', 'exec', 'demo', '-b', 'bwrap', 'echo "note=$(cat ~/docs/notes.txt)"; echo "data=$(cat copied/sub/data.txt)"; echo "owner=$(stat -c %u ~/docs/notes.txt copied/sub/data.txt | sort -u)"'])
    expect(report(r.stdout)).toStrictEqual({ note: 'a note', data: 'some data', owner: String(nodeIds.uid) })
    // The workspace is the host's own directory: the copy is there too.
    expect(readFileSync(join(ws, 'copied', 'sub', 'data.txt'), 'utf8')).toBe('some data\n')
  })

  it('cp to a guest path outside the workspace and the home is a one-line error, and runs nothing', () => {
    const r = bottle(['run', 'cp', 'demo', join(root, 'notes.txt'), '/etc/notes.txt', '-b', 'bwrap'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: guest path "\/etc\/notes.txt" is outside what a bwrap bottle keeps: .*\n$/)
  })

  it('the rest of the filesystem is read-only, and the only network is loopback', () => {
    const r = bottle(['run', 'exec', 'demo', '-b', 'bwrap', [
      'if touch /etc/bottle-test 2>/dev/null; then echo "etc=writable"; else echo "etc=read-only"; fi',
      // /proc/net/dev lists the interfaces of the sandbox's own network namespace.
      `echo "interfaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"`,
    ].join('\n')])
    expect(report(r.stdout)).toStrictEqual({ etc: 'read-only', interfaces: 'lo ' })
    expect(existsSync('/etc/bottle-test')).toBe(false)
  })

  it('exec --user with a user the rootfs passwd does not list: one line, exit 2, nothing run', () => {
    const marker = join(ws, 'ran-as-unknown')
    const r = bottle(['run', 'exec', 'demo', '-b', 'bwrap', '--user', 'nosuchuser', `touch ${marker}`])
    expect(r).toStrictEqual({
      status: 2,
      stdout: '',
      stderr: 'bottle: user "nosuchuser" is not in "/etc/passwd": bwrap runs a user by the ids listed there (root, and the default user node, need none)\n',
    })
    expect(existsSync(marker)).toBe(false)
  })

  it('down removes the bottle; down again is not an error', () => {
    expect(bottle(['run', 'down', 'demo', '-b', 'bwrap', '-q'])).toMatchObject({ status: 0, stderr: '' })
    expect(existsSync(stateOf('demo'))).toBe(false)
    expect(bottle(['run', 'down', 'demo', '-b', 'bwrap', '-q'])).toMatchObject({ status: 0, stderr: '' })
  })

  it('exec on a bottle that was never launched says so in one line, exits 2, and creates nothing', () => {
    const r = bottle(['run', 'exec', 'ghost', '-b', 'bwrap', 'true'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: ghost has no launch record on bwrap .*: launch it first \(bottle run launch ghost\);[^\n]*\n$/)
    expect(existsSync(stateOf('ghost'))).toBe(false)
  })

  describe.skipIf(!onPath('script', process.env.PATH))('agent under a real pseudo-terminal', () => {
    const agentWs = join(root, 'agent-ws')
    mkdirSync(agentWs)
    // The stand-in agent reports whether stdin and stdout are terminals, its args and TERM.
    const standIn = join(agentWs, 'stand-in-agent')
    writeFileSync(standIn, [
      '#!/bin/sh',
      'if [ -t 0 ] && [ -t 1 ]; then tty=yes; else tty=no; fi',
      'printf "tty=%s\\nargs=%s\\nterm=%s\\n" "$tty" "$*" "${TERM-unset}" >"$PWD/agent-report"',
      'exit 7',
      '',
    ].join('\n'))
    chmodSync(standIn, 0o755)
    writeFileSync(join(agentWs, 'bottle.yaml'), `backend: bwrap\nbottles:\n  tty:\n    agent: ${standIn}\n`)
    const agentReport = () => report(readFileSync(join(agentWs, 'agent-report'), 'utf8'))

    it('sees a TTY when bottle runs in one, and none when it does not', () => {
      const env = hostEnv({ TERM: 'xterm-256color' })
      expect(bottle(['run', 'launch', 'tty', '-q'], agentWs, env).status).toBe(0)
      // script(1) runs the command on a new pseudo-terminal; -e passes its exit code on.
      const inPty = spawnSync('script', ['-qec', quoteShArgv([process.execPath, cli, 'run', 'agent', 'tty', '--', '-p', 'hi']), '/dev/null'], {
        cwd: agentWs, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      })
      expect(inPty.status).toBe(7)
      expect(agentReport()).toStrictEqual({ tty: 'yes', args: '-p hi', term: 'xterm-256color' })
      // No terminal: no TTY, and no TERM to make tools write escape codes.
      expect(bottle(['run', 'agent', 'tty', '--', 'plain'], agentWs, env).status).toBe(7)
      expect(agentReport()).toStrictEqual({ tty: 'no', args: 'plain', term: 'unset' })
      expect(bottle(['run', 'down', 'tty', '-q'], agentWs, env).status).toBe(0)
    })

    it('a secret named SHELL reaches the agent, and never chooses the shell the host-side script runs', () => {
      // script(1) runs its command with `$SHELL -c`. A trap shell as the host's SHELL (and so the
      // secret's value) marks that it ran; the control shows that script does run $SHELL.
      const shellWs = join(root, 'shell-ws')
      mkdirSync(shellWs)
      const marker = join(shellWs, 'trap-shell-ran')
      const trapShell = join(shellWs, 'trap-shell')
      writeFileSync(trapShell, `#!/bin/sh\necho ran >>${quoteShArgv([marker])}\nexit 99\n`)
      chmodSync(trapShell, 0o755)
      const control = spawnSync('script', ['-qec', 'true', '/dev/null'], { env: { PATH: '/usr/bin:/bin', SHELL: trapShell }, stdio: 'ignore' })
      expect({ status: control.status, ran: existsSync(marker) }).toStrictEqual({ status: 99, ran: true })
      rmSync(marker)
      const agent = join(shellWs, 'stand-in-agent')
      writeFileSync(agent, '#!/bin/sh\nprintf "shell=%s\\n" "${SHELL-unset}" >"$PWD/agent-report"\nexit 7\n')
      chmodSync(agent, 0o755)
      writeFileSync(join(shellWs, 'bottle.yaml'), `backend: bwrap\nbottles:\n  sh:\n    agent: ${agent}\n    secrets: [SHELL]\n`)
      const env = hostEnv({ TERM: 'xterm-256color', SHELL: trapShell })
      expect(bottle(['run', 'launch', 'sh', '-q'], shellWs, env).status).toBe(0)
      try {
        // The outer script (the user's terminal here) runs /bin/sh; bottle gets SHELL=trapShell.
        const inPty = spawnSync('script', ['-qec', quoteShArgv(['env', `SHELL=${trapShell}`, process.execPath, cli, 'run', 'agent', 'sh']), '/dev/null'], {
          cwd: shellWs, env: { ...env, SHELL: '/bin/sh' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
        })
        expect({ status: inPty.status, trapShellRan: existsSync(marker) }).toStrictEqual({ status: 7, trapShellRan: false })
        expect(report(readFileSync(join(shellWs, 'agent-report'), 'utf8'))).toStrictEqual({ shell: trapShell })
      } finally {
        expect(bottle(['run', 'down', 'sh', '-q'], shellWs, env).status).toBe(0)
      }
    })
  })
})
