/**
 * `npm run bench`: figures, not assertions (these machines are shared and noisy). Every row of
 * the start-up table, each timed as whole processes, medians of interleaved runs:
 *
 * 1. `bottle plan agent demo -b docker`, no manifest, vs `node -e 0`.
 * 2. The same with a small bottle.yaml beside it (the usual case), vs `node -e 0`.
 * 3. `bottle run exec NAME true` on bwrap vs the raw backend argv of its plan plus `node -e 0`. As
 *    root that argv is the plan's step whole: its root-only scan (find, src/backends/bwrap-scan.ts),
 *    then bwrap; the same work `bottle run` has the step do, so it is on both sides.
 * 4. The same on docker (the engine in $BOTTLE_ENGINES_ENV, else /tmp/bottle-engines/env;
 *    skipped, and said, when it does not answer).
 * 5. Launch plans per second ÷ agent plans per second, per backend, compiled in-process, in
 *    alternating slices (the ratio is the median of adjacent pairs': steady under shared load);
 *    beside it, CPU µs per compiled step of each (per plan ÷ the plan's top-level steps).
 * 6. The dashboard with 200 bottles: key press → drawn frame, and processes per refresh (bench/dash.ts).
 *
 * The bottles of rows 3 and 4 are launched for real under a state root of the bench's own, with
 * names of their own, and taken down at the end. Each process row also gives the median CPU time
 * (user + system, from GNU time), steadier than wall time when other work shares the machine.
 * BENCH_ROUNDS (15), BENCH_SECONDS (3 per backend for row 5) and BENCH_ROWS (startup,run,throughput,dash) tune a run;
 * BENCH_BOTTLE=path/to/bottle.js measures another build.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { backends } from '../src/backends/index.js'
import { compile } from '../src/compile.js'
import type { BottleOperation } from '../src/plan/operation.js'
import type { Backend, BwrapFacts } from '../src/backends/backend.js'
import type { NetworkSetting } from '../src/egress/policy.js'
import { clientEnv } from '../src/plan/client-env.js'
import type { Plan } from '../src/plan/types.js'
import { type BottleSpec, resolveSpec } from '../src/bottle-spec/spec.js'
import { writeRecordOf } from '../tests/records.js'
import { dashFigures } from './dash.js'

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

interface Cmd {
  readonly label: string
  readonly file: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
}

/** Wall time and, on a shared machine the steadier figure, CPU time (user + system) of one run. */
interface Timing {
  readonly wall: number
  readonly cpu: number
}

// GNU time reports a child's CPU time; node cannot. Without it, CPU columns read 0.
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const cpuFile = join(tmpdir(), `bottle-bench-cpu-${process.pid}`)

const timeOnce = (c: Cmd): Timing => {
  const [file, args] = gnuTime === null ? [c.file, c.args] : [gnuTime, ['-f', '%U %S', '-o', cpuFile, c.file, ...c.args]]
  const t0 = process.hrtime.bigint()
  execFileSync(file, args, { cwd: c.cwd, env: c.env, stdio: ['ignore', 'ignore', 'inherit'] })
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = gnuTime === null ? 0 : readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).reduce((a, x) => a + Number(x) * 1000, 0)
  return { wall, cpu }
}

/** Medians of `rounds` interleaved runs of each command (two warm-up rounds first). */
const interleaved = (cmds: readonly Cmd[], rounds: number): Timing[] => {
  const times = cmds.map((): Timing[] => [])
  for (let i = 0; i < rounds + 2; i++)
    for (const [k, c] of cmds.entries()) {
      const t = timeOnce(c)
      if (i >= 2) times[k]?.push(t)
    }
  return times.map((ts) => ({ wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) }))
}

