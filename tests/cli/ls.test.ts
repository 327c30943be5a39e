/**
 * `bottle ls`, drift and `down --all`, through `main` against stand-in `docker` and `smolvm`
 * executables (tests/standins.ts) that print listings built here and record their argv. These
 * check what bottle runs and how it reads the answers; they are not tests of the real tools.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { launchIdLabel, managedLabel, nameLabel, specHashLabel } from '../../src/backends/backend.js'
import { docker } from '../../src/backends/docker.js'
import { smolvm } from '../../src/backends/smolvm.js'
import { main } from '../../src/cli.js'
import { listTimeoutMs } from '../../src/compile.js'
import type { Plan } from '../../src/plan/types.js'
import { type Container, type Machine, renderMachines, renderPs, standins } from '../standins.js'
import { listingHost } from '../arbitraries.js'
import { writeRecordOf } from '../records.js'

const s = standins()
const work = mkdtempSync(join(tmpdir(), 'bottle-ls-'))
afterAll(() => {
  s.remove()
  rmSync(work, { recursive: true, force: true })
})

const run = async (argv: string[], env: Record<string, string> = s.env) => {
  let out = ''
  const err: string[] = []
  const code = await main(argv, { out: (t) => void (out += t), err: (l) => void err.push(l), env })
  return { code, out, err: err.join('\n') }
}

const manifestPath = join(work, 'bottle.yaml')
// Values that must never be printed by ls or a drift note.
const fooValue = 'hush-do-not-print-1'
const writeManifest = (image: string, foo: string): void =>
  writeFileSync(manifestPath, `bottles:\n  demo:\n    image: ${image}\n    workdir: ${work}\n    env: { CI: "1", FOO: ${foo} }\n    secrets: [TOKEN]\n`)

/**
 * The labels `bottle plan launch` puts on the bottle, and its launch record written where the
 * launch would write it: how a real launch would have left it.
 */
const launchedLabels = async (backend: 'docker' | 'smolvm'): Promise<Record<string, string>> => {
  const r = await run(['plan', 'launch', 'demo', '-b', backend, '-f', manifestPath, '--format', 'json'])
  const plan = JSON.parse(r.out) as Plan
  writeRecordOf(plan)
  const argv = plan.steps[0]?.argv ?? []
  return Object.fromEntries(argv.flatMap((w, i) => (w === '--label' ? [(argv[i + 1] ?? '').split(/=(.*)/s).slice(0, 2)] : [])))
}

const psFormat = (): string => {
  const argv = docker.list(listingHost).at(-1)?.argv ?? []
  return argv[argv.indexOf('--format') + 1] ?? ''
}

const nowSec = (): number => Math.floor(Date.now() / 1000)
// Half a unit past the age shown, so a slow test run does not move it.
const container = (name: string, labels: Record<string, string>, more: Partial<Container> = {}): Container => ({
  name, state: 'running', createdSec: nowSec() - 330, offsetMin: 120, zone: 'CEST', image: 'node:22', labels, ...more,
})
const ours = (name: string): Record<string, string> => ({ [managedLabel]: 'true', [nameLabel]: name })

beforeEach(() => {
  s.clearCalls()
  rmSync(join(s.dir, 'state'), { recursive: true, force: true })
  for (const bin of ['docker', 'smolvm'] as const) for (const verb of ['ps', 'ls']) s.reply(bin, verb, '', { rc: 0 })
  writeManifest('node:22', fooValue)
})

