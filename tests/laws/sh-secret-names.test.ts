/**
 * `--format sh` scripts keep their own state in shell variables named `bottle_…` (bottle_err,
 * bottle_undo, bottle_rc, bottle_launch_id, …). A secret is a variable of the script's
 * environment under its own name, so a secret named like one of them was overwritten by the
 * script (`bottle_err=$(mktemp)`) and the bottle got a temp file's path instead of the value. The
 * `bottle_` prefix is reserved: such a secret is refused (exit 2, one line); for every other name
 * the script, run by real dash, hands the backend the same argv and the same value as `bottle run`.
 * Against the stand-in docker and smolvm (tests/standins; not the real tools).
 */
import { fc, test } from '@fast-check/vitest'
import { execa } from 'execa'
import { afterEach, describe, expect } from 'vitest'
import { nastyString, secretNameArb } from '../arbitraries.js'
import { type Invocation, type Sandbox, bottle, lines, sandbox, spawnRuns, standinBackends } from '../standins/harness.js'

let sb: Sandbox | null = null
afterEach(() => {
  sb?.dispose()
  sb = null
})

/** The script's own variables and functions, and the shell's special variables. */
const scriptNames = [
  'bottle_err', 'bottle_undo', 'bottle_rc', 'bottle_launch_id', 'bottle_sig', 'bottle_pid', 'bottle_status',
  'bottle_bad', 'bottle_trapped', 'bottle_w', 'bottle_v', 'bottle_live', 'bottle_keep_TOKEN', 'bottle_clear',
  'bottle_fail', 'bottle_wait', 'bottle_on', 'bottle_force', 'bottle_left', 'bottle_',
  'IFS', 'PS4', 'OPTIND', 'ENV', 'PWD', 'OLDPWD', 'LINENO', 'PPID', 'SHELL', 'TMPDIR', 'LANG', 'LC_ALL', 'BOTTLE_ERR',
] as const

/** Variables sh sets itself at startup, so a stand-in (a sh script) never shows what it was given. */
const shellOwn: readonly string[] = ['PWD', 'OLDPWD', 'OPTIND', 'PPID', 'IFS', 'LINENO', 'PS1', 'PS2', 'PS4']

// PATH and HOME are left out: as secrets they move where the stand-in is found and logs.
const nameArb = fc.oneof(fc.constantFrom(...scriptNames), secretNameArb).filter((n) => n !== 'PATH' && n !== 'HOME')

// A uuid first, so the value is never found by accident; then characters that break quoting.
const valueArb = fc.tuple(fc.uuid(), nastyString({ maxFragments: 4 })).map(([u, s]) => `${u}${s}`)

/** What the backend was handed: its argv, and the secret's value in its environment. */
const handed = (log: readonly Invocation[], name: string) =>
  log.map((i) => ({ tool: i.tool, argv: i.argv.map((w) => (runId.test(w) ? '<run id>' : w)), value: shellOwn.includes(name) ? null : (i.env[name] ?? null) }))

/** A run's own id (16 hex digits, fresh each run): the one word that differs by design. */
const runId = /^[0-9a-f]{16}$/

describe.each(standinBackends)('secret names in a --format sh script, against a stand-in %s', (backend) => {
  test.prop([nameArb, valueArb], { numRuns: spawnRuns })('refused with one line, or the script does what bottle run does', async (name, value) => {
    sb?.dispose()
    const box = sandbox()
    sb = box
    const env = { ...box.env, [name]: value }
    const launched = await bottle(['run', 'launch', 'demo', '-b', backend, '--workdir', box.workdir, '--secret', name, '--network', 'open', '-q'], env)
    if (name.startsWith('bottle_')) {
      expect(launched.code).toBe(2)
      expect(lines(launched.stderr)).toEqual([`bottle: --secret: secret name "${name}" is reserved: names starting with bottle_ are the --format sh script's own variables`])
      expect(box.log()).toEqual([])
      return
    }
    expect({ code: launched.code, stderr: launched.stderr }).toEqual({ code: 0, stderr: '' })
    box.clearLog()
    const ran = await bottle(['run', 'exec', 'demo', 'true', '-b', backend], env)
    const byRun = handed(box.log(), name)
    box.clearLog()
    const planned = await bottle(['plan', 'exec', 'demo', 'true', '-b', backend, '--format', 'sh'], env)
    expect(planned.code).toBe(0)
    const script = await execa('/usr/bin/dash', ['-c', planned.stdout], { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 15_000 })
    expect({ code: script.exitCode, timedOut: script.timedOut, log: handed(box.log(), name) }).toEqual({ code: ran.code, timedOut: false, log: byRun })
    // (The stand-ins start through sh, which sets its own PWD, OPTIND, PPID, IFS, … whatever it gets.)
    if (!shellOwn.includes(name)) expect(byRun.some((c) => c.value === value)).toBe(true)
  }, 180_000)
})
