/**
 * --help: every operation, in both modes, prints usage with an Example on stdout and exits 0, and
 * the example it shows is one that works (`bottle plan` accepts it). Stand-in smolvm and docker
 * executables are on PATH (tests/standins; not the real tools) so that "nothing ran" can be seen.
 */
import { execa } from 'execa'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { flagsOf } from '../../src/cli/ops.js'
import { type Plan, backendNames, opNames } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'
import { type Sandbox, bottle, bottleJs, bottleProcess, sandbox } from '../standins/harness.js'

let sb: Sandbox
beforeAll(() => {
  sb = sandbox()
})

/** demo launched on every backend (its launch record there), whichever the examples pick. */
const launchedEverywhere = async (): Promise<void> => {
  for (const b of backendNames) {
    const r = await bottle(['plan', 'launch', 'demo', '-b', b, '--workdir', sb.workdir, '--format', 'json'], sb.env)
    if (r.code === 0) writeRecordOf(JSON.parse(r.stdout) as Plan)
  }
}
afterAll(() => sb.dispose())

const modes = ['plan', 'run'] as const

describe.each(modes)('bottle %s OP --help', (mode) => {
  it.each(opNames)('%s: usage and an Example on stdout, exit 0, nothing run', async (op) => {
    const r = await bottle([mode, op, '--help'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(new RegExp(`^Usage: bottle ${mode} ${op} `))
    expect(r.stdout).toMatch(new RegExp(`\\nExample:\\n  bottle ${mode} ${op}\\b`))
    expect(sb.log()).toEqual([])
  })
})

it.each([[['--help']], [['-h']], [['help']], [['plan', '--help']], [['run', '--help']], [['help', 'run']], [['run', 'help', 'exec']]])(
  '%j prints usage on stdout and exits 0',
  async (args) => {
    const r = await bottle(args, sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Usage: bottle/)
    expect(r.stderr).toBe('')
  },
)

describe("each operation's example, as `bottle plan` (through sh, with the built executable)", () => {
  it.each(opNames)('%s', async (op) => {
    if (op !== 'launch') await launchedEverywhere()
    // fetch brings commits into the repository the cwd is in, from a workdir that is one.
    if (op === 'fetch') mkdirSync(join(sb.workdir, '.git'), { recursive: true })
    const help = (await bottle(['plan', op, '--help'], sb.env)).stdout
    const example = /\nExample:\n {2}(bottle .*)\n/.exec(help)?.[1]
    expect(example).toBeDefined()
    // A `bottle` on PATH, and a directory where the example's relative paths exist.
    const bin = join(sb.root, 'bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(bin, 'bottle'), `#!/bin/sh\nexec '${process.execPath}' '${bottleJs}' "$@"\n`, { mode: 0o755 })
    mkdirSync(join(sb.workdir, 'fixtures'), { recursive: true })
    // auth import copies the host's own sign-in: the home has one to copy.
    if (op === 'auth') {
      mkdirSync(join(sb.env.HOME ?? '', '.claude'), { recursive: true })
      writeFileSync(join(sb.env.HOME ?? '', '.claude', '.credentials.json'), '{}')
    }
    const r = await execa('/bin/sh', ['-c', example ?? 'false'], {
      cwd: sb.workdir,
      env: { ...sb.env, PATH: `${bin}:${sb.env.PATH}` },
      extendEnv: false,
      reject: false,
    })
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain(`${op}`)
    expect(sb.log()).toEqual([])
  })
})

describe('update --help', () => {
  it('run update offers --yes and says when it is needed; plan update, which never asks, has none', async () => {
    const run = await bottle(['run', 'update', '--help'], sb.env)
    expect(run.stdout).toContain('-y, --yes')
    expect(run.stdout).toContain('apply without asking')
    const plan = await bottle(['plan', 'update', '--help'], sb.env)
    expect(plan.stdout).not.toContain('-y, --yes')
    expect((await bottle(['plan', 'update', 'demo', '--yes'], sb.env)).code).toBe(2)
  })

  it('the op list names update', async () => {
    const r = await bottle(['run', '--help'], sb.env)
    expect(r.stdout).toMatch(/\n {2}update \[options\] <name> +show how the manifest and flags differ from the launch record/)
  })
})

describe("each operation's help lists exactly the flags it takes (src/cli/ops.ts)", () => {
  it.each(modes.flatMap((mode) => opNames.map((op) => [mode, op] as const)))('%s %s', async (mode, op) => {
    const help = (await bottle([mode, op, '--help'], sb.env)).stdout
    const listed = [...help.matchAll(/^ {2}(?:-\w, | {4})--([a-z-]+)/gm)].map((m) => m[1]).filter((f) => f !== 'help')
    expect(listed).toStrictEqual([...flagsOf(mode, op)])
  })
})

describe('--version, through the built executable', () => {
  it.each([['--version'], ['-V']])("%s prints package.json's version on stdout, exit 0, nothing run", async (flag) => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
    const r = await bottleProcess([flag], sb.env)
    expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toStrictEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
    expect(sb.log()).toEqual([])
  })
})

describe('top-level help: every operation, each with an example', () => {
  it.each(opNames)('%s', async (op) => {
    const r = await bottle(['--help'], sb.env)
    expect(r.stdout).toMatch(new RegExp(`\\n {2}${op} .*\\n.*\\n {6}e\\.g\\. bottle run ${op}\\b`))
  })
})
