/**
 * The interrupt table on the real podman of scripts/test-engines.sh (tests/engines): a launch
 * interrupted at each of its steps, by SIGINT, SIGTERM and SIGHUP, exits 128+n and leaves no
 * container and no launch record (the engine polled for 10 s after the last run); an interrupted
 * second launch of an existing bottle leaves it. Each row prints its figures (trials, held).
 * Skipped, saying why, where no engine runs; `.ci/run` makes it required (BOTTLE_REQUIRE_ENGINES=1).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { client, enginesRequired, findEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const found = findEngine('podman')
const why = typeof found === 'string' ? found : null
if (why !== null) console.warn(`skipping the real podman interrupt table: ${why}`)

it.runIf(enginesRequired)('a podman engine is there for the interrupt table (BOTTLE_REQUIRE_ENGINES=1)', () => {
  expect(why).toBeNull()
})

const stateHome = mkdtempSync(join(tmpdir(), 'bottle-undo-podman-state-'))
const ws = mkdtempSync(join(tmpdir(), 'bottle-undo-podman-'))
writeFileSync(join(ws, 'prompt.md'), 'hi\n')
const env = { ...process.env, ...(typeof found === 'string' ? {} : found.clientEnv), XDG_STATE_HOME: stateHome }
const image = typeof found === 'string' ? '' : found.image
const podman = (...args: string[]) => (typeof found === 'string' ? spawnSync('false', { encoding: 'utf8' }) : client(found, args))
const common = ['-b', 'podman', '--image', image, '--workdir', ws, '--prompt', join(ws, 'prompt.md')]
/** Every container this file made, by name: removed at the end whatever happened. */
const made = new Set<string>()
afterAll(() => {
  if (made.size > 0) podman('rm', '-f', '--ignore', ...made)
  rmSync(stateHome, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

const ids = (name: string): string[] =>
  podman('ps', '-aq', '--no-trunc', '--filter', `name=^${name}$`).stdout.trim().split('\n').filter((l) => l !== '')

type Signal = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

/** `bottle run ARGS` in a process group of its own; `signal` to the group once stderr shows `marker`. */
const interrupted = (args: readonly string[], marker: string, signal: Signal, delayMs: number) =>
  new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(process.execPath, [cli, ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env })
    let err = ''
    let sent = false
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (!sent && err.includes(marker)) {
        sent = true
        setTimeout(() => process.kill(-(c.pid ?? 0), signal), delayMs)
      }
    })
    c.on('close', (code) => resolve({ code, err }))
  })

const signals: readonly Signal[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

describe.skipIf(why !== null)('the interrupt table on a real podman engine', () => {
  it('a launch interrupted at each step, by each signal: 128+n, nothing left (polled 10 s)', async () => {
    // The steps of a launch with a prompt: create, start, the user check, the launch record, then
    // the prompt's parent, its copy and its chown. Read from the plan, so the table follows it.
    const plan = JSON.parse(spawnSync(process.execPath, [cli, 'plan', 'launch', 'probe', ...common, '--format', 'json'], { env, encoding: 'utf8' }).stdout) as { steps: unknown[] }
    const steps = plan.steps.length
    expect(steps).toBeGreaterThanOrEqual(7)
    const rows: { step: number; signal: Signal; code: number | null; held: boolean }[] = []
    for (let k = 1; k <= steps; k++)
      for (const signal of signals) {
        const name = `kube-int-${process.pid}-${k}-${signal.slice(3).toLowerCase()}`
        made.add(name)
        const r = await interrupted(['run', 'launch', name, ...common], `[${k}/`, signal, 0)
        const expected = 128 + constants.signals[signal]
        const held = r.code === expected && ids(name).length === 0 && !existsSync(join(stateHome, 'bottle', 'podman', name)) && !r.err.includes('may have left')
        rows.push({ step: k, signal, code: r.code, held })
      }
    // A create the engine finishes after its client exited would show up late: look for 10 s.
    const end = Date.now() + 10_000
    let late: string[] = []
    while (Date.now() < end) {
      late = [...made].filter((n) => ids(n).length > 0)
      if (late.length > 0) break
      await new Promise((r) => setTimeout(r, 500))
    }
    console.log(`podman interrupt table: ${rows.filter((r) => r.held).length} of ${rows.length} held (steps 1-${steps} x SIGINT/SIGTERM/SIGHUP), ${late.length} container(s) turned up later`)
    for (const r of rows.filter((x) => !x.held)) console.log(`  did not hold: step ${r.step}, ${r.signal}, exit ${r.code}`)
    expect(rows.filter((r) => !r.held)).toStrictEqual([])
    expect(late).toStrictEqual([])
  }, 600_000)

  it('an interrupted second launch of an existing bottle leaves it (3 signals x 3 delays)', async () => {
    const name = `kube-dup-${process.pid}`
    made.add(name)
    expect(spawnSync(process.execPath, [cli, 'run', 'launch', name, ...common, '-q'], { env }).status).toBe(0)
    const [first] = ids(name)
    let held = 0
    let trials = 0
    for (const signal of signals)
      for (const delay of [0, 20, 60]) {
        // Without the first launch's record (an older bottle's), so that the second launch reaches podman.
        rmSync(join(stateHome, 'bottle', 'podman', name, 'record.json'), { force: true })
        const r = await interrupted(['run', 'launch', name, ...common], '[1/', signal, delay)
        trials++
        if (r.code !== 0 && ids(name).join() === first) held++
      }
    console.log(`podman duplicate launch interrupted: ${held} of ${trials} held (the first bottle left)`)
    expect(held).toBe(trials)
    expect(spawnSync(process.execPath, [cli, 'run', 'down', name, '-b', 'podman', '-q'], { env }).status).toBe(0)
    expect(ids(name)).toStrictEqual([])
  }, 600_000)
})