describe('bottle ls', () => {
  it('lists every backend on PATH against a stand-in docker and smolvm, skipping bottles that are not ours', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [
      container('web', ours('web')),
      container('api', ours('api'), { state: 'exited', image: 'ghcr.io/acme/agent:1.2', createdSec: nowSec() - 3 * 86400 - 3600 }),
      // A stand-in does not filter: the parser must.
      container('postgres', {}, { image: 'postgres:16' }),
    ]))
    s.reply('smolvm', 'ls', renderMachines([
      { name: 'vm1', state: 'stopped', createdSec: nowSec() - 7200 - 100, image: null, labels: ours('vm1') },
      { name: 'theirs', state: 'running', createdSec: nowSec(), image: 'alpine' },
    ] satisfies Machine[]))
    const r = await run(['ls'])
    expect(r).toStrictEqual({
      code: 0,
      out: [
        'NAME  BACKEND  STATE    AGE  IMAGE                   NETWORK  DRIFT',
        'vm1   smolvm   stopped  2h   -                       -        -',
        'api   docker   exited   3d   ghcr.io/acme/agent:1.2  -        -',
        'web   docker   running  5m   node:22                 -        -',
        '',
      ].join('\n'),
      err: '',
    })
    // The list plans' argv, exactly: ls runs what `bottle plan ls` shows.
    expect(s.calls()).toStrictEqual([[...smolvm.list(listingHost)[0]!.argv], [...docker.list(listingHost)[0]!.argv]])
  })

  it('bottle ls is bottle run ls, and -b lists one backend (a stand-in docker)', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('web', ours('web'))]))
    const a = await run(['ls', '-b', 'docker', '--json'])
    const b = await run(['run', 'ls', '-b', 'docker', '--json'])
    expect(a).toStrictEqual(b)
    expect(s.calls().map((c) => c[0])).toStrictEqual(['docker', 'docker'])
    expect(JSON.parse(a.out)).toMatchObject({
      bottles: [{ name: 'web', backend: 'docker', state: 'running', age: '5m', image: 'node:22', drift: { status: 'undeclared' } }],
      unreachable: [],
    })
  })

  it('says which bottles have drifted from the manifest, and how, against a stand-in docker', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('demo', await launchedLabels('docker'))]))
    const before = await run(['ls', '-f', manifestPath])
    expect(before.out).toContain('demo  docker   running  5m   node:22  egress: 3 allowed  no\n')
    writeManifest('node:24', 'changed-value-2')
    const after = await run(['ls', '-f', manifestPath])
    expect(after.code).toBe(0)
    expect(after.out.replaceAll(work, '<work>')).toMatchInlineSnapshot(`
      "NAME  BACKEND  STATE    AGE  IMAGE    NETWORK            DRIFT
      demo  docker   running  5m   node:22  egress: 3 allowed  image,env FOO

      demo (docker) has drifted from <work>/bottle.yaml: image node:22 → node:24 (relaunch to apply); env FOO changed (bottle run update applies it)
      "
    `)
    const json = await run(['ls', '-f', manifestPath, '--json'])
    expect(JSON.parse(json.out).bottles[0].drift.differences.map((d: { field: string; key: string | null }) => [d.field, d.key])).toStrictEqual([
      ['image', null],
      ['env', 'FOO'],
    ])
    for (const o of [before, after, json]) expect(`${o.out}${o.err}`).not.toMatch(/hush-do-not-print|changed-value-2/)
  })

  it('says the same about a stand-in smolvm, whose labels are in its JSON', async () => {
    const labels = await launchedLabels('smolvm')
    s.reply('smolvm', 'ls', renderMachines([{ name: 'demo', state: 'running', createdSec: nowSec() - 90, image: 'node:22', labels }]))
    writeManifest('node:22', 'changed-value-2')
    const r = await run(['ls', '-b', 'smolvm', '-f', manifestPath])
    expect(r.out).toContain('demo  smolvm   running  1m   node:22  egress: 3 allowed  env FOO\n')
    expect(r.out).toContain(`demo (smolvm) has drifted from ${manifestPath}: env FOO changed`)
  })

  it('a bottle without recorded labels (an older launch) is "unknown", not "no"', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('demo', ours('demo'))]))
    const r = await run(['ls', '-f', manifestPath, '-b', 'docker'])
    expect(r.out).toContain('demo  docker   running  5m   node:22  -        unknown')
    expect(r.out).toContain(`demo (docker): cannot tell whether it has drifted from ${manifestPath}: it was launched without a recorded spec`)
  })

  it('a daemon that is down: one line naming it and why, the other backend still listed, exit 0 (stand-in docker)', async () => {
    const down = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'
    s.reply('docker', 'ps', '', { rc: 1, err: `${down}\n` })
    s.reply('smolvm', 'ls', renderMachines([{ name: 'vm1', state: 'running', createdSec: nowSec() - 30, image: null, labels: ours('vm1') }]))
    const r = await run(['ls'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('vm1   smolvm   running')
    expect(r.err).toBe(`bottle: cannot list the docker bottles: ${down}`)
    const json = await run(['ls', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out)).toMatchObject({ bottles: [{ name: 'vm1' }], unreachable: [{ backend: 'docker', reason: down }] })
    // Asked for by name, the one backend's failure is the exit code: 125, a backend failure.
    const one = await run(['ls', '-b', 'docker', '--json'])
    expect(one.code).toBe(125)
    expect(JSON.parse(one.out)).toStrictEqual({ bottles: [], unreachable: [{ backend: 'docker', reason: down }] })
  })

  it('a line bottle cannot read is skipped with a one-line warning naming it, and the rest listed, exit 0 (stand-in docker)', async () => {
    s.reply('docker', 'ps', `CONTAINER ID   IMAGE     COMMAND\n${renderPs(psFormat(), [container('demo', ours('demo'))])}`)
    const r = await run(['ls', '-b', 'docker'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('demo  docker   running')
    expect(r.err).toBe('bottle: warning: docker ps printed line 1, which is not the JSON object bottle asked for: "CONTAINER ID   IMAGE     COMMAND"; skipped it')
  })

  it('a pretty list smolvm printed that is not JSON at all is one line and exit 125 (stand-in smolvm)', async () => {
    s.reply('smolvm', 'ls', 'NAME  STATE\nvm1   running\n')
    const r = await run(['ls', '-b', 'smolvm'])
    expect([r.code, r.err]).toStrictEqual([125, 'bottle: cannot list the smolvm bottles: its listing cannot be read: smolvm machine ls --json printed something that is not JSON: "NAME  STATE\\nvm1   running"'])
  })

  it('a backend that never answers is stopped at the time limit, said in one line, and the others listed (stand-in docker)', async () => {
    s.reply('docker', 'ps', '', { rc: 0, sleepMs: 60_000 })
    s.reply('smolvm', 'ls', renderMachines([{ name: 'vm1', state: 'running', createdSec: nowSec() - 30, image: null, labels: ours('vm1') }]))
    const started = Date.now()
    const r = await run(['ls', '--json'])
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(listTimeoutMs)
    expect(took).toBeLessThan(listTimeoutMs + 5000)
    expect(r.code).toBe(0)
    expect(r.err).toBe(`bottle: cannot list the docker bottles: docker gave no answer within its time limit of ${listTimeoutMs / 1000} s, and was stopped`)
    expect(JSON.parse(r.out)).toMatchObject({ bottles: [{ name: 'vm1' }], unreachable: [{ backend: 'docker' }] })
  })

  it('down --all: a backend that cannot be listed is one line, the others are cleaned up, and the exit code says so (stand-in docker)', async () => {
    s.reply('docker', 'ps', '', { rc: 1, err: 'Cannot connect to the Docker daemon\n' })
    s.reply('smolvm', 'ls', renderMachines([{ name: 'vm1', state: 'running', createdSec: nowSec() - 30, image: null, labels: ours('vm1') }]))
    const r = await run(['run', 'down', '--all', '-q'])
    expect(r.err).toBe('bottle: cannot list the docker bottles: Cannot connect to the Docker daemon')
    expect(r.code).toBe(125)
    expect(s.calls().filter((c) => c[0] === 'smolvm').map((c) => c.slice(1, 3))).toContainEqual(['machine', 'delete'])
  })

  it('with nothing on PATH: exit 2, nothing run', async () => {
    const r = await run(['ls'], s.envWith([]))
    expect([r.code, r.err]).toStrictEqual([2, 'bottle: no backend found: none of smolvm, docker, podman, bwrap is on PATH; install one, or pass -b'])
    expect(s.calls()).toStrictEqual([])
  })

  it('with -b and the binary missing: exit 127 and how to install it', async () => {
    const r = await run(['ls', '-b', 'smolvm'], s.envWith(['docker']))
    expect(r.code).toBe(127)
    expect(r.err).toContain('bottle: cannot list the smolvm bottles: smolvm is not installed (not found on PATH): install smolvm')
  })
})

describe('bottle plan ls', () => {
  it('prints one plan per backend on PATH, runs nothing; JSON is an array without -b, an object with it', async () => {
    const text = await run(['plan', 'ls'])
    expect(text.out).toContain('ls on smolvm: 1 step')
    expect(text.out).toContain('ls on docker: 1 step')
    expect(text.out).toContain('    stdout: read by bottle, not shown')
    // The listing's time limit is in the plan, which the interpreter honours.
    expect(text.out).toContain(`    time limit: ${listTimeoutMs / 1000} s; bottle run stops it (SIGTERM) after that`)
    const all = JSON.parse((await run(['plan', 'ls', '--format', 'json'])).out) as Plan[]
    expect(all.map((p) => [p.backend, p.steps.map((st) => st.stdio)])).toStrictEqual([['smolvm', ['capture']], ['docker', ['capture']]])
    const one = JSON.parse((await run(['plan', 'ls', '-b', 'docker', '--format', 'json'])).out) as Plan
    expect(one.steps[0]?.argv).toStrictEqual(docker.list(listingHost)[0]?.argv)
    expect(s.calls()).toStrictEqual([])
  })

  it('--format sh with two backends on PATH is refused: a script is one backend', async () => {
    const r = await run(['plan', 'ls', '--format', 'sh'])
    expect([r.code, r.err, s.calls()]).toStrictEqual([2, 'bottle: --format sh prints one backend\'s script, and smolvm and docker are on PATH: pass -b', []])
    expect((await run(['plan', 'ls', '--format', 'sh', '-b', 'docker'])).out).toContain("docker ps -a --filter label=dev.bottle.managed=true --format '{")
  })
})

describe('--check-drift', () => {
  it('plan agent notes the manifest\'s drift from the launch record with nothing run; --check-drift also lists (read-only) and compares the live bottle (stand-in docker)', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('demo', await launchedLabels('docker'))]))
    writeManifest('node:24', fooValue)
    s.clearCalls()
    const plain = await run(['plan', 'agent', 'demo', '-b', 'docker', '-f', manifestPath])
    expect(plain.out).toContain(`note: drift: demo (docker) has drifted from ${manifestPath}: image node:22 → node:24 (relaunch to apply); not applied: the bottle runs with its launch record`)
    expect(s.calls()).toStrictEqual([])
    const checked = await run(['plan', 'agent', 'demo', '-b', 'docker', '-f', manifestPath, '--check-drift', '-e', 'EXTRA=1'])
    expect(checked.out).toContain(
      'note: drift: demo (docker) has drifted from this spec: env EXTRA added (bottle run update applies it) (read-only; `bottle plan ls -b docker` shows the command)',
    )
    expect(s.calls()).toStrictEqual([[...docker.list(listingHost)[0]!.argv]])
  })

  it('run exec --check-drift warns on stderr, then runs the op anyway (stand-in docker)', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('demo', await launchedLabels('docker'))]))
    writeManifest('node:24', fooValue)
    s.clearCalls()
    const r = await run(['run', 'exec', 'demo', 'true', '-b', 'docker', '-f', manifestPath, '--check-drift'], { ...s.env, TOKEN: 'tok-value-3' })
    expect(r.code).toBe(0)
    expect(r.err.split('\n')).toStrictEqual([
      `bottle: drift: demo (docker) has drifted from ${manifestPath}: image node:22 → node:24 (relaunch to apply); not applied: the bottle runs with its launch record`,
      'bottle: drift: demo (docker) matches this spec (read-only; `bottle plan ls -b docker` shows the command)',
    ])
    expect(s.calls().map((c) => c[1])).toStrictEqual(['ps', 'exec'])
    expect(r.err).not.toMatch(/hush-do-not-print|tok-value-3/)
  })

  it('a bottle that is not there is said so (stand-in docker)', async () => {
    await launchedLabels('docker')
    const r = await run(['plan', 'exec', 'demo', 'true', '-b', 'docker', '-f', manifestPath, '--check-drift'])
    expect(r.out).toContain('note: drift: demo was not found on docker')
  })
})

