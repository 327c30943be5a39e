/**
 * The agent can write the manifest in its workdir. A manifest it breaks must not lock the user out
 * of a launched bottle: on real bwrap, after the agent writes garbage into ./bottle.yaml from inside
 * the bottle, exec still runs (from the launch record, with a warning that names the problem) and
 * down still takes the bottle away, with no -b; launch, which reads the manifest, is still refused.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
// The state root under /var/tmp, outside the workdir (under /tmp).
const hostDir = mkdtempSync('/var/tmp/bottle-broken-manifest-')
const stateHome = join(hostDir, 'state')
const ws = mkdtempSync(join(tmpdir(), 'bottle-broken-manifest-ws-'))
afterAll(() => {
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

const bottle = (args: readonly string[], cwd: string) => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('a manifest the agent breaks, on real bwrap', () => {
  it('exec and down still reach the launched bottle, from its record, with a warning; launch is refused', () => {
    const dir = join(ws, 'project')
    mkdirSync(dir)
    writeFileSync(join(dir, 'bottle.yaml'), 'backend: bwrap\nbottles:\n  victim: {}\n')
    expect(bottle(['run', 'launch', 'victim', '-q'], dir).status).toBe(0)
    // The agent, from inside the bottle, breaks the manifest in its workdir.
    const wrote = bottle(['run', 'exec', 'victim', `printf 'bottles:\\n  victim: [oops\\n' > ${dir}/bottle.yaml`, '-q'], dir)
    expect(wrote.status).toBe(0)
    expect(readFileSync(join(dir, 'bottle.yaml'), 'utf8')).toContain('[oops')

    const ran = bottle(['run', 'exec', 'victim', 'echo still here', '-q'], dir)
    expect(ran.status).toBe(0)
    expect(ran.stdout).toBe('still here\n')
    expect(ran.stderr).toBe('bottle: drift: bottle.yaml:2:11: YAML: an unterminated [; victim runs with its launch record, and the manifest is not read\n')

    const launch = bottle(['run', 'launch', 'another', '-b', 'bwrap', '-q'], dir)
    expect(launch.status).toBe(2)
    expect(launch.stderr).toBe('bottle: bottle.yaml:2:11: YAML: an unterminated [\n')

    const down = bottle(['run', 'down', 'victim', '-q'], dir)
    expect(down.status).toBe(0)
    expect(existsSync(join(stateHome, 'bottle', 'bwrap', 'victim'))).toBe(false)
  })
})
