/**
 * `cp` of a host directory that holds a FIFO, a socket or a device somewhere below it: refused,
 * one line naming the entry, exit 2, promptly, nothing copied (cp -R, docker cp and tar would make
 * the FIFO or device node again in the bottle, where the agent could open it). Run for real on
 * bwrap and on the real docker engine of scripts/test-engines.sh (skipped, saying why, without
 * it); the built CLI under a time limit, so a hang fails the test instead of stalling it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { firstSpecialEntry, onPath } from '../../src/host.js'
import { client, enginesRequired, findEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-cp-special-'))
const ws = join(root, 'ws')
mkdirSync(ws)
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A directory tree with `deep/er/` below it, and a regular file beside. */
const tree = (name: string): string => {
  const dir = join(root, name)
  mkdirSync(join(dir, 'deep', 'er'), { recursive: true })
  writeFileSync(join(dir, 'notes.md'), 'notes\n')
  return dir
}
const plainDir = tree('plain')
const fifoDir = tree('with-fifo')
const fifo = join(fifoDir, 'deep', 'er', 'pipe')
expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
const socketDir = tree('with-socket')
const socket = join(socketDir, 'deep', 'sock')
const server = createServer()
beforeAll(() => new Promise<void>((resolve) => server.listen(socket, resolve)))
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const bottle = (args: readonly string[], env: Record<string, string | undefined>) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stderr: r.stderr, timedOut: r.error !== undefined }
}

const refusal = (dir: string, entry: string, what: string): string =>
  `bottle: source ${JSON.stringify(dir)} holds ${what}, ${JSON.stringify(entry)}: bottle copies only regular files, directories and symlinks; remove it, or copy a directory without one\n`

describe('the walk that finds a special entry', () => {
  it('finds a FIFO or a socket at any depth, and nothing in a plain tree; a symlink to a FIFO is a symlink', () => {
    expect(firstSpecialEntry(fifoDir)).toStrictEqual({ path: fifo, what: 'a FIFO' })
    expect(firstSpecialEntry(socketDir)).toStrictEqual({ path: socket, what: 'a socket' })
    expect(firstSpecialEntry(plainDir)).toBeNull()
    const linked = tree('linked')
    spawnSync('ln', ['-s', fifo, join(linked, 'to-pipe')])
    expect(firstSpecialEntry(linked)).toBeNull()
  })
})

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('cp of a directory holding a special file, on a real bwrap bottle', () => {
  const env = { ...process.env, XDG_STATE_HOME: join(root, 'state') }
  const home = join(root, 'state', 'bottle', 'bwrap', 'demo', 'home')
  beforeAll(() => {
    expect(bottle(['run', 'launch', 'demo', '-b', 'bwrap', '-q', '--workdir', ws], env).status).toBe(0)
  })
  afterAll(() => {
    expect(bottle(['run', 'down', 'demo', '-b', 'bwrap', '-q'], env).status).toBe(0)
  })

  it.each([
    ['a FIFO', fifoDir, fifo],
    ['a socket', socketDir, socket],
  ])('%s, deep inside: one line naming it, exit 2, promptly, nothing copied', (what, dir, entry) => {
    const started = Date.now()
    const r = bottle(['run', 'cp', 'demo', dir, '/home/node/in', '-b', 'bwrap'], env)
    expect(r).toStrictEqual({ status: 2, stderr: refusal(dir, entry, what), timedOut: false })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(existsSync(join(home, 'in'))).toBe(false)
  })

  it('a directory without one is copied', () => {
    expect(bottle(['run', 'cp', 'demo', plainDir, '/home/node/plain', '-b', 'bwrap', '-q'], env)).toStrictEqual({ status: 0, stderr: '', timedOut: false })
    expect(readdirSync(join(home, 'plain')).sort()).toStrictEqual(['deep', 'notes.md'])
  })
})

const found = findEngine('docker')
const why = typeof found === 'string' ? found : null
if (why !== null) console.warn(`skipping the real docker cp checks: ${why}`)

it.runIf(enginesRequired)('a docker engine is there for the cp checks (BOTTLE_REQUIRE_ENGINES=1)', () => {
  expect(why).toBeNull()
})

describe.skipIf(why !== null)('cp of a directory holding a FIFO, on the real docker engine', () => {
  const engine = typeof found === 'string' ? null : found
  const name = `bottle-kube-cp-${process.pid}`
  const env = { ...process.env, ...engine?.clientEnv, XDG_STATE_HOME: join(root, 'docker-state') }
  const docker = (...args: string[]) => (engine === null ? null : client(engine, args))
  beforeAll(() => {
    const r = bottle(['run', 'launch', name, '-b', 'docker', '-q', '--image', engine?.image ?? '', '--workdir', ws], env)
    expect(r).toMatchObject({ status: 0, stderr: '' })
  }, 120_000)
  afterAll(() => {
    // bottle's down, not docker rm -f: the bottle's egress proxy and state go with it.
    expect(bottle(['run', 'down', name, '-b', 'docker', '-q'], env).status).toBe(0)
  })

  it('one line naming the FIFO, exit 2, promptly, nothing copied; a plain directory is copied', () => {
    const r = bottle(['run', 'cp', name, fifoDir, '/home/node/in', '-b', 'docker'], env)
    expect(r).toStrictEqual({ status: 2, stderr: refusal(fifoDir, fifo, 'a FIFO'), timedOut: false })
    expect(docker('exec', name, 'test', '-e', '/home/node/in')?.status).toBe(1)
    expect(bottle(['run', 'cp', name, plainDir, '/home/node/plain', '-b', 'docker', '-q'], env)).toStrictEqual({ status: 0, stderr: '', timedOut: false })
    expect(docker('exec', name, 'ls', '/home/node/plain')?.stdout.split('\n').filter((l) => l !== '').sort()).toStrictEqual(['deep', 'notes.md'])
  }, 120_000)
})
