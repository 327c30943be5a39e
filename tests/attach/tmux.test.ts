/**
 * attach against real tmux (3.3a on the build machines): a private tmux server (its own
 * TMUX_TMPDIR), the bundled CLI (`bottle run attach …`), and a stand-in `docker` on PATH that
 * records the argv and environment it was started with. The stand-in is not docker: this checks
 * what tmux makes the pane run, not what docker would do with it.
 *
 * Checked: the pane runs exactly the plan's words (including words ending in `;`, spaces, quotes,
 * `#{…}`, `~`, `$HOME`); a secret reaches the backend from bottle's env, and not through an argv,
 * the tmux server's environment, or a file left behind; each pane mode; a refused plan opens nothing.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handoffWaitSeconds, tmuxCommandLimit } from '../../src/attach.js'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const repo = new URL('../..', import.meta.url).pathname
const root = mkdtempSync(join(tmpdir(), 'bottle-tmux-'))
const bin = join(root, 'bin')
const build = join(root, 'build')
const tmuxDir = join(root, 'tmux')
const scratch = join(root, 'scratch')
const workdir = join(root, 'work')
const record = join(root, 'record.json')
const bottle = join(build, 'bottle.js')

const secretValue = `s3cr3t 'quoted' "double" $(id) \`x\` ;\nline two\n`

/** The environment every tmux and bottle process here gets: nothing of the test runner's. */
const baseEnv = { PATH: `${bin}:/usr/bin:/bin`, TMUX_TMPDIR: tmuxDir, TMPDIR: scratch, HOME: root, TERM: 'xterm' }

const tmux = (...args: string[]): SpawnSyncReturns<string> =>
  spawnSync('tmux', args, { env: baseEnv, encoding: 'utf8' })

const run = (args: readonly string[], env: Record<string, string> = {}): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [bottle, ...args], { cwd: workdir, env: { ...baseEnv, ...env }, encoding: 'utf8' })

/** The plan `bottle run` would run, from `bottle plan OP --format json ARGS…` (ARGS may end in `-- …`). */
const planOf = ([op = '', ...args]: readonly string[]): Plan => {
  const r = spawnSync(process.execPath, [bottle, 'plan', op, '--format', 'json', ...args], { cwd: workdir, env: baseEnv, encoding: 'utf8' })
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as Plan
}

interface Recorded {
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

/** Waits for the stand-in to have run in the pane. */
const recorded = async (): Promise<Recorded> => {
  // The stand-in may be mid-write when the file appears: wait for whole JSON.
  const whole = (): Recorded | null => {
    try {
      return JSON.parse(readFileSync(record, 'utf8')) as Recorded
    } catch {
      return null
    }
  }
  let got = whole()
  for (let i = 0; i < 200 && got === null; i++) {
    await new Promise((r) => setTimeout(r, 50))
    got = whole()
  }
  rmSync(record)
  if (got === null) throw new Error('the stand-in never ran in the pane')
  return got
}

/** One word for sh -c. */
const quote = (w: string): string => `'${w.replaceAll("'", "'\\''")}'`

const panes = (): string[] => tmux('list-panes', '-a', '-F', '#{pane_id}').stdout.trim().split('\n')

beforeAll(() => {
  for (const d of [bin, tmuxDir, scratch, workdir]) mkdirSync(d)
  // The CLI as shipped: the same bundle `npm run build` makes, in a directory of our own.
  const built = spawnSync(process.execPath, [join(repo, 'scripts/build.mjs'), build], { cwd: repo, encoding: 'utf8' })
  expect(built.status, built.stderr).toBe(0)
  // It stays (until kill-server) as an agent would, so the pane can be counted.
  writeFileSync(
    join(bin, 'docker'),
    `#!${process.execPath}
require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }))
setTimeout(() => {}, 120000)
`,
  )
  chmodSync(join(bin, 'docker'), 0o755)
  // demo is launched: attach compiles from its launch record (in $HOME/.local/state, here root).
  writeRecordOf(planOf(['launch', 'demo', '-b', 'docker', '--network', 'open']))
  // A private server, started from the clean env: it knows no secret.
  const started = tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '200', '-y', '50')
  expect(started.status, started.stderr).toBe(0)
})

afterAll(() => {
  tmux('kill-server')
  rmSync(root, { recursive: true, force: true })
})

// Words tmux would mangle if they went through its parser or a shell unescaped.
const hostile = ['a;', ';', '\\;', 'b c', "it's", '"q"', '#{pane_id}', '~', '$HOME', '--', '-t', '']

