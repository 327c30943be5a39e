/**
 * A bottle removed behind bottle's back (`docker rm -f`, `smolvm machine delete`): its egress
 * proxy still runs on the host and its state (launch record, the proxy's directory) is still
 * there. down --all finds it by its running proxy and stops it, keeps the record and the proxy's
 * log (the same name may be a live bottle on another engine that shares the state root), and
 * asks the backend nothing by the name. Against stand-in docker and smolvm clients that answer from
 * scripted replies (tests/standins.ts); the proxy is the real dist/egress-proxy.js.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { managedLabel, nameLabel } from '../../src/backends/backend.js'
import { docker } from '../../src/backends/docker.js'
import { main } from '../../src/cli.js'
import { proxyRunning } from '../../src/egress/state.js'
import type { Plan } from '../../src/plan/types.js'
import { listingHost } from '../arbitraries.js'
import { writeRecordOf } from '../records.js'
import { renderMachines, renderPs, standins } from '../standins.js'

const s = standins()
const work = mkdtempSync(join(tmpdir(), 'bottle-down-gone-'))
const stateOf = (backend: string, name: string) => join(s.env.XDG_STATE_HOME, 'bottle', backend, name)
afterEach(() => {
  // Whatever a failed check left running: the proxies of this file's state root.
  for (const b of ['docker', 'smolvm']) for (const n of ['gone', 'web']) execFileSync(process.execPath, [proxyScript, 'stop', '--dir', `${stateOf(b, n)}/egress`])
  rmSync(s.env.XDG_STATE_HOME, { recursive: true, force: true })
})
afterAll(() => {
  s.remove()
  rmSync(work, { recursive: true, force: true })
})
const proxyScript = join(import.meta.dirname, '..', '..', 'dist', 'egress-proxy.js')

const run = async (argv: string[]) => {
  let out = ''
  const err: string[] = []
  const code = await main(argv, { out: (t) => void (out += t), err: (l) => void err.push(l), env: s.env })
  return { code, out, err: err.join('\n') }
}

/**
 * What a launch with a door leaves on the host once its bottle is removed behind bottle's back: the
 * launch record, and a proxy started by the launch plan's own step.
 */
const goneWithDoor = async (backend: 'docker' | 'smolvm', name: string): Promise<void> => {
  const r = await run(['plan', 'launch', name, '-b', backend, '--workdir', work, '--no-provision', '--format', 'json'])
  expect(r.code).toBe(0)
  const plan = JSON.parse(r.out) as Plan
  writeRecordOf(plan)
  const start = plan.steps.find((st) => st.argv.includes('start') && st.argv.some((a) => a.endsWith('egress-proxy.js')))
  if (start === undefined) throw new Error('the launch plan starts no proxy')
  execFileSync(start.argv[0] as string, start.argv.slice(1), { stdio: 'ignore' })
  expect(proxyRunning(`${stateOf(backend, name)}/egress`)).toBe(true)
}

const psFormat = (): string => {
  const argv = docker.list(listingHost).at(-1)?.argv ?? []
  return argv[argv.indexOf('--format') + 1] ?? ''
}
const ours = (name: string): Record<string, string> => ({ [managedLabel]: 'true', [nameLabel]: name })

beforeEach(() => {
  s.clearCalls()
  s.reply('docker', 'ps', renderPs(psFormat(), [{ name: 'web', state: 'running', createdSec: 0, offsetMin: 0, zone: 'UTC', image: 'node:22', labels: ours('web') }]))
  s.reply('smolvm', 'ls', renderMachines([{ name: 'web', state: 'running', createdSec: 0, image: null, labels: ours('web') }]))
})

describe.each(['docker', 'smolvm'] as const)('down --all with a bottle removed behind bottle\'s back (stand-in %s)', (backend) => {
  it('stops its proxy and keeps its record, and says so; downs the listed bottle; asks the backend nothing by the gone name; a second down --all finds nothing left', async () => {
    await goneWithDoor(backend, 'gone')
    const planned = await run(['plan', 'down', '--all', '-b', backend])
    expect(planned.out).toContain(`note: down --all: what is left of 1 bottle ${backend} no longer has (removed behind bottle's back): gone; of each, its egress proxy on the host is stopped, and its launch record and proxy log are kept`)
    s.clearCalls()
    const r = await run(['run', 'down', '--all', '-b', backend, '-q'])
    expect([r.code, r.err]).toStrictEqual([0, ''])
    expect(proxyRunning(`${stateOf(backend, 'gone')}/egress`)).toBe(false)
    expect(existsSync(join(stateOf(backend, 'gone'), 'record.json'))).toBe(true)
    const told = s.calls().map((c) => c.join(' '))
    expect(told.filter((a) => /\bgone\b/.test(a))).toStrictEqual([])
    expect(told.filter((a) => /\bweb\b/.test(a)).length).toBeGreaterThan(0)
    const again = await run(['plan', 'down', '--all', '-b', backend])
    expect(again.out).not.toContain('no longer has')
  })
})

describe('what down --all takes for a gone bottle\'s state (stand-in docker)', () => {
  it('a symlink, or an entry that can be no bottle\'s name, in the state root is left alone', async () => {
    s.reply('docker', 'ps', '')
    const root = join(s.env.XDG_STATE_HOME, 'bottle', 'docker')
    mkdirSync(join(work, 'elsewhere'), { recursive: true })
    mkdirSync(root, { recursive: true })
    symlinkSync(join(work, 'elsewhere'), join(root, 'linked'))
    mkdirSync(join(root, '-dash'))
    const planned = await run(['plan', 'down', '--all', '-b', 'docker'])
    expect(planned.out).toContain('down on docker: 0 steps\nnote: down --all: docker lists no bottles that bottle created; nothing to do')
    expect((await run(['run', 'down', '--all', '-b', 'docker', '-q'])).code).toBe(0)
    expect(existsSync(join(work, 'elsewhere'))).toBe(true)
    expect(existsSync(join(root, '-dash'))).toBe(true)
  })
})
