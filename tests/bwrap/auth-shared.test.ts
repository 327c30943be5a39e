/**
 * auth: shared on real bwrap: two bottles mount the same host directory as ~/.claude, so a
 * credentials file one replaces by rename (as Claude Code does when it refreshes a token) is the
 * file the other reads; the host directory stays mode 700, and down leaves it.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const hostDir = mkdtempSync('/var/tmp/bottle-auth-')
const stateHome = join(hostDir, 'state')
const ws = mkdtempSync(join(tmpdir(), 'bottle-auth-ws-'))
const shared = join(stateHome, 'bottle', 'auth', 'bwrap', 'claude')

const bottle = (args: readonly string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

afterAll(() => {
  for (const n of ['auth-a', 'auth-b', 'auth-c']) bottle(['run', 'down', n, '-q'])
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('auth: shared on real bwrap', () => {
  it('a credentials file replaced by rename in one bottle is read by the other; the host directory stays 700 and outlives down', () => {
    writeFileSync(join(ws, 'bottle.yaml'), 'backend: bwrap\nbottles:\n  auth-a: { auth: shared }\n  auth-b: { auth: shared }\n  auth-c: {}\n')
    for (const n of ['auth-a', 'auth-b', 'auth-c']) expect(bottle(['run', 'launch', n, '-q'])).toMatchObject({ status: 0, stderr: '' })
    expect(statSync(shared).mode & 0o777).toBe(0o700)
    expect(statSync(join(stateHome, 'bottle', 'auth')).mode & 0o777).toBe(0o700)
    // A generated value: what a refreshed token would be.
    const token = randomBytes(12).toString('hex')
    const write = bottle(['run', 'exec', 'auth-a', `printf '%s' '{"token":"${token}"}' > ~/.claude/.cred.tmp && mv ~/.claude/.cred.tmp ~/.claude/.credentials.json && chmod 777 ~/.claude`])
    expect(write).toMatchObject({ status: 0 })
    expect(bottle(['run', 'exec', 'auth-b', 'cat ~/.claude/.credentials.json'])).toMatchObject({ status: 0, stdout: `{"token":"${token}"}` })
    // A bottle that did not ask for it has a ~/.claude of its own, without the file.
    expect(bottle(['run', 'exec', 'auth-c', 'cat ~/.claude/.credentials.json'])).toMatchObject({ status: 1 })
    // Relaunching puts the mode back; down never removes the directory.
    for (const n of ['auth-a', 'auth-b']) expect(bottle(['run', 'down', n, '-q'])).toMatchObject({ status: 0 })
    expect(readFileSync(join(shared, '.credentials.json'), 'utf8')).toBe(`{"token":"${token}"}`)
    expect(bottle(['run', 'launch', 'auth-a', '-q'])).toMatchObject({ status: 0, stderr: '' })
    expect(statSync(shared).mode & 0o777).toBe(0o700)
    // No plan shows the file's content.
    expect(bottle(['plan', 'agent', 'auth-a']).stdout).not.toContain(token)
  })
})