describe('bottle run attach, in real tmux', () => {
  it('split: the pane runs the plan\'s words exactly, with the secret from bottle\'s env', async () => {
    const args = ['attach', 'demo', '-b', 'docker', '--secret', 'TOKEN', '--target', 'main:0.0', '--', ...hostile]
    const plan = planOf(args)
    const pane = plan.steps[0]?.pane
    expect(pane?.argv.slice(-hostile.length)).toStrictEqual(hostile)
    const before = panes().length
    const r = run(['run', ...args], { TOKEN: secretValue })
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 0, stderr: '' })
    const got = await recorded()
    expect(got.argv).toStrictEqual(pane?.argv.slice(1))
    expect(got.env['TOKEN']).toBe(secretValue)
    expect(panes()).toHaveLength(before + 1)
    // Not in any argv, not in the tmux server's environment, not left on disk.
    expect(JSON.stringify(got.argv)).not.toContain('s3cr3t')
    expect(tmux('show-environment', '-g').stdout + tmux('show-environment', '-t', 'main').stdout).not.toContain('s3cr3t')
    expect(readdirSync(scratch)).toStrictEqual([])
  })

  it('window: without secrets the pane runs the words directly; --resume runs the fallback script', async () => {
    const args = ['attach', 'demo', '-b', 'docker', '--pane', 'window', '--target', 'main:', '--resume', '--agent', 'codex', '--', 'fix it;']
    const plan = planOf(args)
    expect(plan.steps[0]?.argv.slice(0, 2)).toStrictEqual(['tmux', 'new-window'])
    const r = run(['run', ...args])
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 0, stderr: '' })
    const got = await recorded()
    expect(got.argv).toStrictEqual(plan.steps[0]?.pane?.argv.slice(1))
    expect(got.argv.slice(-3)).toStrictEqual(['sh', '-c', "(exec codex resume --last 'fix it;') || exec codex 'fix it;'"])
  })

  it('respawn: the target pane\'s command is replaced', async () => {
    const made = tmux('split-window', '-t', 'main:0', '-P', '-F', '#{pane_id}', '--', 'sleep', '600')
    const target = made.stdout.trim()
    expect(target).toMatch(/^%\d+$/)
    const args = ['attach', 'demo', '-b', 'docker', '--pane', 'respawn', '--target', target, '--secret', 'TOKEN', '--', 'x;']
    const before = panes().length
    const r = run(['run', ...args], { TOKEN: secretValue })
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 0, stderr: '' })
    const got = await recorded()
    expect(got.argv).toStrictEqual(planOf(args).steps[0]?.pane?.argv.slice(1))
    expect(got.env['TOKEN']).toBe(secretValue)
    expect(panes()).toHaveLength(before)
  })

  it('respawn with no --target, run from inside a pane: the agent replaces bottle in its own pane', async () => {
    // bottle runs in a new window whose env alone has TOKEN; respawn-pane -k kills bottle (and the
    // hand-off) there, so the value can only reach the new command through the hand-off's files.
    const made = tmux(
      'new-window', '-P', '-F', '#{pane_id}', '-t', 'main:', '-c', workdir, '-e', `TOKEN=${secretValue}`, '--',
      // The word `here\;`: this test's own tmux command needs the escape as much as bottle's does.
      process.execPath, bottle, 'run', 'attach', 'demo', '-b', 'docker', '--pane', 'respawn', '--secret', 'TOKEN', '--', 'here\\;',
    )
    const pane = made.stdout.trim()
    const got = await recorded()
    expect(got.argv.at(-1)).toBe('here;')
    expect(got.env['TOKEN']).toBe(secretValue)
    expect(got.env['TMUX_PANE']).toBe(pane)
    expect(readdirSync(scratch)).toStrictEqual([])
  })

  it('from a background window, no --target: respawn replaces bottle\'s own pane, never the active one', async () => {
    // The user's program, in the window they are looking at.
    const user = tmux('new-window', '-P', '-F', '#{pane_id} #{pane_pid}', '-t', 'main:', '--', 'sleep', '600').stdout.trim().split(' ')
    const [userPane = '', userPid = ''] = user
    expect(tmux('select-window', '-t', userPane).status).toBe(0)
    // bottle, started in a window in the background (-d): that window's pane is not the active one.
    const made = tmux(
      'new-window', '-d', '-P', '-F', '#{pane_id}', '-t', 'main:', '-c', workdir, '-e', `TOKEN=${secretValue}`, '--',
      process.execPath, bottle, 'run', 'attach', 'demo', '-b', 'docker', '--pane', 'respawn', '--secret', 'TOKEN',
    )
    const own = made.stdout.trim()
    const got = await recorded()
    expect(got.env['TMUX_PANE']).toBe(own)
    expect(got.env['TOKEN']).toBe(secretValue)
    // The user's pane still runs their program, the same process.
    expect(tmux('display-message', '-p', '-t', userPane, '#{pane_pid} #{pane_current_command} #{pane_dead}').stdout.trim()).toBe(`${userPid} sleep 0`)
    expect(tmux('display-message', '-p', '#{pane_id}').stdout.trim()).toBe(userPane)
  })

  it('from a background window, no --target: split opens beside bottle\'s own pane, in its window', async () => {
    const user = tmux('new-window', '-P', '-F', '#{pane_id}', '-t', 'main:', '--', 'sleep', '600').stdout.trim()
    expect(tmux('select-window', '-t', user).status).toBe(0)
    const userWindow = tmux('display-message', '-p', '-t', user, '#{window_id}').stdout.trim()
    const made = tmux(
      'new-window', '-d', '-P', '-F', '#{pane_id} #{window_id}', '-t', 'main:', '-c', workdir, '--',
      'sh', '-c', `${quote(process.execPath)} ${quote(bottle)} run attach demo -b docker; sleep 600`,
    )
    const [own = '', ownWindow = ''] = made.stdout.trim().split(' ')
    const got = await recorded()
    // The agent's pane is the other pane of bottle's window; the user's window still has one pane.
    const ownPanes = tmux('list-panes', '-t', ownWindow, '-F', '#{pane_id}').stdout.trim().split('\n')
    expect(ownPanes).toHaveLength(2)
    expect(ownPanes).toContain(own)
    expect(got.env['TMUX_PANE']).toBe(ownPanes.find((p) => p !== own))
    expect(tmux('list-panes', '-t', userWindow, '-F', '#{pane_id}').stdout.trim().split('\n')).toStrictEqual([user])
  })

  it('10 concurrent attaches respawning one pane: no hand-off directory, and no secret, is left in TMPDIR', async () => {
    // Each respawn kills the pane the one before opened, often before its /bin/sh read the files.
    const target = tmux('split-window', '-t', 'main:0', '-P', '-F', '#{pane_id}', '--', 'sleep', '600').stdout.trim()
    const args = ['run', 'attach', 'demo', '-b', 'docker', '--pane', 'respawn', '--target', target, '--secret', 'TOKEN']
    const runs = Array.from({ length: 10 }, () =>
      new Promise<number | null>((done) => {
        const child = spawn(process.execPath, [bottle, ...args], { cwd: workdir, env: { ...baseEnv, TOKEN: secretValue }, stdio: 'ignore' })
        child.on('exit', (code) => done(code))
      }),
    )
    expect(await Promise.all(runs)).toStrictEqual(Array(10).fill(0))
    // The watchers have handoffWaitSeconds; a loaded machine gets a few more.
    const deadline = Date.now() + (handoffWaitSeconds + 10) * 1000
    while (readdirSync(scratch).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect(readdirSync(scratch)).toStrictEqual([])
    // The pane that survived runs the stand-in: let it record, so no later test reads its record.
    expect((await recorded()).env['TOKEN']).toBe(secretValue)
    await new Promise((r) => setTimeout(r, 500))
    rmSync(record, { force: true })
  })

  it('a command at tmux\'s size limit opens; one byte more is a compile error', async () => {
    const args = (word: string) => ['attach', 'demo', '-b', 'docker', '--target', 'main:0.0', '--', word]
    // The words tmux packs: everything after `tmux`, each with a NUL.
    const size = (p: Plan) => (p.steps[0]?.argv.slice(1) ?? []).reduce((n, w) => n + Buffer.byteLength(w) + 1, 0)
    const longest = 'x'.repeat(1 + tmuxCommandLimit - size(planOf(args('x'))))
    expect(size(planOf(args(longest)))).toBe(tmuxCommandLimit)
    const r = run(['run', ...args(longest)])
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 0, stderr: '' })
    expect((await recorded()).argv.at(-1)).toBe(longest)
    const over = run(['run', ...args(`${longest}x`)])
    expect({ status: over.status, stderr: over.stderr }).toStrictEqual({
      status: 2,
      stderr: `bottle: the pane's command is ${tmuxCommandLimit + 1} bytes, and tmux takes at most ${tmuxCommandLimit} in one command: pass fewer or shorter agent arguments\n`,
    })
  })

  it('a secret missing from bottle\'s env: exit 2, no pane', () => {
    const before = panes().length
    const r = run(['run', 'attach', 'demo', '-b', 'docker', '--secret', 'TOKEN', '--target', 'main:0.0'])
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({
      status: 2,
      stderr: 'bottle: secret TOKEN not set in the host environment; nothing was run\n',
    })
    expect(panes()).toHaveLength(before)
  })

  it('claude as root without allow_root: exit 2 with the reason, no pane', () => {
    const before = panes().length
    const r = run(['run', 'attach', 'demo', '-b', 'docker', '--user', 'root', '--target', 'main:0.0'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^bottle: agent "claude" refuses to run as root/)
    expect(panes()).toHaveLength(before)
  })

  it('a target tmux does not know: tmux\'s message and exit code, nothing left behind', () => {
    const r = run(['run', 'attach', 'demo', '-b', 'docker', '--secret', 'TOKEN', '--target', 'nosuch:9.9'], { TOKEN: secretValue })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/can't find/)
    expect(readdirSync(scratch)).toStrictEqual([])
  })
})
