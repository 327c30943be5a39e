/**
 * The attach hand-off and the pane's loader, run for real under dash and bash-as-sh, with a
 * stand-in `tmux` that does what tmux does with its argv (drops the subcommand and its flags
 * through `--`, turns a final `\;` into `;`) and starts the pane's words with a server-like
 * environment. The real tmux is in tmux.test.ts; this file is where the many hostile values go.
 *
 * Checked: the backend stand-in gets exactly the pane step's argv and, for each of its variables,
 * exactly the value bottle would give it (plain values from the plan, secrets from the host env);
 * an exact environment is exactly those variables; nothing is left in the temporary directory.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { attachStep, shellReserved } from '../../src/attach.js'
import { docker } from '../../src/backends/docker.js'
import { compile } from '../../src/compile.js'
import { runStep } from '../../src/interpret.js'
import { spawnProcess } from '../../src/spawn.js'
import { type EnvVar, type Step, plain, secret, secretSource, step } from '../../src/plan/types.js'
import { envKeyArb, nastyString, nastyStringArb, specArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const root = mkdtempSync(join(tmpdir(), 'bottle-handoff-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const bin = join(root, 'bin')
const bashAsSh = join(root, 'bash-as-sh')
const log = join(root, 'log')
mkdirSync(bin)
mkdirSync(bashAsSh)
symlinkSync('/bin/bash', join(bashAsSh, 'sh'))

const executable = (path: string, text: string): void => {
  writeFileSync(path, text)
  chmodSync(path, 0o755)
}

// The backend stand-in records its argv and environment. Node, not sh: dash exports a PWD of its
// own, which would hide whether the pane's environment is exact.
const recorder = join(bin, 'bottle-rec')
executable(
  recorder,
  `#!${process.execPath}
require('node:fs').writeFileSync(${JSON.stringify(log)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }))
`,
)
executable(join(bin, 'docker'), `#!/bin/sh\nexec '${recorder}' "$@"\n`)

// tmux's argv handling (cmd-parse.y, arguments.c), for argv whose flags hold no `--`. The pane
// gets the server's environment: here PATH and one marker, so the test sees which env it got.
executable(
  join(bin, 'tmux'),
  `#!/bin/sh
while [ "$1" != -- ]; do shift; done
shift
n=$#
for a; do
  case $a in *'\\;') a="\${a%??};" ;; esac
  set -- "$@" "$a"
done
shift "$n"
exec /usr/bin/env -i PATH="$PATH" FROM_TMUX_SERVER=1 "$@"
`,
)

interface Shell {
  readonly name: string
  /** PATH for the hand-off's `sh`, and the word that replaces the pane's `/bin/sh`. */
  readonly path: string
  readonly paneSh: string
}
const shells: readonly Shell[] = [
  { name: 'dash', path: `${bin}:/usr/bin:/bin`, paneSh: '/bin/dash' },
  { name: 'bash as sh', path: `${bashAsSh}:${bin}:/usr/bin:/bin`, paneSh: join(bashAsSh, 'sh') },
]

/** Names a shell will not hand on (src/attach.ts shellReserved; the plan notes them). */
const reservedBy = (shell: Shell, name: string): boolean =>
  shell.name === 'dash' ? name === 'OPTIND' : shellReserved.has(name)

let runId = 0

/** Runs the attach step as `bottle run` would, then reads what the stand-in backend got. */
const runAttach = async (attach: Step, shell: Shell, hostEnv: Record<string, string>) => {
  const tmp = join(root, `tmp-${runId++}`)
  mkdirSync(tmp)
  rmSync(log, { force: true })
  // The pane's shell is the first `/bin/sh` word; the hand-off's temporary directory is its fifth word.
  const paneSh = attach.argv.indexOf('/bin/sh')
  const argv = attach.argv.map((w, i) => (i === paneSh ? shell.paneSh : i === 4 && attach.argv[0] === 'sh' ? tmp : w))
  const result = await runStep({ ...attach, argv }, { hostEnv: { ...hostEnv, PATH: shell.path } }, spawnProcess)
  expect({ code: result.code, stderr: result.stderr }).toStrictEqual({ code: 0, stderr: '' })
  const got = JSON.parse(readFileSync(log, 'utf8')) as { argv: string[]; env: Record<string, string> }
  return { argv: got.argv, env: new Map(Object.entries(got.env)), left: readdirSync(tmp) }
}

const made = (s: E.Either<{ message: string }, Step>): Step => {
  if (E.isLeft(s)) throw new Error(s.left.message)
  return s.right
}

/** What each variable of the pane step should hold: a plain value, or the host's secret. */
const expectedValues = (vars: readonly EnvVar[], hostEnv: Record<string, string>): [string, string][] =>
  vars.map((v) => [v.name, v._tag === 'plain' ? v.value : (hostEnv[secretSource(v)] ?? '')])

