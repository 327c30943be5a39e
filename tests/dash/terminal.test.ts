/**
 * `bottle dash` on a real terminal: a private tmux server (-L), keys by send-keys, the screen by
 * capture-pane. A real bwrap bottle whose agent is a stand-in script (it reports its uid and
 * whether it has a terminal, then waits for a line): launched from the dashboard (n), its agent
 * run in the foreground (Enter) with the dashboard back after, in a split pane (s) as the
 * bottle's user, taken down (d, then y); q leaves the terminal as it was (stty -a before and after).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { quoteShArgv } from '../../src/plan/quote.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync('/tmp/bottle-dash-term-')
const ws = join(root, 'ws')
const state = join(root, 'state')
const socket = `bottle-dash-${process.pid}`
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })

afterAll(() => {
  tmux('kill-server')
  spawnSync(process.execPath, [cli, 'run', 'down', 'tdash', '-q'], { cwd: ws, env: { ...process.env, XDG_STATE_HOME: state }, stdio: 'ignore' })
  rmSync(root, { recursive: true, force: true })
})

const screen = (): string => tmux('capture-pane', '-p', '-t', 'dash:0.0').stdout

/** Waits until the dashboard's pane shows `text` (or `test` holds); fails with the screen as it is. */
const waitFor = async (what: string | (() => boolean), ms = 20_000): Promise<string> => {
  const until = Date.now() + ms
  for (;;) {
    const s = screen()
    if (typeof what === 'string' ? s.includes(what) : what()) return s
    if (Date.now() > until) throw new Error(`waited for ${typeof what === 'string' ? JSON.stringify(what) : 'a condition'}; the screen:\n${s}`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

const keys = (...k: string[]) => tmux('send-keys', '-t', 'dash:0.0', ...k)

describe.skipIf(!onPath('bwrap', process.env.PATH) || !onPath('tmux', process.env.PATH))('bottle dash in tmux, with a real bwrap bottle', () => {
  it('n launches, Enter runs the agent here and comes back, s splits a pane as the user, d y downs, q restores the terminal', async () => {
    mkdirSync(ws)
    const agent = join(ws, 'stand-in-agent')
    // Not the real claude: reports who and where it runs, waits for a line, exits 5.
    writeFileSync(agent, [
      '#!/bin/sh',
      'if [ -t 0 ] && [ -t 1 ]; then tty=yes; else tty=no; fi',
      'echo "stand-in agent: uid=$(id -u) tty=$tty args=$*" | tee "$PWD/report-$(id -u)-$$"',
      'read line',
      'exit 5',
      '',
    ].join('\n'))
    chmodSync(agent, 0o755)
    writeFileSync(join(ws, 'bottle.yaml'), `backend: bwrap\nbottles:\n  tdash:\n    agent: ${agent}\n    network: open\n`)
    const script = join(root, 'run-dash.sh')
    writeFileSync(script, [
      `cd ${quoteShArgv([ws])}`,
      `export XDG_STATE_HOME=${quoteShArgv([state])}`,
      `stty -a > ${quoteShArgv([join(root, 'stty-before')])}`,
      'echo "the shell before the dashboard"',
      `${quoteShArgv([process.execPath, cli, 'dash', '-b', 'bwrap'])}`,
      `echo "dash exited $?"`,
      `stty -a > ${quoteShArgv([join(root, 'stty-after')])}`,
      'exec sleep 600',
      '',
    ].join('\n'))
    // 50 rows: the launch's progress lines stay on the screen the test reads back at the end (as
    // root, each bwrap step's line holds its root-only scan script too).
    expect(tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'dash', '-x', '120', '-y', '50', `sh ${quoteShArgv([script])}`).status).toBe(0)

    // A declared bottle, dimmed, not launched: n launches it (on this terminal), and the listing shows it.
    await waitFor('tdash')
    expect(screen()).toMatch(/> tdash +bwrap +declared/)
    keys('n')
    await waitFor('launch tdash: exit code 0')
    await waitFor(() => /> tdash +bwrap +ready/.test(screen()))

    // Enter: the agent in the foreground, on the real terminal, with a TTY; then the screen is back.
    keys('Enter')
    await waitFor('stand-in agent: uid=1000 tty=yes')
    expect(screen()).not.toContain('bottle dash:')
    keys('bye', 'Enter')
    const back = await waitFor('agent tdash: exit code 5')
    expect(back).toContain('bottle dash: 1 bottle on bwrap')
    expect(back).not.toContain('stand-in agent:')

    // s: a split pane in this window runs the agent as the bottle's user (node, uid 1000 here).
    keys('s')
    await waitFor(() => tmux('list-panes', '-t', 'dash:0').stdout.trim().split('\n').length === 2)
    await waitFor(() => tmux('capture-pane', '-p', '-t', 'dash:0.1').stdout.includes('stand-in agent: uid=1000 tty=yes'))
    // The dashboard notes the pane it opened.
    await waitFor(() => /tdash .*%\d+ running/.test(screen()))
    tmux('send-keys', '-t', 'dash:0.1', 'bye', 'Enter')

    // d asks; anything but y keeps the bottle; d then y takes it down.
    keys('d')
    await waitFor('take tdash down on bwrap? y: yes')
    keys('n')
    await waitFor('down cancelled')
    expect(existsSync(join(state, 'bottle', 'bwrap', 'tdash'))).toBe(true)
    keys('d')
    await waitFor('take tdash down on bwrap? y: yes')
    keys('y')
    await waitFor('down tdash: exit code 0')
    expect(existsSync(join(state, 'bottle', 'bwrap', 'tdash'))).toBe(false)
    await waitFor(() => /> tdash +bwrap +declared/.test(screen()))

    // q: the dashboard ends with 0 and the terminal is as it was.
    keys('q')
    const after = await waitFor('dash exited 0')
    // The screen is the one from before (the alternate screen is gone), with the cursor shown.
    expect(after).toContain('the shell before the dashboard')
    expect(after).not.toContain('bottle dash:')
    expect(tmux('display-message', '-p', '-t', 'dash:0.0', '#{cursor_flag} #{alternate_on}').stdout.trim()).toBe('1 0')
    await waitFor(() => existsSync(join(root, 'stty-after')) && readFileSync(join(root, 'stty-after'), 'utf8') !== '')
    expect(readFileSync(join(root, 'stty-after'), 'utf8')).toBe(readFileSync(join(root, 'stty-before'), 'utf8'))
  }, 120_000)
})

describe.skipIf(!onPath('tmux', process.env.PATH))('bottle dash ended by a signal', () => {
  it('SIGTERM puts the screen and the terminal back, and exits 143', async () => {
    const dir = join(root, 'term')
    mkdirSync(dir)
    const script = join(dir, 'run-dash.sh')
    writeFileSync(script, [
      `cd ${quoteShArgv([dir])}`,
      `export XDG_STATE_HOME=${quoteShArgv([state])}`,
      `stty -a > ${quoteShArgv([join(dir, 'stty-before')])}`,
      'echo "the shell before the dashboard"',
      // In the foreground (a background job's stdin is not the terminal); its pid is the shell's it execs from.
      `sh -c 'echo $$ > "$0"; exec "$@"' ${quoteShArgv([join(dir, 'pid'), process.execPath, cli, 'dash', '-b', 'bwrap'])}`,
      'echo "dash exited $?"',
      `stty -a > ${quoteShArgv([join(dir, 'stty-after')])}`,
      'exec sleep 600',
      '',
    ].join('\n'))
    expect(tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'sig', '-x', '100', '-y', '20', `sh ${quoteShArgv([script])}`).status).toBe(0)
    const pane = (): string => tmux('capture-pane', '-p', '-t', 'sig:0.0').stdout
    const until = async (f: () => boolean): Promise<void> => {
      for (const end = Date.now() + 20_000; !f(); await new Promise((r) => setTimeout(r, 150)))
        if (Date.now() > end) throw new Error(`timed out; the screen:\n${pane()}`)
    }
    await until(() => pane().includes('bottle dash:'))
    process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGTERM')
    await until(() => pane().includes('dash exited 143'))
    expect(pane()).toContain('the shell before the dashboard')
    expect(pane()).not.toContain('bottle dash:')
    expect(tmux('display-message', '-p', '-t', 'sig:0.0', '#{cursor_flag} #{alternate_on}').stdout.trim()).toBe('1 0')
    await until(() => existsSync(join(dir, 'stty-after')) && readFileSync(join(dir, 'stty-after'), 'utf8') !== '')
    expect(readFileSync(join(dir, 'stty-after'), 'utf8')).toBe(readFileSync(join(dir, 'stty-before'), 'utf8'))
  }, 60_000)
})

describe('bottle dash off a terminal', () => {
  it('exits 2 with one line and draws nothing', () => {
    const r = spawnSync(process.execPath, [cli, 'dash'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    expect([r.status, r.stdout, r.stderr]).toStrictEqual([2, '', 'bottle dash needs a terminal; use bottle ls\n'])
  })
})