const ms = (x: number): string => `${x.toFixed(1)} ms`.padStart(10)
// BENCH_BOTTLE: another build to measure (a before/after comparison), else this tree's dist/.
const bottleJs = process.env.BENCH_BOTTLE ?? join(process.cwd(), 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-bench-'))
const stateHome = join(root, 'state')
const benchEnv = { ...process.env, XDG_STATE_HOME: stateHome }
const node = (label: string, args: readonly string[], cwd: string, env = benchEnv): Cmd => ({ label, file: process.execPath, args, cwd, env })

/** Plans with the built CLI and returns the plan (JSON). */
const planOf = (args: readonly string[], cwd: string, env = benchEnv): Plan =>
  JSON.parse(execFileSync(process.execPath, [bottleJs, 'plan', ...args, '--format', 'json'], { cwd, env, encoding: 'utf8' })) as Plan

/** Rows 1 and 2: a launch record for docker's demo (written from its launch plan, nothing run). */
const planStartup = (rounds: number): void => {
  const bare = join(root, 'bare')
  const withManifest = join(root, 'with-manifest')
  for (const d of [bare, withManifest]) execFileSync('mkdir', ['-p', d])
  writeFileSync(
    join(withManifest, 'bottle.yaml'),
    'backend: docker\nbottles:\n  demo:\n    env:\n      CI: "1"\n      LANG: C.UTF-8\n    secrets: [CLAUDE_CODE_OAUTH_TOKEN]\n',
  )
  writeRecordOf(planOf(['launch', 'demo', '-b', 'docker'], withManifest))
  const [b, p, m] = interleaved(
    [
      node('node -e 0', ['-e', '0'], bare),
      node('plan agent, no manifest', [bottleJs, 'plan', 'agent', 'demo', '-b', 'docker', '--no-tty'], bare),
      node('plan agent, bottle.yaml', [bottleJs, 'plan', 'agent', 'demo', '-b', 'docker', '--no-tty'], withManifest),
    ],
    rounds,
  ) as [Timing, Timing, Timing]
  const row = (t: Timing, goal: string): string =>
    `${ms(t.wall)}   ${(t.wall / b.wall).toFixed(2)}x node   (goal <= ${goal})   cpu ${ms(t.cpu)} ${(t.cpu / b.cpu).toFixed(2)}x`
  console.log(`start-up, medians of ${rounds} interleaved runs (wall; cpu = user + system):`)
  console.log(`  node -e 0                                        ${ms(b.wall)}                              cpu ${ms(b.cpu)}`)
  console.log(`  bottle plan agent demo -b docker (no manifest)   ${row(p, '1.15x')}`)
  console.log(`  the same with a small bottle.yaml                ${row(m, '1.25x')}`)
}

/**
 * Rows 3 and 4: `bottle run exec NAME true` against the exec plan's own argv and env run
 * directly, plus `node -e 0` (what bottle's process costs at the least).
 */
const runExec = (backend: 'bwrap' | 'docker', extraEnv: Record<string, string>, launchArgs: readonly string[], rounds: number): void => {
  const name = `bench-${backend}-${process.pid}`
  const cwd = join(root, `ws-${backend}`)
  execFileSync('mkdir', ['-p', cwd])
  const env = { ...benchEnv, ...extraEnv }
  const launched = spawnSync(process.execPath, [bottleJs, 'run', 'launch', name, '-b', backend, '-q', ...launchArgs], { cwd, env, encoding: 'utf8' })
  if (launched.status !== 0) {
    console.log(`  run exec on ${backend}: skipped, the launch failed: ${launched.stderr.trim().split('\n').at(-1) ?? ''}`)
    return
  }
  try {
    const plan = planOf(['exec', name, 'true', '-b', backend], cwd, env)
    const [s] = plan.steps
    if (plan.steps.length !== 1 || s === undefined || s.env.vars.some((v) => v._tag === 'secret')) throw new Error(`exec on ${backend} is not one step without secrets`)
    const [file, ...args] = s.argv as [string, ...string[]]
    const rawEnv: Record<string, string> = s.env.inheritHost ? clientEnv(env) : {}
    for (const v of s.env.vars) if (v._tag === 'plain') rawEnv[v.name] = v.value
    const [b, raw, run] = interleaved(
      [
        node('node -e 0', ['-e', '0'], cwd),
        { label: 'raw argv', file, args, cwd, env: rawEnv },
        node('bottle run exec', [bottleJs, 'run', 'exec', name, 'true', '-b', backend, '-q'], cwd, env),
      ],
      rounds,
    ) as [Timing, Timing, Timing]
    console.log(
      `  ${backend.padEnd(6)} raw argv ${ms(raw.wall)} + node -e 0 ${ms(b.wall)}   bottle run exec ${ms(run.wall)}   ${(run.wall / (raw.wall + b.wall)).toFixed(2)}x   (goal <= 1.35x)` +
        `   cpu ${(run.cpu / (raw.cpu + b.cpu)).toFixed(2)}x (${run.cpu.toFixed(0)} vs ${raw.cpu.toFixed(0)}+${b.cpu.toFixed(0)} ms)`,
    )
  } catch (e) {
    // A shared engine: other work may stop or remove the bench's bottle meanwhile (a `down --all`).
    console.log(`  run exec on ${backend}: not measured, a run failed: ${(e as Error).message.split('\n')[0] ?? ''}`)
  } finally {
    spawnSync(process.execPath, [bottleJs, 'run', 'down', name, '-b', backend, '-q'], { cwd, env, stdio: 'inherit' })
  }
}

const engineEnv = (): Record<string, string> | null => {
  try {
    const text = readFileSync(process.env.BOTTLE_ENGINES_ENV ?? '/tmp/bottle-engines/env', 'utf8')
    return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  } catch {
    return null
  }
}

/**
 * bwrap's facts for the in-process row, for a Debian-like root (merged /usr). Written here, not
 * taken from the tests' helpers: those load vitest, whose hooks then run inside the timed loop.
 */
const bwrapFacts = (more: Partial<BwrapFacts>): BwrapFacts => ({
  stateDir: '/home/me/.local/state/bottle/bwrap',
  binary: '/usr/bin/bwrap',
  term: null,
  script: '/usr/bin/script',
  stateRoot: '/home/me/.local/state/bottle',
  hostHome: '/home/me',
  system: [
    { path: '/usr', kind: 'dir' },
    { path: '/bin', kind: 'symlink', target: 'usr/bin' },
    { path: '/sbin', kind: 'symlink', target: 'usr/sbin' },
    { path: '/lib', kind: 'symlink', target: 'usr/lib' },
    { path: '/lib64', kind: 'symlink', target: 'usr/lib64' },
    { path: '/etc', kind: 'dir' },
    { path: '/opt', kind: 'dir' },
  ],
  rootOnlyScan: [],
  resolvConf: null,
  bottle: null,
  ...more,
})

/** The bench's bottle spec: the usual manifest's, on `network` (absent: the default egress allow-list). */
const benchSpec = (network?: NetworkSetting) => {
  const spec = resolveSpec({
    name: 'demo',
    fromManifest: { env: [['CI', '1'], ['LANG', 'C.UTF-8']], secrets: ['CLAUDE_CODE_OAUTH_TOKEN'], prompt: '/src/app/prompt.md', ...(network === undefined ? {} : { network }) },
    fromFlags: {},
    cwd: '/src/app',
  })
  if (E.isLeft(spec)) throw new Error(spec.left.message)
  return spec.right
}

/**
 * Row 5: launch and agent plans per second, per backend, in-process. Load from the other work on
 * a shared machine swings by several times within seconds, so the two are measured in
 * alternating slices (agent, launch, agent, launch, …) and the figure is the median of each
 * adjacent pair's ratio: a swing slows both halves of a pair alike.
 */
const throughput = (seconds: number): void => {
  const slices = 15
  const sliceMs = (seconds * 1000) / slices
  // bwrap's facts: the bottle exists (with its prompt) for every op but launch; the other
  // backends ignore them. A launch over an existing bottle would be a quick Left, not a plan.
  const hostFor = (op: BottleOperation) => {
    const launched = op._tag !== 'launch'
    return {
      cwd: '/src/app',
      home: '/home/me',
      stateRoot: '/home/me/.local/state/bottle',
      stdinIsTTY: true,
      pathKinds: { '/src/app/prompt.md': 'file' as const },
      tmpdir: '/tmp',
      uid: 1000,
      bwrap: bwrapFacts({
        term: 'xterm',
        bottle: { launched, promptInstalled: launched, unsafe: null, users: ['node'], accounts: {} },
      }),
      cluster: { context: null, namespace: null },
    }
  }
  const agentOp: BottleOperation = { _tag: 'agent', args: ['-p', 'explain this repo'], tty: null }
  const launchOp: BottleOperation = { _tag: 'launch' }
  /**
   * Plans of `op` compiled in one slice, per second of this process's CPU time (user + system):
   * time the scheduler gives the other lanes' work is not counted, as it would be in wall time.
   */
  const slice = (backend: Backend, spec: BottleSpec, op: BottleOperation): number => {
    const host = hostFor(op)
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    let n = 0
    while (performance.now() - start < sliceMs) {
      for (let k = 0; k < 50; k++) compile(backend, spec, op, host)
      n += 50
    }
    const cpu = process.cpuUsage(cpu0)
    return n / ((cpu.user + cpu.system) / 1e6)
  }
  console.log(`plans compiled per CPU second, in-process (${slices} alternating agent/launch slices of ${sliceMs.toFixed(0)} ms wall; medians; ratio = median of each pair's):`)
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(9)
  for (const backend of Object.values(backends)) {
    // The default network (the agent's hosts through the egress door) where the backend has it;
    // else network: open, and the row says so.
    const defaults = benchSpec()
    const usable = [agentOp, launchOp].every((op) => E.isRight(compile(backend, defaults, op, hostFor(op))))
    const spec = usable ? defaults : benchSpec({ mode: 'open' })
    // Steps per plan (the top-level ones: an undo is part of its step), for the per-step figure.
    const stepsOf = (op: BottleOperation): number => {
      // A Left is a fast path, not a plan: make sure the figure is for compiling one.
      const once = compile(backend, spec, op, hostFor(op))
      if (E.isLeft(once)) throw new Error(`${backend.name} ${op._tag}: ${once.left.message}`)
      return once.right.steps.length
    }
    const agentSteps = stepsOf(agentOp)
    const launchSteps = stepsOf(launchOp)
    // One untimed pair first: the JIT's first optimizations land in it.
    slice(backend, spec, agentOp)
    slice(backend, spec, launchOp)
    const agent: number[] = []
    const launch: number[] = []
    const ratios: number[] = []
    for (let i = 0; i < slices; i++) {
      const a = slice(backend, spec, agentOp)
      const l = slice(backend, spec, launchOp)
      agent.push(a)
      launch.push(l)
      ratios.push(l / a)
    }
    const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`
    // CPU µs per plan ÷ its steps: whether launch's steps cost more than agent's one, or are just more.
    const perStep = (perSecond: number, steps: number): string => `${(1e6 / perSecond / steps).toFixed(2)} µs × ${steps}`
    console.log(
      `  ${backend.name.padEnd(10)} agent ${fmt(median(agent))}/s  launch ${fmt(median(launch))}/s  launch ÷ agent ${median(ratios).toFixed(2)} (pairs ${spread})   (goal >= 0.5)` +
        `   per step: agent ${perStep(median(agent), agentSteps)}, launch ${perStep(median(launch), launchSteps)}` +
        (usable ? '' : '   [network: open: the default egress allow-list does not compile on this backend yet]'),
    )
  }
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 15)
// BENCH_ROWS=startup,run,throughput (any of them; all by default) picks the rows to measure.
const rows = new Set((process.env.BENCH_ROWS ?? 'startup,run,throughput,dash').split(','))
try {
  if (rows.has('startup')) planStartup(rounds)
  if (rows.has('run')) {
    console.log(`bottle run exec NAME true vs its plan's raw argv + node -e 0, medians of ${rounds} interleaved runs:`)
    runExec('bwrap', {}, [], rounds)
    const engines = engineEnv()
    const image = engines?.BOTTLE_TEST_DOCKER_IMAGE
    if (engines === null || image === undefined || engines.DOCKER_HOST === undefined) console.log('  docker: skipped, no engine env file (scripts/test-engines.sh start)')
    else runExec('docker', { DOCKER_HOST: engines.DOCKER_HOST }, ['--image', image], rounds)
  }
  if (rows.has('throughput')) throughput(Number(process.env.BENCH_SECONDS ?? 3))
  if (rows.has('dash')) dashFigures()
} finally {
  rmSync(root, { recursive: true, force: true })
  rmSync(cpuFile, { force: true })
}
