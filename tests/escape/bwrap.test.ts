/**
 * Escape tests on real bwrap: each attack of issue 9 played by a guest script (or, for what a
 * guest could have planted, by the test in its place), each with a CONTROL that plays the same
 * attack where nothing stops it and shows it works, so that these tests can fail.
 *
 * Real components only: bubblewrap, util-linux script, tmux (a private server per test), perl
 * (TIOCSTI without a compiler), gcc (the LD_PRELOAD object). The state root is under /var/tmp:
 * the place that was visible to every bottle when the sandbox showed the host's whole `/`.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
// Host-only things live under /var/tmp, which every sandbox replaces with a fresh tmpfs.
const hostDir = mkdtempSync('/var/tmp/bottle-escape-')
const stateHome = join(hostDir, 'state')
const stateRoot = join(stateHome, 'bottle')
const stateOf = (name: string) => join(stateRoot, 'bwrap', name)
const ws = mkdtempSync(join(tmpdir(), 'bottle-escape-ws-'))
const tag = randomBytes(6).toString('hex')
afterAll(() => {
  spawnSync('tmux', ['-L', `bottle-escape-${tag}`, 'kill-server'])
  // The bottles the attacks ran in go down with their egress proxies, before their state is removed.
  spawnSync(process.execPath, [cli, 'run', 'down', '--all', '-b', 'bwrap', '-q'], { cwd: ws, env: hostEnv(), stdio: 'ignore' })
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

const hostEnv = (): Record<string, string> => ({ ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome })

const bottle = (args: readonly string[], cwd = ws) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env: hostEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

writeFileSync(join(ws, 'bottle.yaml'), [
  'backend: bwrap',
  'bottles:',
  '  alpha: {}',
  '  beta: {}',
  '  gamma: {}',
  // The injector: perl pushes its argument and a newline into the input of the terminal on fd 0.
  '  typist:',
  '    agent: perl',
  '  shell:',
  '    agent: sh',
  '',
].join('\n'))

const haveBwrap = onPath('bwrap', process.env.PATH)

describe.skipIf(!haveBwrap && !process.env.CI)('escapes from a bwrap bottle, on real bwrap', () => {
  it('launches the bottles the attacks run in', () => {
    for (const name of ['alpha', 'beta', 'gamma', 'typist', 'shell']) expect(bottle(['run', 'launch', name, '-q'])).toMatchObject({ status: 0, stderr: '' })
  })

  // -----------------------------------------------------------------------------------------------
  // one bottle reads another's home, the state root, host sockets under /run
  // -----------------------------------------------------------------------------------------------

  it("a bottle cannot read another bottle's home or the state root (state under /var/tmp)", () => {
    const token = `credential-${randomBytes(8).toString('hex')}`
    expect(bottle(['run', 'exec', 'alpha', `mkdir -p ~/.claude && echo ${token} > ~/.claude/.credentials.json`]).status).toBe(0)
    // CONTROL: the file is there on the host, at a path a guest could name.
    const stolen = join(stateOf('alpha'), 'home', '.claude', '.credentials.json')
    expect(readFileSync(stolen, 'utf8')).toBe(`${token}\n`)
    const r = bottle(['run', 'exec', 'beta', `cat ${stolen}; ls -A ${stateRoot}; ls -A ${stateHome}; echo done`])
    expect(r.stdout).not.toContain(token)
    expect(r.stdout).not.toContain('alpha')
    expect(r.stdout.trim().split('\n').at(-1)).toBe('done')
    expect(r.stderr).toContain('No such file or directory')
  })

  it('a bottle sees no host socket directory under /run, nor /run/user', async () => {
    // CONTROL: a live socket in a directory of its own under the host's /run, as an agent's would be.
    const dir = `/run/bottle-escape-${tag}`
    mkdirSync(dir, { recursive: true })
    const server = createServer((c) => c.end('hello from the host\n'))
    await new Promise<void>((resolve) => server.listen(join(dir, 'agent.sock'), resolve))
    try {
      const control = spawnSync('sh', ['-c', `ls -A ${dir} /run | sort -u`], { encoding: 'utf8' })
      expect(control.stdout).toContain('agent.sock')
      const r = bottle(['run', 'exec', 'beta', `echo "run=[$(ls -A /run)]"; echo "door=[$(ls -A /run/bottle-egress)]"; for d in /run/user ${dir}; do if [ -e "$d" ]; then echo "seen=$d"; fi; done; echo done`])
      // Only the bottle's own egress door is there: its proxy's socket, in a directory of its own.
      expect(r.stdout).toBe('run=[bottle-egress]\ndoor=[egress.sock]\ndone\n')
    } finally {
      server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.skipIf(process.geteuid?.() !== 0)('bottle running as root: the guest cannot read a root-only file (/etc/shadow)', () => {
    // CONTROL: the host reads it (as root), and an ordinary user could not.
    const shadow = readFileSync('/etc/shadow', 'utf8')
    expect(shadow).toMatch(/^root:/m)
    expect(lstatSync('/etc/shadow').mode & 0o004).toBe(0)
    const r = bottle(['run', 'exec', 'beta', 'cat /etc/shadow /etc/gshadow; ls -A /etc/ssl/private; echo "uid=$(id -u)"; echo done'])
    expect(r.stdout).not.toMatch(/^root:/m)
    expect(r.stdout).toContain('done')
    // And as the guest's root, too.
    const asRoot = bottle(['run', 'exec', 'beta', '--user', 'root', 'cat /etc/shadow; echo done'])
    expect(asRoot.stdout).not.toMatch(/^root:/m)
  })

  // -----------------------------------------------------------------------------------------------
  // the manifest's env reaches a host process (LD_PRELOAD)
  // -----------------------------------------------------------------------------------------------

  const haveGcc = onPath('gcc', process.env.PATH)
  it.skipIf(!haveGcc && !process.env.CI)("the manifest's LD_PRELOAD never loads into a host process", () => {
    const marker = join(hostDir, 'preload-fired')
    const source = join(ws, 'evil.c')
    const so = join(ws, 'evil.so')
    // What an agent builds with the host's (read-only, visible) gcc: it writes a marker on load,
    // at a host path under /var/tmp, which no sandbox can reach.
    writeFileSync(source, `#include <stdio.h>\n__attribute__((constructor)) static void fire(void) { FILE *f = fopen("${marker}", "a"); if (f) { fputs("fired\\n", f); fclose(f); } }\n`)
    expect(spawnSync('gcc', ['-shared', '-fPIC', '-o', so, source]).status).toBe(0)
    // CONTROL: a plain host process with that env loads it.
    spawnSync('/bin/true', { env: { ...process.env, LD_PRELOAD: so } })
    expect(existsSync(marker)).toBe(true)
    rmSync(marker)
    // The attack: env in the manifest (as an agent edits it), then an ordinary exec.
    writeFileSync(join(ws, 'preload.yaml'), `backend: bwrap\nbottles:\n  gamma:\n    env:\n      LD_PRELOAD: ${so}\n`)
    // An exec plans from the launch record: the edit is a drift note, applied nowhere.
    const r = bottle(['run', 'exec', 'gamma', '-f', join(ws, 'preload.yaml'), 'echo "guest=$LD_PRELOAD"'])
    expect(r.stdout).toContain('guest=\n')
    expect(existsSync(marker)).toBe(false)
    // A bottle launched with that env (the user ran launch): the guest has it, no host process loads it.
    writeFileSync(join(ws, 'preload.yaml'), `backend: bwrap\nbottles:\n  preload:\n    env:\n      LD_PRELOAD: ${so}\n`)
    expect(bottle(['run', 'launch', 'preload', '-q', '-f', join(ws, 'preload.yaml')]).status).toBe(0)
    try {
      const launched = bottle(['run', 'exec', 'preload', '-f', join(ws, 'preload.yaml'), 'echo "guest=$LD_PRELOAD"'])
      expect(launched.stdout).toContain(`guest=${so}`)
      expect(existsSync(marker)).toBe(false)
    } finally {
      bottle(['run', 'down', 'preload', '-q', '-f', join(ws, 'preload.yaml')])
    }
  })

  // -----------------------------------------------------------------------------------------------
  // symlinks planted in a bottle's state directory
  // -----------------------------------------------------------------------------------------------

  it("a 'home' symlink to a host directory is refused, and the host directory is untouched", () => {
    const victim = join(hostDir, 'victim-dir')
    mkdirSync(victim)
    writeFileSync(join(victim, 'secret.txt'), 'host secret\n')
    const home = join(stateOf('gamma'), 'home')
    rmSync(home, { recursive: true })
    symlinkSync(victim, home)
    // CONTROL: bwrap itself follows the link: bound read-write, the guest writes into the host dir.
    const direct = spawnSync('bwrap', ['--ro-bind', '/', '/', '--bind', home, '/mnt', '--unshare-all', '--', 'touch', '/mnt/control'])
    expect(direct.status).toBe(0)
    expect(existsSync(join(victim, 'control'))).toBe(true)
    rmSync(join(victim, 'control'))
    const r = bottle(['run', 'exec', 'gamma', 'cat ~/secret.txt; touch ~/pwned'])
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`bottle: bwrap bottle "gamma" cannot be trusted: ${home} is not a directory (a symlink or a file was put in its place); nothing was run (take it down: bottle run down gamma)\n`)
    expect(r.stdout).toBe('')
    expect(existsSync(join(victim, 'pwned'))).toBe(false)
    // down removes the link, not what it points to.
    expect(bottle(['run', 'down', 'gamma', '-q']).status).toBe(0)
    expect(readFileSync(join(victim, 'secret.txt'), 'utf8')).toBe('host secret\n')
  })

  it("a 'system-prompt.md' symlink to a host file: the CLI refuses, and the copy step itself never writes through it", () => {
    expect(bottle(['run', 'launch', 'gamma', '-q']).status).toBe(0)
    const victim = join(hostDir, 'victim.txt')
    writeFileSync(victim, 'host file\n')
    writeFileSync(join(ws, 'prompt.md'), 'new prompt\n')
    const dest = join(stateOf('gamma'), 'system-prompt.md')
    // The step as planned before anything was planted (a guest racing the host step).
    const planned = JSON.parse(bottle(['plan', 'cp', 'gamma', join(ws, 'prompt.md'), '/tmp/bottle/system-prompt.md', '--format', 'json']).stdout) as { steps: { argv: string[] }[] }
    const argv = planned.steps[0]?.argv ?? []
    expect(argv.at(-1)).toBe(dest)
    symlinkSync(victim, dest)
    // CONTROL: a plain cp writes through the link into the host file.
    expect(spawnSync('cp', ['--', join(ws, 'prompt.md'), dest]).status).toBe(0)
    expect(readFileSync(victim, 'utf8')).toBe('new prompt\n')
    writeFileSync(victim, 'host file\n')
    // The CLI: exit 2, one line, nothing run.
    const r = bottle(['run', 'cp', 'gamma', join(ws, 'prompt.md'), '/tmp/bottle/system-prompt.md'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: bwrap bottle "gamma" cannot be trusted: .*system-prompt\.md is not a regular file.*\n$/)
    expect(readFileSync(victim, 'utf8')).toBe('host file\n')
    // The step itself: the link is replaced by a file, the host file is untouched.
    const [file, ...args] = argv
    expect(spawnSync(file ?? 'false', args).status).toBe(0)
    expect(readFileSync(victim, 'utf8')).toBe('host file\n')
    expect(lstatSync(dest).isFile()).toBe(true)
    expect(readFileSync(dest, 'utf8')).toBe('new prompt\n')
  })

  it('a workdir that holds the state root is refused, so no guest can plant anything there', () => {
    const r = spawnSync(process.execPath, [cli, 'run', 'launch', 'inside', '-b', 'bwrap', '--workdir', hostDir], {
      cwd: hostDir, env: hostEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: workdir .* holds bottle's state directory .*\n$/)
    expect(existsSync(stateOf('inside'))).toBe(false)
  })

  // -----------------------------------------------------------------------------------------------
  // keystrokes into the user's terminal (TIOCSTI), under a real terminal: a private tmux server
  // -----------------------------------------------------------------------------------------------

  const haveTmux = onPath('tmux', process.env.PATH)
  describe.skipIf(!haveTmux && !process.env.CI)('under a real terminal (tmux)', () => {
    const socket = `bottle-escape-${tag}`
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
    const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-100', '-t', 'esc').stdout
    const waitFor = async (text: string, ms = 15_000): Promise<string> => {
      const end = Date.now() + ms
      while (Date.now() < end) {
        const s = screen()
        if (s.includes(text)) return s
        await sleep(100)
      }
      throw new Error(`timed out waiting for ${JSON.stringify(text)}; the pane shows:\n${screen()}`)
    }
    const typeLine = (line: string) => tmux('send-keys', '-t', 'esc', '-l', line).status === 0 && tmux('send-keys', '-t', 'esc', 'Enter')
    const pushScript = 'for (split //, "$ARGV[0]\\n") { ioctl(STDIN, 0x5412, $_) or die "TIOCSTI: $!\\n" } print "pushed\\n"'

    it('starts a shell in a pane of its own', async () => {
      const env = hostEnv()
      expect(tmux('new-session', '-d', '-s', 'esc', '-x', '120', '-y', '40', '-c', ws, '-e', `XDG_STATE_HOME=${env.XDG_STATE_HOME}`, 'bash --norc --noprofile').status).toBe(0)
      typeLine('PS1="$ "; echo re""ady')
      await waitFor('ready\n')
    })

    it('an interactive agent pushing keystrokes with TIOCSTI reaches nothing outside its own pty', async (ctx) => {
      // CONTROL: the injector run directly in the pane's shell types a command that shell runs.
      const control = join(hostDir, 'injected-control')
      // Each sentinel is typed split by quotes, so the typed line itself never matches it.
      typeLine(`perl -e '${pushScript}' 'touch ${control}'; echo control"-"done`)
      const shown = await waitFor('control-done')
      await sleep(500)
      if (!existsSync(control)) {
        if (shown.includes('TIOCSTI: ')) ctx.skip(`the kernel refuses TIOCSTI for everyone here (dev.tty.legacy_tiocsti=0): ${shown.split('\n').find((l) => l.includes('TIOCSTI: '))}`)
        throw new Error(`the control did not inject, and TIOCSTI did not fail:\n${shown}`)
      }
      // The attack: the same injector as the bottle's agent, with bottle's own terminal.
      const attack = join(ws, 'injected-attack')
      typeLine(`node ${cli} run agent typist -- -e '${pushScript}' 'touch ${attack}'; echo "attack""-rc=$?"`)
      await waitFor('attack-rc=')
      await sleep(1000)
      const after = screen()
      // The guest's push worked, into its own terminal (so the test exercises TIOCSTI)...
      expect(after).toContain('pushed')
      expect(after).toContain('attack-rc=0')
      // ...and the host shell ran nothing: the file it would have made is not there.
      expect(existsSync(attack)).toBe(false)
    })

    it('window-size changes reach the agent, and Ctrl-C interrupts it', async () => {
      typeLine('clear')
      // Short sleeps: sh runs a trap only between commands.
      const script = 'trap "stty size" WINCH; stty size; echo guest"-"ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo not"-"interrupted'
      typeLine(`node ${cli} run agent shell -- -c '${script}'; echo "agent""-rc=$?"`)
      await waitFor('guest-ready')
      expect(screen()).toContain('40 120')
      tmux('resize-window', '-t', 'esc', '-x', '100', '-y', '30')
      await waitFor('30 100')
      const start = Date.now()
      tmux('send-keys', '-t', 'esc', 'C-c')
      const shown = await waitFor('agent-rc=')
      expect(Date.now() - start).toBeLessThan(5000)
      expect(shown).toContain('agent-rc=130')
      expect(shown).not.toContain('not-interrupted')
    })
  })
})
