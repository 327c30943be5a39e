/**
 * dist/bottle.js runs the CLI bundle with V8's code cache that the build made for it
 * (scripts/bottle-loader.cjs, scripts/build.mjs). Whether it pays is a benchmark figure (`npm run
 * bench`); here: the cache the build leaves is one this node accepts, and a cache V8 refuses
 * (another node's, or a damaged file) changes nothing but the time: the same plan, the same exit.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const dist = join(import.meta.dirname, '..', '..', 'dist')
const root = mkdtempSync(join(tmpdir(), 'bottle-code-cache-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

interface Compiled {
  readonly script: { readonly cachedDataRejected?: boolean }
}
const loaderOf = (dir: string) => createRequire(import.meta.url)(join(dir, 'bottle.js')) as { compileBundle: (name: string, cachedData?: Buffer) => Compiled }

describe('the code cache of the CLI bundle', () => {
  it('is made by the build and accepted by this node', () => {
    const cache = readFileSync(join(dist, 'cli.js.cache'))
    const { script } = loaderOf(dist).compileBundle('cli', cache)
    expect(script.cachedDataRejected).toBe(false)
  })

  it('when V8 refuses it (damaged, or made by another V8), the CLI still plans the same, exit 0', () => {
    const env = { ...process.env, XDG_STATE_HOME: join(root, 'state') }
    const ws = join(root, 'ws')
    mkdirSync(ws)
    const plan = (bottleJs: string, args: string[]) => spawnSync(process.execPath, [bottleJs, 'plan', ...args], { cwd: ws, env, encoding: 'utf8' })
    writeRecordOf(JSON.parse(plan(join(dist, 'bottle.js'), ['launch', 'demo', '-b', 'docker', '--format', 'json']).stdout) as Plan)
    const good = plan(join(dist, 'bottle.js'), ['agent', 'demo', '-b', 'docker', '--no-tty'])
    expect(good.status).toBe(0)
    expect(good.stdout).toContain('docker exec')

    const damaged = join(root, 'damaged')
    cpSync(dist, damaged, { recursive: true })
    const cache = readFileSync(join(damaged, 'cli.js.cache'))
    // Flipped bytes in the header (V8's version and flag hashes), and garbage for the rest.
    for (const at of [4, 8, 12]) cache[at] = (cache[at] ?? 0) ^ 0xff
    writeFileSync(join(damaged, 'cli.js.cache'), cache)
    expect(loaderOf(damaged).compileBundle('cli', cache).script.cachedDataRejected).toBe(true)
    const refused = plan(join(damaged, 'bottle.js'), ['agent', 'demo', '-b', 'docker', '--no-tty'])
    expect([refused.status, refused.stdout, refused.stderr]).toStrictEqual([good.status, good.stdout, good.stderr])

    writeFileSync(join(damaged, 'cli.js.cache'), Buffer.from('not a code cache'))
    const garbage = plan(join(damaged, 'bottle.js'), ['agent', 'demo', '-b', 'docker', '--no-tty'])
    expect([garbage.status, garbage.stdout, garbage.stderr]).toStrictEqual([good.status, good.stdout, good.stderr])

    rmSync(join(damaged, 'cli.js.cache'))
    const none = plan(join(damaged, 'bottle.js'), ['agent', 'demo', '-b', 'docker', '--no-tty'])
    expect([none.status, none.stdout, none.stderr]).toStrictEqual([good.status, good.stdout, good.stderr])
  })
})
