/**
 * Launch ids on the real docker engine that scripts/test-engines.sh starts (tests/engines): an
 * interrupted second launch of an existing bottle leaves it; an interrupted launch leaves
 * nothing, the engine polled 10 s. Skipped, saying why, where no engine runs; `.ci/run` makes
 * it required (BOTTLE_REQUIRE_ENGINES=1).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { client, enginesRequired, findEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const found = findEngine('docker')
const why = typeof found === 'string' ? found : null
if (why !== null) console.warn(`skipping the real docker launch-id checks: ${why}`)
// A state root of its own: the launch records these runs write go away with it.
const stateHome = mkdtempSync(join(tmpdir(), 'bottle-undo-docker-state-'))
afterAll(() => rmSync(stateHome, { recursive: true, force: true }))
const env = { ...process.env, ...(typeof found === 'string' ? {} : found.clientEnv), XDG_STATE_HOME: stateHome }
const image = typeof found === 'string' ? '' : found.image
const docker = (...args: string[]) => (typeof found === 'string' ? spawnSync('false', { encoding: 'utf8' }) : client(found, args))

it.runIf(enginesRequired)('a docker engine is there for the launch-id checks (BOTTLE_REQUIRE_ENGINES=1)', () => {
  expect(why).toBeNull()
})

const ws = mkdtempSync(join(tmpdir(), 'bottle-undo-docker-'))
writeFileSync(join(ws, 'prompt.md'), 'hi\n')
afterAll(() => rmSync(ws, { recursive: true, force: true }))
const common = ['-b', 'docker', '--image', image, '--user', 'root', '--workdir', ws]
const ids = (name: string): string[] => docker('ps', '-aq', '--no-trunc', '--filter', `name=^/?${name}$`).stdout.trim().split('\n').filter((l) => l !== '')

/** `bottle run ARGS` in a process group of its own; Ctrl-C to the group once stderr shows `marker`. */
const interrupted = (args: readonly string[], marker: string, delayMs: number) =>
  new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, [cli, ...args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env })
    let err = ''
    let sent = false
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (!sent && err.includes(marker)) {
        sent = true
        setTimeout(() => process.kill(-(c.pid ?? 0), 'SIGINT'), delayMs)
      }
    })
    c.on('close', (code) => resolve(code))
  })

describe.skipIf(why !== null)('launch ids on a real docker engine', () => {
  it('an interrupted second launch of an existing bottle leaves it (3 trials)', async () => {
    const name = `undo-dup-${process.pid}`
    expect(spawnSync(process.execPath, [cli, 'run', 'launch', name, ...common, '-q'], { env }).status).toBe(0)
    const [first] = ids(name)
    for (const delay of [0, 20, 60]) {
      // Without the first launch's record (an older bottle's), so that the second launch reaches docker.
      rmSync(join(stateHome, 'bottle', 'docker', name, 'record.json'), { force: true })
      expect(await interrupted(['run', 'launch', name, ...common], '[1/', delay)).not.toBe(0)
      expect(ids(name)).toEqual([first])
    }
    spawnSync(process.execPath, [cli, 'run', 'down', name, '-b', 'docker', '-q'], { env })
  }, 180_000)

  it('Ctrl-C during docker create: exit 130 and no container, polled for 10 s', async () => {
    const name = `undo-int-${process.pid}`
    expect(await interrupted(['run', 'launch', name, ...common], '[1/', 20)).toBe(130)
    const end = Date.now() + 10_000
    while (Date.now() < end) {
      expect(ids(name)).toEqual([])
      await new Promise((r) => setTimeout(r, 500))
    }
  }, 120_000)
})
