/**
 * Launch ids on real bwrap (bubblewrap on this host): a run's undo removes a bottle only if its
 * state directory holds this run's launch id. Run by the built executable (node dist/bottle.js),
 * by the interpreter's own step runner, and as a `bottle plan --format sh` script under dash.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { runStep } from '../../src/interpret.js'
import { spawnProcess } from '../../src/spawn.js'
import { launchIdPattern } from '../../src/plan/types.js'
import type { Plan } from '../../src/plan/types.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-undo-bwrap-'))
const ws = join(root, 'ws')
mkdirSync(ws)
let n = 0
const roots: Record<string, string>[] = []
/** A private state root per test. */
const fresh = () => {
  const xdg = join(root, `state-${n++}`)
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: xdg }
  roots.push(env)
  return { env, stateOf: (name: string) => join(xdg, 'bottle', 'bwrap', name) }
}

const bottle = (args: readonly string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

// Every bottle a test launched goes down with its egress proxy, before its state root is removed.
afterAll(() => {
  for (const env of roots) bottle(['run', 'down', '--all', '-b', 'bwrap', '-q'], env)
  rmSync(root, { recursive: true, force: true })
})

const idIn = (state: string): string => readFileSync(join(state, 'launch-id'), 'utf8').trim()

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('launch ids on a real bwrap bottle', () => {
  it('launch writes a fresh launch id into the state directory; two launches, two ids', () => {
    const { env, stateOf } = fresh()
    const ids: string[] = []
    for (const name of ['one', 'two']) {
      expect(bottle(['run', 'launch', name, '-b', 'bwrap', '-q', '--workdir', ws], env).status).toBe(0)
      ids.push(idIn(stateOf(name)))
    }
    for (const id of ids) expect(id).toMatch(launchIdPattern)
    expect(ids[0]).not.toBe(ids[1])
  })

  it('the create\'s undo of another run (another id) leaves the bottle; with its own id it removes it', async () => {
    const { env, stateOf } = fresh()
    expect(bottle(['run', 'launch', 'demo', '-b', 'bwrap', '-q', '--workdir', ws], env).status).toBe(0)
    const plan = JSON.parse(bottle(['plan', 'launch', 'other', '-b', 'bwrap', '--workdir', ws, '--format', 'json'], env).stdout) as Plan
    const claim = plan.steps.find((s) => s.undo.length > 0)
    const undo = claim?.undo[0]
    if (undo === undefined) throw new Error('launch has no undo')
    // The same undo, aimed at demo's state directory (what a loser of two same-name launches runs).
    const aimed = { ...undo, argv: undo.argv.map((a) => (a === stateOf('other') ? stateOf('demo') : a)) }
    const ctx = { hostEnv: env }
    const other = await runStep(aimed, { ...ctx, launchId: '0123456789abcdef' }, spawnProcess)
    expect(other.code).toBe(0)
    expect(existsSync(join(stateOf('demo'), 'home'))).toBe(true)
    const own = await runStep(aimed, { ...ctx, launchId: idIn(stateOf('demo')) }, spawnProcess)
    expect(own.code).toBe(0)
    expect(existsSync(stateOf('demo'))).toBe(false)
  })

  it('item 1: the loser of two same-name launches, interrupted mid-create, leaves the winner\'s bottle (5 of 5)', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const { env, stateOf } = fresh()
      // Both pass the compile-time check (no bottle yet); the winner's mkdir comes first.
      const script = bottle(['plan', 'launch', 'demo', '-b', 'bwrap', '--workdir', ws, '--format', 'sh'], env).stdout
      expect(bottle(['run', 'launch', 'demo', '-b', 'bwrap', '-q', '--workdir', ws], env).status).toBe(0)
      const winner = idIn(stateOf('demo'))
      writeFileSync(join(ws, 'home-file'), 'x')
      // The loser: the saved plan as a script, under dash, interrupted as it runs.
      const loser = spawn('dash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      let stderr = ''
      loser.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      // Listened for from the start: a loser that fails before the interrupt has closed already.
      const closed = new Promise<number | null>((r) => loser.on('close', (c) => r(c)))
      await new Promise((r) => setTimeout(r, 5 + trial * 10))
      try {
        process.kill(-(loser.pid ?? 0), 'SIGINT')
      } catch {
        // It had finished already.
      }
      const code = await closed
      expect(code).not.toBe(0)
      expect(existsSync(join(stateOf('demo'), 'home'))).toBe(true)
      expect(idIn(stateOf('demo'))).toBe(winner)
      expect(stderr).not.toContain('launch id ' + winner)
    }
  })

  it('a --format sh script makes its own id each run, and undoes by it when a later step fails', () => {
    const { env, stateOf } = fresh()
    const script = bottle(['plan', 'launch', 'demo', '-b', 'bwrap', '--workdir', ws, '--format', 'sh'], env).stdout
    expect(script).toContain('od -An -N8 -tx1 /dev/urandom')
    const first = spawnSync('dash', ['-c', script], { env, encoding: 'utf8' })
    expect(first.status).toBe(0)
    const id1 = idIn(stateOf('demo'))
    expect(id1).toMatch(launchIdPattern)
    // The same script again: its plain mkdir fails; the first run's bottle stays as it was.
    const second = spawnSync('dash', ['-c', script], { env, encoding: 'utf8' })
    expect(second.status).not.toBe(0)
    expect(idIn(stateOf('demo'))).toBe(id1)
    // down, then the script with a sandbox check that fails: its own bottle is undone.
    expect(bottle(['run', 'down', 'demo', '-b', 'bwrap', '-q'], env).status).toBe(0)
    const broken = spawnSync('dash', ['-c', script.replace(' --unshare-all ', ' --no-such-flag ')], { env, encoding: 'utf8' })
    expect(broken.status).not.toBe(0)
    expect(existsSync(stateOf('demo'))).toBe(false)
  })
})
