/**
 * The real Claude Code (2.1.197, the npm package) in real bwrap bottles with the default network
 * policy: no `network` key, so the claude profile's hosts through the egress door and nothing else.
 * Offline: the proxy cannot resolve api.anthropic.com, and what is checked is where the agent's
 * traffic went and what the door decided (tests/agent/claude-code.ts).
 *
 * bwrap bottles use the host's binaries: the agent is installed on the host under /opt (which a
 * bwrap bottle sees read-only) and the bottle's `env` puts its bin first on PATH, as a user with
 * the agent in its own prefix would.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { enginesRequired } from '../engines/engines.js'
import {
  type AgentBottle,
  type ClaudeCode,
  checkInteractiveScreen,
  checkNotLoggedIn,
  checkOffListRefused,
  checkTriesTheApi,
  checkVersion,
  describeWithClaudeCode,
  generatedApiKey,
  runBottle,
} from './claude-code.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

const haveBwrap = onPath('bwrap', process.env.PATH) && onPath('tmux', process.env.PATH)

/** A project with one bwrap bottle NAME whose PATH starts with the agent's bin, plus `extra` manifest lines. */
const bottleIn = (root: string, name: string, claude: ClaudeCode, extra: readonly string[] = []): AgentBottle => {
  const cwd = join(root, name)
  mkdirSync(cwd)
  writeFileSync(
    join(cwd, 'bottle.yaml'),
    ['backend: bwrap', 'bottles:', `  ${name}:`, '    env:', `      PATH: ${claude.optBin}:/usr/local/bin:/usr/bin:/bin`, ...extra.map((l) => `    ${l}`), ''].join('\n'),
  )
  const state = join(root, 'state')
  // The test's own env minus any real credential: the checks bring their own generated ones.
  const env = Object.fromEntries(
    Object.entries({ ...process.env, XDG_STATE_HOME: state }).filter((e): e is [string, string] => e[1] !== undefined && !['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'].includes(e[0])),
  )
  return { name, cli: { argv: [process.execPath, cli], cwd, env }, egressLog: join(state, 'bottle', 'bwrap', name, 'egress', 'egress.log') }
}

describeWithClaudeCode('the real Claude Code in a bwrap bottle with the default network policy', (claude) => {
  if (!haveBwrap) {
    if (enginesRequired || process.env.CI)
      it('needs bwrap and tmux', () => {
        throw new Error('bwrap or tmux is not on PATH')
      })
    else it.skip('skipped: bwrap or tmux is not on PATH', () => {})
    return
  }
  const root = mkdtempSync(join(tmpdir(), 'bottle-agent-bwrap-'))
  const demo = bottleIn(root, 'demo', claude)
  let control: AgentBottle | null = null
  // A host listener off the list: the bwrap sandbox has no route to it, so only the proxy could
  // reach it. Every request it gets is recorded.
  const reached: string[] = []
  const listener: Server = createServer((req, res) => {
    reached.push(`${req.method ?? '?'} ${req.url ?? '?'}`)
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"type":"error","error":{"type":"authentication_error","message":"listener"}}')
  })
  let port = 0
  beforeAll(async () => {
    port = await new Promise<number>((ok) => listener.listen(0, '127.0.0.3', () => ok((listener.address() as { port: number }).port)))
    const launched = await runBottle(demo, ['run', 'launch', demo.name])
    // The launch proved the door (the probe runs last).
    expect(launched.stderr).toContain('egress-probe.bottle.invalid')
    expect(launched.status, launched.stderr).toBe(0)
  }, 180_000)
  afterAll(async () => {
    listener.close()
    for (const b of control === null ? [demo] : [demo, control]) await runBottle(b, ['run', 'down', b.name, '-q'])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  it('claude --version in the bottle is 2.1.197 (Claude Code)', () => checkVersion(demo), 180_000)

  it('claude -p with no credential: "Not logged in", its exit code 1 passed through', () => checkNotLoggedIn(demo), 180_000)

  it('with ANTHROPIC_API_KEY as a secret it tries the API through the door; the key is in no argv, plan or log', () => checkTriesTheApi(demo), 180_000)

  it('its request to a host off the list is refused with 403 (a name over https)', () =>
    checkOffListRefused(demo, 'https://off-list.example', { method: 'CONNECT', authority: 'off-list.example:443' }), 180_000)

  it('its request to a listening host off the list is refused, and nothing reaches the listener', async () => {
    reached.length = 0
    await checkOffListRefused(demo, `http://127.0.0.3:${port}`, { method: 'POST', authority: `127.0.0.3:${port}` })
    expect(reached).toEqual([])
  }, 180_000)

  it('its interactive screen comes up under a terminal (tmux), and its first connection goes to the door', () => checkInteractiveScreen(demo), 180_000)

  // CONTROL for the refusal: the same request from a bottle whose list names the listener
  // (marked private: it is a loopback address) reaches it, so "nothing reached" can fail.
  it('CONTROL: a bottle whose list names the listener reaches it with the same request', async () => {
    control = bottleIn(root, 'control', claude, ['network:', `  allow: ["127.0.0.3:${port}/private"]`])
    const launched = await runBottle(control, ['run', 'launch', control.name, '-q'])
    expect(launched.status, launched.stderr).toBe(0)
    reached.length = 0
    const r = await runBottle(control, ['run', 'exec', control.name, '--secret', 'ANTHROPIC_API_KEY', '-e', 'CLAUDE_CODE_MAX_RETRIES=0', '-e', `ANTHROPIC_BASE_URL=http://127.0.0.3:${port}`, 'claude -p hi'], {
      ANTHROPIC_API_KEY: generatedApiKey(),
    })
    expect(reached.some((l) => l.startsWith('POST /v1/messages')), `${r.stdout}${r.stderr}`).toBe(true)
  }, 180_000)
})
