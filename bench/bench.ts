/**
 * `npm run bench`: figures, not assertions (these machines are shared and noisy).
 *
 * 1. Start-up: `bottle plan agent …` from the bundle, next to a bare `node -e 0`, interleaved in
 *    the same run; medians of each and their ratio.
 * 2. Throughput: agent and launch plans compiled per second, in-process.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { backends } from '../src/backends/index.js'
import { type Operation, compile } from '../src/compile.js'
import { resolveSpec } from '../src/spec/spec.js'
import { bwrapBaseFacts } from '../tests/arbitraries.js'

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const timeOnce = (file: string, args: string[], cwd: string): number => {
  const t0 = process.hrtime.bigint()
  execFileSync(file, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] })
  return Number(process.hrtime.bigint() - t0) / 1e6
}

const startup = (rounds: number): void => {
  // An empty directory: no bottle.yaml, so the bench measures the CLI, not a manifest.
  const cwd = mkdtempSync(join(tmpdir(), 'bottle-bench-'))
  const bottle = join(process.cwd(), 'dist', 'bottle.js')
  const bare: number[] = []
  const plan: number[] = []
  for (let i = 0; i < rounds + 2; i++) {
    const b = timeOnce(process.execPath, ['-e', '0'], cwd)
    const p = timeOnce(process.execPath, [bottle, 'plan', 'agent', 'demo', '-b', 'docker', '--no-tty'], cwd)
    if (i >= 2) {
      // the first two rounds warm the page cache
      bare.push(b)
      plan.push(p)
    }
  }
  const mb = median(bare)
  const mp = median(plan)
  console.log(`start-up, median of ${rounds} interleaved runs:`)
  console.log(`  node -e 0                          ${mb.toFixed(1)} ms`)
  console.log(`  bottle plan agent demo -b docker   ${mp.toFixed(1)} ms`)
  console.log(`  ratio                              ${(mp / mb).toFixed(2)}x`)
}

const throughput = (seconds: number): void => {
  const spec = resolveSpec({
    name: 'demo',
    fromManifest: { env: [['CI', '1'], ['LANG', 'C.UTF-8']], secrets: ['CLAUDE_CODE_OAUTH_TOKEN'], prompt: '/src/app/prompt.md' },
    fromFlags: {},
    cwd: '/src/app',
  })
  if (E.isLeft(spec)) throw new Error(spec.left.message)
  // bwrap's facts: the bottle exists (with its prompt) for every op but launch; the other
  // backends ignore them. A launch over an existing bottle would be a quick Left, not a plan.
  const hostFor = (op: Operation) => {
    const launched = op._tag !== 'launch'
    return {
      cwd: '/src/app',
      home: '/home/me',
      stateRoot: '/home/me/.local/state/bottle',
      stdinIsTTY: true,
      pathKinds: { '/src/app/prompt.md': 'file' as const },
      tmpdir: '/tmp',
      uid: 1000,
      bwrap: bwrapBaseFacts('/home/me/.local/state/bottle/bwrap', {
        term: 'xterm',
        bottle: { launched, promptInstalled: launched, unsafe: null, users: ['node'], accounts: {} },
      }),
      cluster: { context: null, namespace: null },
    }
  }
  const ops: [string, Operation][] = [
    ['agent', { _tag: 'agent', args: ['-p', 'explain this repo'], tty: null }],
    ['launch', { _tag: 'launch' }],
  ]
  console.log(`plans compiled per second (each for ${seconds} s, median of 5 slices):`)
  for (const backend of Object.values(backends))
    for (const [label, op] of ops) {
      // A Left is a fast path, not a plan: make sure the figure is for compiling one.
      const once = compile(backend, spec.right, op, hostFor(op))
      if (E.isLeft(once)) throw new Error(`${backend.name} ${label}: ${once.left.message}`)
      const rates: number[] = []
      for (let slice = 0; slice < 5; slice++) {
        const end = performance.now() + (seconds * 1000) / 5
        let n = 0
        while (performance.now() < end) {
          const host = hostFor(op)
          for (let k = 0; k < 100; k++) compile(backend, spec.right, op, host)
          n += 100
        }
        rates.push(n / (seconds / 5))
      }
      console.log(`  ${backend.name.padEnd(8)} ${label.padEnd(7)} ${Math.round(median(rates)).toLocaleString('en-US')} plans/s`)
    }
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 15)
startup(rounds)
throughput(Number(process.env.BENCH_SECONDS ?? 1))
