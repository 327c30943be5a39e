/**
 * `bottle run update` on the real docker engine (scripts/test-engines.sh; skipped with its reason
 * when the engine is not there): an edited manifest reaches no exec until update; update applies
 * env, a secret name and a new prompt file, and never the workdir or the network.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { client, enginesRequired, findEngine } from './engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const found = findEngine('docker')

if (typeof found === 'string') {
  if (enginesRequired)
    it(`docker engine is required (BOTTLE_REQUIRE_ENGINES=1) but ${found}`, () => {
      throw new Error(found)
    })
  else it.skip(`docker engine: skipped, ${found}`, () => {})
} else {
  const engine = found
  const root = mkdtempSync(join(tmpdir(), 'bottle-update-docker-'))
  const ws = join(root, 'ws')
  const elsewhere = join(root, 'elsewhere')
  mkdirSync(ws)
  mkdirSync(elsewhere)
  const name = `bt-${randomBytes(3).toString('hex')}-upd`
  const secretValue = `s3cret-${randomBytes(12).toString('base64url')}`
  const manifest = (body: readonly string[]) =>
    ['backend: docker', 'bottles:', `  ${name}:`, `    image: ${engine.image}`, ...body.map((l) => `    ${l}`), ''].join('\n')
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state'), UPDATE_TEST_SECRET: secretValue }
  const bottle = (args: readonly string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const probe = 'echo "A=$A NEW=${NEW_KEY-unset} SECRET=${UPDATE_TEST_SECRET-unset}"; pwd; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " "'

  afterAll(() => {
    client(engine, ['rm', '-f', name])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe('update on the real docker engine', { timeout: 180_000 }, () => {
    it('an edited manifest reaches no exec; update applies env, the secret name and the prompt, never workdir or network', () => {
      writeFileSync(join(ws, 'bottle.yaml'), manifest(['env: {A: "1"}', 'network: open']))
      expect(bottle(['run', 'launch', name, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const before = bottle(['run', 'exec', name, probe])
      expect(before.status).toBe(0)
      expect(before.stdout.split('\n').slice(0, 2)).toStrictEqual(['A=1 NEW=unset SECRET=unset', ws])

      // What the agent would write (the workdir is bound read-write in the container).
      writeFileSync(join(ws, 'p.md'), 'a new prompt\n')
      writeFileSync(join(ws, 'bottle.yaml'), manifest(['env: {A: "2", NEW_KEY: "n"}', 'secrets: [UPDATE_TEST_SECRET]', `workdir: ${elsewhere}`, 'network: host', 'prompt: p.md']))
      const drifted = bottle(['run', 'exec', name, probe])
      expect(drifted.stdout).toBe(before.stdout)
      expect(drifted.stderr).toContain(`drift: ${name} (docker)`)

      const upd = bottle(['run', 'update', name, '--yes'])
      expect(upd.status).toBe(0)
      expect(upd.stderr).toContain(`bottle: not applied: workdir ${ws} → ${elsewhere} (relaunch to apply)`)
      expect(upd.stderr).toContain('bottle: not applied: network open → host (relaunch to apply)')
      expect(upd.stderr).toContain('bottle: update: secret UPDATE_TEST_SECRET added')
      expect(upd.stderr).not.toContain(secretValue)

      const after = bottle(['run', 'exec', name, probe])
      expect(after.status).toBe(0)
      const [first, cwd, ifaces] = after.stdout.split('\n')
      expect([first, cwd]).toStrictEqual([`A=2 NEW=n SECRET=${secretValue}`, ws])
      // The network as launched: the same interfaces as before the update.
      expect(ifaces).toBe(before.stdout.split('\n')[2])
      expect(bottle(['run', 'exec', name, 'cat /opt/bottle/system-prompt.md']).stdout).toBe('a new prompt\n')
      // The record keeps the launch's workdir and network: the next launch-time decision is the user's.
      const record = JSON.parse(readFileSync(join(root, 'state', 'bottle', 'docker', name, 'record.json'), 'utf8')) as { spec: Record<string, unknown> }
      expect(record.spec).toMatchObject({ workdir: ws, network: { mode: 'open' }, secrets: ['UPDATE_TEST_SECRET'], prompt: join(ws, 'p.md') })
      // The secret's value is in no label or config of the container.
      expect(client(engine, ['container', 'inspect', name]).stdout).not.toContain(secretValue)
    })
  })
}