describe.each(shells.map((s) => [s.name, s] as const))('attach hand-off under %s', (_name, shell) => {
  test.prop(
    [specArb, fc.array(nastyStringArb, { maxLength: 3 }), fc.array(nastyString({ minLength: 0 }), { minLength: 8, maxLength: 8 })],
    { numRuns: Math.ceil(runs / 8) },
  )('docker: the stand-in gets the pane step\'s argv, and each secret from bottle\'s env', async (spec, args, values) => {
    // A secret named PATH would be the PATH docker is looked up in, on every op: not this test's case.
    const secrets = spec.secrets.filter((n) => n !== 'PATH' && !reservedBy(shell, n))
    const s = { ...spec, secrets, env: spec.env.filter(([k]) => !secrets.includes(k)) }
    const plan = compile(docker, s, { _tag: 'attach', pane: 'split', target: '%1', resume: false, args }, {
      cwd: s.workdir, home: '/home/me', stateRoot: '/home/me/.local/state/bottle', stdinIsTTY: false, pathKinds: s.prompt === null ? {} : { [s.prompt]: 'file' }, tmpdir: `${root}/TMP`, uid: 1000, bwrap: null, cluster: { context: null, namespace: null },
    })
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    // The pane step; a bottle with an egress door may first start its stopped proxy.
    const attach = plan.right.steps.find((st) => st.pane !== undefined)
    const pane = attach?.pane
    if (attach === undefined || pane === undefined) throw new Error('no pane step')
    const hostEnv = Object.fromEntries(secrets.map((n, i) => [n, values[i % values.length] ?? '']))
    const got = await runAttach(attach, shell, hostEnv)
    expect(got.argv).toStrictEqual(pane.argv.slice(1))
    expect(expectedValues(pane.env.vars, hostEnv).filter(([k, v]) => got.env.get(k) !== v)).toStrictEqual([])
    // The server's env, not bottle's: docker's env is the host's on the tmux side.
    expect(got.env.get('FROM_TMUX_SERVER')).toBe('1')
    expect(got.left).toStrictEqual([])
  })

  const varArb = fc.tuple(envKeyArb, fc.boolean(), nastyString({ minLength: 0 }))

  test.prop(
    [fc.uniqueArray(varArb, { selector: ([k]) => k, minLength: 1, maxLength: 6 }), fc.boolean(), fc.array(nastyStringArb, { maxLength: 4 })],
    { numRuns: Math.ceil(runs / 8) },
  )('any step: plain and secret variables, inherited or exact env', async (vars, inheritHost, words) => {
    // A secret named PATH would also be the PATH the hand-off finds sh and tmux in.
    const usable = vars.filter(([k, isSecret]) => !(isSecret && k === 'PATH') && !reservedBy(shell, k))
    fc.pre(usable.length > 0)
    const envVars = usable.map(([k, isSecret, v]) => (isSecret ? secret(k) : plain(k, v)))
    const hostEnv = Object.fromEntries(usable.filter(([, isSecret]) => isSecret).map(([k, , v]) => [k, v]))
    const run = step('the agent', [recorder, ...words], { env: { inheritHost, vars: envVars }, stdio: 'terminal' })
    const attach = made(attachStep(run, { pane: 'window', target: null, window: 'w;' }, 'the agent', `${root}/TMP`))
    const got = await runAttach(attach, shell, hostEnv)
    expect(got.argv).toStrictEqual(words)
    expect(expectedValues(envVars, hostEnv).filter(([k, v]) => got.env.get(k) !== v)).toStrictEqual([])
    // Exact: only the variables (bash as sh adds `_` and SHLVL on every exec, which the loader
    // cannot stop).
    const bashAdds = (k: string) => shell.name !== 'dash' && (k === '_' || k === 'SHLVL')
    if (!inheritHost) expect([...got.env.keys()].filter((k) => !bashAdds(k)).sort()).toStrictEqual(envVars.map((v) => v.name).sort())
    if (inheritHost) expect(got.env.get('FROM_TMUX_SERVER')).toBe('1')
    expect(got.left).toStrictEqual([])
  })
})

describe('attach hand-off failures', () => {
  it('removes the private directory when tmux fails, and passes tmux\'s exit code on', async () => {
    const failing = join(root, 'failing')
    mkdirSync(failing)
    executable(join(failing, 'tmux'), '#!/bin/sh\necho "no server running" >&2\nexit 1\n')
    const tmp = join(root, 'tmp-failing')
    mkdirSync(tmp)
    const run = step('the agent', [recorder], { env: { inheritHost: true, vars: [secret('TOKEN')] } })
    const attach = made(attachStep(run, { pane: 'split', target: null, window: 'w' }, 'the agent', tmp))
    const r = await runStep(attach, { hostEnv: { PATH: `${failing}:/usr/bin:/bin`, TOKEN: 's3cret' } }, spawnProcess)
    expect({ code: r.code, stderr: r.stderr, left: readdirSync(tmp) }).toStrictEqual({ code: 1, stderr: 'no server running\n', left: [] })
  })

  it('fails before tmux when the temporary directory is unusable', async () => {
    const run = step('the agent', [recorder], { env: { inheritHost: true, vars: [secret('TOKEN')] } })
    const attach = made(attachStep(run, { pane: 'split', target: null, window: 'w' }, 'the agent', join(root, 'missing')))
    const r = await runStep(attach, { hostEnv: { PATH: `${bin}:/usr/bin:/bin`, TOKEN: 's3cret' } }, spawnProcess)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/mktemp/)
  })
})
