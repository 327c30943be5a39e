/**
 * The root-only scan (src/backends/bwrap-host.ts), end to end on real bwrap as root: a host file
 * under /opt made root-only by a chmod after launch (which changes no directory, so no cache
 * keyed on directories would see it), and a new root-only file beside it, are masked on the next
 * exec. The CONTROL: before the chmod the guest reads the file, so the mask is what hides it after.
 *
 * It writes a scratch directory under /opt (a directory the sandbox shows, and scans) and
 * removes it. In CI bwrap must be there (.ci/run installs it); elsewhere skipped without it.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-bwrap-root-only-'))
const ws = join(root, 'ws')
const stateHome = join(root, 'state')
mkdirSync(ws)
// A fresh value per run: if the guest prints it, it read the file.
const secret = `secret-${randomBytes(9).toString('hex')}`
const scratch = `/opt/bottle-root-only-test-${randomBytes(4).toString('hex')}`
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
  rmSync(root, { recursive: true, force: true })
})

const bottle = (args: readonly string[]) => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const haveBwrap = onPath('bwrap', process.env.PATH)
const asRoot = process.geteuid?.() === 0

describe.skipIf((!haveBwrap && !process.env.CI) || !asRoot)('the root-only scan on every command, on real bwrap as root', () => {
  it('a file chmod-ed root-only after launch, and a new root-only file, are masked on the next exec', () => {
    mkdirSync(join(scratch, 'conf'), { recursive: true })
    writeFileSync(join(scratch, 'conf', 'app.conf'), `${secret}\n`, { mode: 0o644 })
    expect(bottle(['run', 'launch', 'rootonly', '-b', 'bwrap', '--network', 'open', '-q'])).toMatchObject({ status: 0, stderr: '' })
    // CONTROL: readable by others, so not masked: the guest reads it.
    const before = bottle(['run', 'exec', 'rootonly', '-b', 'bwrap', '-q', `cat ${scratch}/conf/app.conf`])
    expect(before).toMatchObject({ status: 0, stdout: `${secret}\n` })
    // The host makes it root-only in place (no directory changes), and adds a root-only file.
    chmodSync(join(scratch, 'conf', 'app.conf'), 0o600)
    writeFileSync(join(scratch, 'conf', 'new.key'), `${secret}\n`, { mode: 0o600 })
    const after = bottle(['run', 'exec', 'rootonly', '-b', 'bwrap', '-q', `cat ${scratch}/conf/app.conf ${scratch}/conf/new.key; echo done`])
    expect(after.stdout).not.toContain(secret)
    expect(after.stdout).toContain('done')
    expect(bottle(['run', 'down', 'rootonly', '-b', 'bwrap', '-q']).status).toBe(0)
  })
})
