/**
 * The part of a kubernetes exec argv that runs inside the container (everything after kubectl's
 * `--`: runuser, env, the cd wrapper, the command), run here on the host with real runuser, GNU
 * env and dash, with the Pod's env (its secrets) as the starting environment. A recorder as the
 * command reports its user, cwd, env and argv, which must be the step's intent. It needs root
 * and runuser (util-linux), as the container does; elsewhere it is skipped, and says so.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import { type HostFacts, defaultCluster } from '../../src/backends/backend.js'
import { kubernetes } from '../../src/backends/kubernetes.js'
import { compile } from '../../src/compile.js'
import { onPath } from '../../src/host.js'
import { resolveSpec } from '../../src/bottle-spec/spec.js'
import { envAndSecretsArb, nastyString, nastyStringArb } from '../arbitraries.js'

const canRun = process.getuid?.() === 0 && onPath('runuser', process.env.PATH) && spawnSync('id', ['nobody']).status === 0
const skipped = canRun ? '' : ' (skipped: needs root, runuser and a user "nobody")'

const dir = mkdtempSync(join(tmpdir(), 'bottle-k8s-guest-'))
chmodSync(dir, 0o755)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Prints what the command got, as JSON on stdout; readable by "nobody".
const recorder = join(dir, 'record.cjs')
writeFileSync(
  recorder,
  'process.stdout.write(JSON.stringify({ uid: process.getuid(), cwd: process.cwd(), env: process.env, argv: process.argv.slice(2) }))\n',
)
chmodSync(recorder, 0o644)

let dirs = 0

/** A secret called PATH would replace the PATH runuser is found by, in the Pod as here. */
const noPathSecret = envAndSecretsArb.map((e) => ({ ...e, secrets: e.secrets.map((k) => (k === 'PATH' ? 'PATH_S' : k)) }))

/** The words after kubectl's own `--`: what kubectl exec hands the container. */
const inContainer = (argv: readonly string[]): string[] => argv.slice(argv.indexOf('--') + 1)

describe.skipIf(!canRun)(`the in-container argv does what the intent says${skipped}`, () => {
  test.prop(
    [noPathSecret, fc.array(nastyString({ minLength: 1 }), { minLength: 2, maxLength: 2 }), fc.array(nastyStringArb, { maxLength: 4 }), fc.constantFrom('root', 'nobody'), nastyString({ minLength: 1, maxFragments: 3 })],
    { numRuns: 15 },
  )('user, HOME, USER, env, secrets, cwd and argv arrive as planned', (envAndSecrets, secretValues, args, user, dirName) => {
    // A workdir with a hostile name that exists (launch makes it in the Pod) and "nobody" can enter.
    const workdir = join(dir, `w${dirs++}-${dirName.replace(/[/\0]/g, '_')}`)
    mkdirSync(workdir)
    chmodSync(workdir, 0o755)
    const spec = resolveSpec({ name: 'demo', fromManifest: { ...envAndSecrets, network: { mode: 'open' } }, fromFlags: { user, allowRoot: user === 'root' }, cwd: workdir })
    if (E.isLeft(spec)) throw new Error(spec.left.message)
    const host: HostFacts = { cwd: workdir, home: '/home/me', stateRoot: '/home/me/.local/state/bottle', stdinIsTTY: false, pathKinds: {}, tmpdir: '/tmp', uid: 0, bwrap: null, cluster: defaultCluster }
    const plan = compile(kubernetes, spec.right, { _tag: 'agent', args, tty: false }, host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const step = plan.right.steps[0]
    const intent = step?.guest?.intent
    if (step === undefined || intent === undefined) throw new Error('no guest step')
    // The recorder stands in for the agent: same framing, the intent's arguments after it.
    const argv = [...inContainer(step.guest?.framing ?? []), process.execPath, recorder, ...intent.argv.slice(1)]
    // The container's env: PATH, and the Pod's secrets from the Secret (values made up here).
    const podEnv = Object.fromEntries(spec.right.secrets.map((k, i) => [k, secretValues[i % 2] as string]))
    const r = spawnSync(argv[0] as string, argv.slice(1), { env: { PATH: process.env.PATH, ...podEnv } })
    expect(r.stderr.toString()).toBe('')
    const got = JSON.parse(r.stdout.toString()) as { uid: number; cwd: string; env: Record<string, string>; argv: string[] }
    expect(got.uid).toBe(user === 'root' ? 0 : 65534)
    expect(got.cwd).toBe(workdir)
    expect(got.argv).toStrictEqual(intent.argv.slice(1))
    // HOME is the intent's, not passwd's (/nonexistent for nobody): env runs after runuser.
    expect({ HOME: got.env.HOME, USER: got.env.USER }).toStrictEqual({ HOME: intent.home, USER: user })
    for (const [k, v] of intent.env) expect(got.env[k]).toBe(v)
    for (const k of intent.secrets) expect(got.env[k]).toBe(podEnv[k])
  })

  test.prop([noPathSecret], { numRuns: 10 })('plumbing runs as root in / without the Pod\'s secrets', (envAndSecrets) => {
    const spec = resolveSpec({ name: 'demo', fromManifest: { ...envAndSecrets, network: { mode: 'open' } }, fromFlags: {}, cwd: dir })
    if (E.isLeft(spec)) throw new Error(spec.left.message)
    const host: HostFacts = { cwd: dir, home: '/home/me', stateRoot: '/home/me/.local/state/bottle', stdinIsTTY: false, pathKinds: {}, tmpdir: '/tmp', uid: 0, bwrap: null, cluster: defaultCluster }
    const plan = compile(kubernetes, spec.right, { _tag: 'launch' }, host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const workdirStep = plan.right.steps.find((s) => s.guest !== undefined)
    const argv = [...inContainer(workdirStep?.guest?.framing ?? []), process.execPath, recorder]
    const podEnv = Object.fromEntries(spec.right.secrets.map((k) => [k, 'in the pod']))
    const r = spawnSync(argv[0] as string, argv.slice(1), { env: { PATH: process.env.PATH, ...podEnv } })
    const got = JSON.parse(r.stdout.toString()) as { uid: number; cwd: string; env: Record<string, string> }
    expect({ uid: got.uid, cwd: got.cwd }).toStrictEqual({ uid: 0, cwd: '/' })
    expect(spec.right.secrets.filter((k) => k in got.env)).toStrictEqual([])
  })
})