describe('down --all', () => {
  it('plan down --all lists first, then shows exactly the removals; it removes nothing (stand-in docker)', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('web', ours('web')), container('api', ours('api')), container('postgres', {})]))
    const r = await run(['plan', 'down', '--all', '-b', 'docker', '--format', 'json'])
    expect(r.code).toBe(0)
    const plan = JSON.parse(r.out) as Plan
    const forget = (name: string) => ['/bin/sh', '-c', 'rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }', 'sh', join(s.dir, 'state', 'bottle', 'docker', name)]
    // Each bottle's egress proxy is stopped first and its directory removed last (a bottle
    // without one: the stop finds nothing, and is not an error).
    const egress = (name: string) => join(s.dir, 'state', 'bottle', 'docker', name, 'egress')
    const stop = (name: string) => [process.execPath, fileURLToPath(new URL('../../dist/egress-proxy.js', import.meta.url)), 'stop', '--dir', egress(name)]
    const forgetProxy = (name: string) => ['/bin/sh', '-c', 'rm -rf -- "$1" && { rmdir -- "${1%/egress}" 2>/dev/null || :; }', 'sh', egress(name)]
    expect(plan.steps.map((st) => st.argv)).toStrictEqual(['api', 'web'].flatMap((n) => [stop(n), ['docker', 'rm', '-f', n], forget(n), forgetProxy(n)]))
    expect(s.calls().map((c) => c[1])).toStrictEqual(['ps'])
  })

  it('run down --all removes every bottle it found on each backend, and no other (stand-in docker and smolvm)', async () => {
    s.reply('docker', 'ps', renderPs(psFormat(), [container('web', ours('web')), container('postgres', {})]))
    s.reply('smolvm', 'ls', renderMachines([
      { name: 'vm1', state: 'running', createdSec: 0, image: null, labels: ours('vm1') },
      { name: 'theirs', state: 'running', createdSec: 0, image: null, labels: { team: 'x' } },
    ]))
    const r = await run(['run', 'down', '--all', '-q'])
    expect(r).toStrictEqual({ code: 0, out: '', err: '' })
    expect(s.calls().map((c) => c.join(' '))).toStrictEqual([
      'smolvm machine ls --json',
      'smolvm machine stop --name vm1',
      'smolvm machine delete --name vm1 -f',
      expect.stringMatching(/^docker ps /),
      'docker rm -f web',
    ])
  })

  it('with nothing to remove, the plan says so and has no steps (stand-in smolvm)', async () => {
    s.reply('smolvm', 'ls', '[]\n')
    const r = await run(['plan', 'down', '--all', '-b', 'smolvm'])
    expect(r.out).toContain('down on smolvm: 0 steps\nnote: down --all: smolvm lists no bottles that bottle created; nothing to do')
  })

  it.each([
    [['plan', 'down'], 'bottle: down needs a bottle name, or --all'],
    [['plan', 'down', 'demo', '--all'], 'bottle: down --all takes no bottle name'],
  ])('%j is invalid: exit 2, nothing run', async (argv, message) => {
    const r = await run(argv)
    expect([r.code, r.err, s.calls()]).toStrictEqual([2, message, []])
  })
})

describe('launch records the spec', () => {
  it('the labels carry only the hash (no env value, no spec); the launch record on the host has the spec, secrets by name', async () => {
    const labels = await launchedLabels('docker')
    expect(Object.keys(labels)).toStrictEqual([managedLabel, nameLabel, specHashLabel, launchIdLabel])
    expect(labels[specHashLabel]).toMatch(/^[0-9a-f]{12}$/)
    expect(JSON.stringify(labels)).not.toContain(fooValue)
    const record = JSON.parse(readFileSync(join(s.dir, 'state', 'bottle', 'docker', 'demo', 'record.json'), 'utf8'))
    expect(record).toMatchObject({ v: 2, backend: 'docker', spec: { name: 'demo', image: 'node:22', workdir: work, secrets: ['TOKEN'], env: [['CI', '1'], ['FOO', fooValue]] } })
  })
})
