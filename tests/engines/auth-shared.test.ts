/**
 * auth: shared on the real docker engine and podman (scripts/test-engines.sh; skipped with the
 * reason when an engine is not there): the image's `node` (uid 1000, not the host user) can write
 * the shared ~/.claude; a credentials file one bottle replaces by rename is the file a second
 * bottle reads; the host directory stays mode 700 and outlives down; a bottle without it has a
 * ~/.claude of its own.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Engine, client, onEngine } from './engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

const suite = (engine: Engine): void => {
  const engineName = engine.name
  const root = mkdtempSync(join(tmpdir(), `bottle-auth-${engineName}-`))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  const tag = randomBytes(3).toString('hex')
  const names = ['a', 'b', 'c'].map((n) => `bt-${tag}-auth${n}`)
  const [first = '', second = '', other = ''] = names
  const state = join(root, 'state')
  const shared = join(state, 'bottle', 'auth', engineName, 'claude')
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: state }
  const bottle = (args: readonly string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  afterAll(() => {
    for (const n of names) client(engine, ['rm', '-f', n])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`auth: shared on the real ${engineName}`, { timeout: 240_000 }, () => {
    it('node writes the shared ~/.claude; a file replaced by rename in one bottle is read in the other; the host directory stays 700 and outlives down', () => {
      writeFileSync(join(ws, 'bottle.yaml'), [
        `backend: ${engineName}`, 'bottles:',
        ...[first, second].map((n) => `  ${n}: { image: ${engine.image}, network: open, auth: shared }`),
        `  ${other}: { image: ${engine.image}, network: open }`, '',
      ].join('\n'))
      for (const n of names) expect(bottle(['run', 'launch', n, '-q'])).toMatchObject({ status: 0, stderr: '' })
      expect(statSync(shared).mode & 0o777).toBe(0o700)
      expect(statSync(join(state, 'bottle', 'auth')).mode & 0o777).toBe(0o700)
      const token = randomBytes(12).toString('hex')
      const write = bottle(['run', 'exec', first, `id -un && printf '%s' '{"token":"${token}"}' > ~/.claude/.cred.tmp && mv ~/.claude/.cred.tmp ~/.claude/.credentials.json && chmod 777 ~/.claude`])
      expect(write).toMatchObject({ status: 0, stdout: 'node\n' })
      expect(bottle(['run', 'exec', second, 'cat ~/.claude/.credentials.json'])).toMatchObject({ status: 0, stdout: `{"token":"${token}"}` })
      expect(bottle(['run', 'exec', other, 'test -e ~/.claude/.credentials.json'])).toMatchObject({ status: 1 })
      for (const n of [first, second]) expect(bottle(['run', 'down', n, '-q'])).toMatchObject({ status: 0 })
      expect(readFileSync(join(shared, '.credentials.json'), 'utf8')).toBe(`{"token":"${token}"}`)
      // The next launch puts the mode back (the bottle's user owns the directory, and could chmod it).
      expect(bottle(['run', 'launch', first, '-q'])).toMatchObject({ status: 0, stderr: '' })
      expect(statSync(shared).mode & 0o777).toBe(0o700)
      expect(bottle(['run', 'exec', first, 'cat ~/.claude/.credentials.json'])).toMatchObject({ status: 0, stdout: `{"token":"${token}"}` })
    })
  })
}

onEngine('docker', suite)
onEngine('podman', suite)
