/**
 * The host is read once, by main, into one value (Surroundings, src/host.ts) that everything
 * below takes as a parameter: the cwd, the clock and isTTY a run sees are the ones handed in,
 * and no module below main reads them itself. In-process, against the stand-in docker
 * executable (tests/standins.ts; not the real tool).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { docker } from '../../src/backends/docker.js'
import { main } from '../../src/cli.js'
import { type Surroundings, readSurroundings } from '../../src/host.js'
import type { Plan } from '../../src/plan/types.js'
import { listingHost } from '../arbitraries.js'
import { writeRecordOf } from '../records.js'
import { renderPs, standins } from '../standins.js'

const s = standins()
const root = mkdtempSync(join(tmpdir(), 'bottle-surroundings-'))
afterAll(() => {
  s.remove()
  rmSync(root, { recursive: true, force: true })
})
const env = { ...s.env, XDG_STATE_HOME: join(root, 'state') }

/** The labels the launch plan puts on demo: what a listing of it shows. */
let launchLabels: Record<string, string> = {}

const run = async (argv: string[], host: Partial<Surroundings> = {}) => {
  let out = ''
  const err: string[] = []
  const code = await main(argv, { out: (t) => void (out += t), err: (l) => void err.push(l), env }, { ...readSurroundings(env), ...host })
  return { code, out, err }
}

describe('what main is handed is what the run sees', () => {
  it('the cwd: launch binds the cwd handed in, not the process\'s', async () => {
    const cwd = mkdtempSync(join(root, 'ws-'))
    const r = await run(['plan', 'launch', 'demo', '-b', 'docker', '--format', 'json'], { cwd })
    expect(r.code).toBe(0)
    const plan = JSON.parse(r.out) as Plan
    expect(plan.steps[0]?.argv).toContain(`${cwd}:${cwd}`)
    expect(plan.steps[0]?.argv.join(' ')).not.toContain(`${process.cwd()}:`)
    writeRecordOf(plan)
    const words = plan.steps[0]?.argv ?? []
    launchLabels = Object.fromEntries(words.flatMap((w, i) => (w === '--label' ? [(words[i + 1] ?? '').split(/=(.*)/s).slice(0, 2)] : [])))
  })

  it.each([[true, true], [false, false]])('isTTY: stdin a terminal (%s) → agent gets a TTY (%s)', async (stdinIsTTY, tty) => {
    const r = await run(['plan', 'agent', 'demo', '-b', 'docker', '--format', 'json'], { stdinIsTTY })
    expect(r.code).toBe(0)
    const argv = (JSON.parse(r.out) as Plan).steps.at(-1)?.argv ?? []
    expect(argv.includes('-t')).toBe(tty)
  })

  it('isTTY: run agent --tty is refused when the stdin handed in is no terminal', async () => {
    const r = await run(['run', 'agent', 'demo', '-b', 'docker', '--tty'], { stdinIsTTY: false })
    expect(r.code).toBe(2)
    expect(r.err).toHaveLength(1)
    expect(r.err[0]).toContain('--tty needs a terminal on stdin')
    expect(s.calls()).toEqual([])
  })

  it('the clock: ls ages count from the `now` handed in', async () => {
    const created = 1_700_000_000
    const argv = docker.list(listingHost).at(-1)?.argv ?? []
    const format = argv[argv.indexOf('--format') + 1] ?? ''
    s.reply('docker', 'ps', renderPs(format, [{ name: 'demo', state: 'running', createdSec: created, offsetMin: 0, zone: 'UTC', image: 'node:22', labels: launchLabels }]))
    const age = async (minutes: number) => (await run(['ls', '-b', 'docker'], { now: (created + minutes * 60 + 30) * 1000 })).out
    expect(await age(5)).toMatch(/demo +docker +running +5m /)
    expect(await age(180)).toMatch(/demo +docker +running +3h /)
  })
})

describe('no module below main reads the host itself', () => {
  const srcDir = join(import.meta.dirname, '..', '..', 'src')
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
  /** Code only: comments may name what they avoid. */
  const code = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  // The edge: main.ts hands process.env over; host.ts reads the surroundings once (readSurroundings),
  // asking stdio.ts whether a descriptor is a terminal.
  // The dashboard's terminal shell is an edge of its own: it reads keys from stdin and the clock
  // on every tick (src/dash/model.ts, below it, gets both as events).
  const edge = new Set(['main.ts', 'host.ts', 'stdio.ts', 'dash/terminal.ts'])
  it.each(files(srcDir).filter((f) => !edge.has(f.slice(srcDir.length + 1))).map((f) => [f.slice(srcDir.length + 1), f]))('%s', (_name, file) => {
    expect(code(readFileSync(file, 'utf8'))).not.toMatch(/process\.(cwd|env|geteuid|getuid|stdin\b)|Date\.now\(|\bisatty\(|\bhomedir\(/)
  })
})
