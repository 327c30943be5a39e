/**
 * The real Claude Code (the npm package) for the tests that run it in a bottle, and the checks
 * they share, written against the built CLI so that any backend can run them.
 *
 *   const found = findClaudeCode()            // the fixture, or why it is missing
 *   const demo: AgentBottle = { name: 'demo', cli: { argv: [node, 'dist/bottle.js'], cwd, env }, egressLog }
 *   await checkVersion(demo)                  // `claude --version` in the bottle is 2.1.197
 *
 * The fixture comes from `scripts/test-engines.sh start` (which `.ci/run` runs): the wrapper's and
 * the linux-x64 package's npm packs (BOTTLE_TEST_CLAUDE_CODE/packs, for provisioning an engine's
 * image from them) and a prefix installed from those packs under /opt
 * (BOTTLE_TEST_CLAUDE_CODE_OPT: bwrap bottles use the host's binaries and see /opt, never /var).
 * Missing, it fails the suite in CI (BOTTLE_REQUIRE_ENGINES=1) and skips it, with the reason,
 * elsewhere.
 *
 * Everything runs offline: the proxy cannot resolve api.anthropic.com, which is fine — what is
 * checked is that the agent's traffic went to the door and what the door decided.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { quoteShArgv } from '../../src/plan/quote.js'
import { enginesRequired, envFile, readEnvFile } from '../engines/engines.js'

/** The release scripts/test-engines.sh installs (its CLAUDE_CODE_VERSION). */
export const claudeCodeVersion = '2.1.197'

// -------------------------------------------------------------------------------------------------
// the fixture
// -------------------------------------------------------------------------------------------------

export interface ClaudeCode {
  /** The two npm packs (wrapper and native), to install into an image with no network. */
  readonly packs: readonly string[]
  /** A prefix installed from the packs under /opt; its bin goes on a bwrap bottle's PATH. */
  readonly optBin: string
}

const envFileVars = readEnvFile

/** The fixture, or the reason it is not usable (one line). */
export const findClaudeCode = (): ClaudeCode | string => {
  const vars = envFileVars()
  if (typeof vars === 'string') return vars
  const base = vars.BOTTLE_TEST_CLAUDE_CODE
  const opt = vars.BOTTLE_TEST_CLAUDE_CODE_OPT
  if (base === undefined || opt === undefined) return `${envFile} sets no BOTTLE_TEST_CLAUDE_CODE or BOTTLE_TEST_CLAUDE_CODE_OPT: run scripts/test-engines.sh start`
  const packsDir = join(base, 'packs')
  const packs = existsSync(packsDir) ? readdirSync(packsDir).filter((f) => f.endsWith('.tgz')).map((f) => join(packsDir, f)) : []
  if (packs.length !== 2) return `${packsDir} does not hold the two npm packs of @anthropic-ai/claude-code: run scripts/test-engines.sh start`
  const optBin = join(opt, 'bin')
  try {
    accessSync(join(optBin, 'claude'), constants.X_OK)
  } catch {
    return `${optBin}/claude is not an executable: run scripts/test-engines.sh start`
  }
  const pkg = join(opt, 'lib', 'node_modules', '@anthropic-ai', 'claude-code', 'package.json')
  const version = existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version : undefined
  if (version !== claudeCodeVersion) return `${opt} holds Claude Code ${String(version)}, the tests expect ${claudeCodeVersion}`
  return { packs, optBin }
}

/**
 * A describe block that needs the real Claude Code: given the fixture, or one failing test in CI
 * (a missing fixture must not pass there as a skip), or one skipped test naming the reason.
 */
export const describeWithClaudeCode = (title: string, body: (claude: ClaudeCode) => void): void => {
  const found = findClaudeCode()
  if (typeof found !== 'string') {
    describe(title, () => body(found))
    return
  }
  describe(title, () => {
    if (enginesRequired)
      it('needs the real Claude Code (BOTTLE_REQUIRE_ENGINES=1)', () => {
        throw new Error(`the real Claude Code: ${found}`)
      })
    else it.skip(`skipped: ${found}`, () => {})
  })
}

// -------------------------------------------------------------------------------------------------
// a bottle to run it in
// -------------------------------------------------------------------------------------------------

/** A launched bottle whose agent is the real Claude Code, and how to reach it with the CLI. */
export interface AgentBottle {
  readonly name: string
  /** How to run bottle: argv before the op (`[node, dist/bottle.js]`), its cwd (the project) and env (XDG_STATE_HOME, an engine's client variables). */
  readonly cli: { readonly argv: readonly string[]; readonly cwd: string; readonly env: Readonly<Record<string, string>> }
  /** The bottle's egress decision log on the host (STATE/BACKEND/NAME/egress/egress.log). */
  readonly egressLog: string
}

export interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs bottle without blocking this process (a test's fake upstream may live in it). */
export const runBottle = (b: AgentBottle, args: readonly string[], extraEnv: Readonly<Record<string, string>> = {}, timeoutMs = 120_000): Promise<Ran> =>
  new Promise((done) => {
    const [cmd, ...pre] = b.cli.argv as [string, ...string[]]
    const child = spawn(cmd, [...pre, ...args], { cwd: b.cli.cwd, env: { ...b.cli.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => done({ status, stdout, stderr }))
  })

const logText = (b: AgentBottle): string => (existsSync(b.egressLog) ? readFileSync(b.egressLog, 'utf8') : '')

/** The log's lines written after `before` (its text at some earlier point). */
const newLines = (b: AgentBottle, before: string): string[] => logText(b).slice(before.length).split('\n').filter((l) => l !== '')

/**
 * Claude Code retries a failed API call about ten times with back-off (over a minute offline);
 * one try is enough to see where it goes. CLAUDE_CODE_MAX_RETRIES is Claude Code's own setting.
 */
const oneTry = ['-e', 'CLAUDE_CODE_MAX_RETRIES=0'] as const

/** A value shaped like an Anthropic API key, new on every call: a real key never reaches a test. */
export const generatedApiKey = (): string => `sk-ant-api03-${randomBytes(30).toString('base64url')}`

/**
 * Every argv on this machine that contains `needle`, seen while `during` runs (/proc polled every
 * 50 ms): bottle's own, bwrap's or an engine client's, and every process in a bwrap sandbox.
 */
export const argvContaining = async <T>(needle: string, during: () => Promise<T>): Promise<{ result: T; seen: string[] }> => {
  const seen = new Set<string>()
  const scan = () => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        if (argv.includes(needle)) seen.add(argv.replace(/\0/g, ' '))
      } catch {
        // gone while listing
      }
    }
  }
  const timer = setInterval(scan, 50)
  try {
    const result = await during()
    return { result, seen: [...seen] }
  } finally {
    clearInterval(timer)
  }
}

// -------------------------------------------------------------------------------------------------
// the checks
// -------------------------------------------------------------------------------------------------

/** `claude --version` in the bottle prints the release the fixture installed. */
export const checkVersion = async (b: AgentBottle): Promise<void> => {
  const r = await runBottle(b, ['run', 'exec', b.name, 'claude --version'])
  expect(r.stderr).toBe('')
  expect(r).toMatchObject({ status: 0, stdout: `${claudeCodeVersion} (Claude Code)\n` })
}

/**
 * `claude -p hi` with no credential: Claude Code's own sign-in message (2.1.197 prints
 * `Not logged in · Please run /login` on stdout) and its exit code 1, passed through.
 */
export const checkNotLoggedIn = async (b: AgentBottle): Promise<void> => {
  const r = await runBottle(b, ['run', 'exec', b.name, ...oneTry, 'claude -p hi'])
  expect(r.stdout).toBe('Not logged in · Please run /login\n')
  expect(r.status).toBe(1)
}

/**
 * With ANTHROPIC_API_KEY as a secret (a generated value, by name), `claude -p hi` tries the API
 * through the door: the log has CONNECT api.anthropic.com:443 and the allow-list let it through.
 * The proxy writes `allowed` once it has connected to the upstream; offline it cannot resolve the
 * name and writes `error … (could not resolve …)` — a lookup it makes only for a name an entry
 * matched (an off-list name is refused before any lookup), so both mean the policy allowed it.
 * The key's value is in no argv, no output of bottle, not in the log, and not in `bottle plan` of
 * the same command (text and json). Returns the key so the caller can look for it elsewhere.
 */
export const checkTriesTheApi = async (b: AgentBottle): Promise<string> => {
  const key = generatedApiKey()
  const before = logText(b)
  const { result: r, seen } = await argvContaining(key, () =>
    runBottle(b, ['run', 'exec', b.name, '--secret', 'ANTHROPIC_API_KEY', ...oneTry, 'claude -p hi'], { ANTHROPIC_API_KEY: key }),
  )
  const api = newLines(b, before).filter((l) => / CONNECT api\.anthropic\.com:443( |$)/.test(l))
  expect(api, `no CONNECT to api.anthropic.com:443 in ${b.egressLog}; claude said: ${r.stdout}${r.stderr}`).not.toEqual([])
  for (const line of api) expect(line).toMatch(/^\S+ (allowed CONNECT api\.anthropic\.com:443 -> |error CONNECT api\.anthropic\.com:443 \(could not (resolve|connect to) api\.anthropic\.com)/)
  // It got past the sign-in check: the failure it reports is the API's, not "Not logged in".
  expect(r.stdout).not.toContain('Not logged in')
  expect(r.status).not.toBe(0)
  expect(seen).toEqual([])
  expect(r.stdout + r.stderr).not.toContain(key)
  expect(logText(b)).not.toContain(key)
  // The plan of the same command names the secret and never shows its value, in either format.
  for (const format of ['text', 'json']) {
    const plan = await runBottle(b, ['plan', 'exec', b.name, '--secret', 'ANTHROPIC_API_KEY', '--format', format, 'claude -p hi'], { ANTHROPIC_API_KEY: key })
    expect(plan.status, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('ANTHROPIC_API_KEY')
    expect(plan.stdout + plan.stderr).not.toContain(key)
  }
  return key
}

/**
 * With the API pointed at `baseUrl` (ANTHROPIC_BASE_URL, a host off the list), the proxy refuses
 * it: every log line for `authority` is `refused METHOD authority (rule)` (`CONNECT host:443` for
 * https, `POST host:port` for plain http), there is at least one, and Claude Code reports the
 * proxy's 403.
 */
export const checkOffListRefused = async (b: AgentBottle, baseUrl: string, request: { method: string; authority: string }): Promise<void> => {
  const before = logText(b)
  const r = await runBottle(b, ['run', 'exec', b.name, '--secret', 'ANTHROPIC_API_KEY', ...oneTry, '-e', `ANTHROPIC_BASE_URL=${baseUrl}`, 'claude -p hi'], {
    ANTHROPIC_API_KEY: generatedApiKey(),
  })
  const lines = newLines(b, before).filter((l) => l.split(' ')[3] === request.authority)
  expect(lines, `no line for ${request.authority} in ${b.egressLog}; claude said: ${r.stdout}${r.stderr}`).not.toEqual([])
  for (const line of lines) expect(line.split(' ').slice(1, 4)).toEqual(['refused', request.method, request.authority])
  expect(r.stdout + r.stderr).toContain('403 bottle egress: refused')
  expect(r.status).toBe(1)
}

/**
 * `bottle run agent NAME` in a pane of a private tmux server (its own socket, a terminal of
 * 100x40): Claude Code draws its first screen — 2.1.197 shows `Welcome to Claude Code v2.1.197`
 * above the result of its connection check — and that check's CONNECT to api.anthropic.com:443
 * goes to the door (a line in the log). Waits up to `timeoutMs` for both (the first start of a
 * 235 MB binary takes seconds on a loaded machine); returns the screen.
 */
export const checkInteractiveScreen = async (b: AgentBottle, timeoutMs = 60_000): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-agent-tmux-'))
  const socket = `bottle-agent-${process.pid}-${randomBytes(3).toString('hex')}`
  // The pane stays after the agent exits (offline it exits once its connection check fails).
  writeFileSync(join(dir, 'tmux.conf'), 'set -g remain-on-exit on\n')
  const tmux = (args: readonly string[]) => runTmux(['-L', socket, '-f', join(dir, 'tmux.conf'), ...args], b.cli.env)
  const phrase = `Welcome to Claude Code v${claudeCodeVersion}`
  const before = logText(b)
  try {
    const started = await tmux(['new-session', '-d', '-x', '100', '-y', '40', '-c', b.cli.cwd, quoteShArgv([...b.cli.argv, 'run', 'agent', b.name])])
    expect(started.status, started.stderr).toBe(0)
    const until = Date.now() + timeoutMs
    let screen = ''
    let drawn = ''
    let api: string[] = []
    while (Date.now() < until) {
      screen = (await tmux(['capture-pane', '-p', '-t', '0'])).stdout
      // The screen that showed it: the agent exits once its check fails offline, and redraws.
      if (drawn === '' && screen.includes(phrase)) drawn = screen
      api = newLines(b, before).filter((l) => / CONNECT api\.anthropic\.com:443 /.test(l))
      if (drawn !== '' && api.length > 0) break
      await new Promise((ok) => setTimeout(ok, 250))
    }
    expect(drawn === '' ? screen : drawn).toContain(phrase)
    expect(api, `no CONNECT to api.anthropic.com:443 in ${b.egressLog}`).not.toEqual([])
    for (const line of api) expect(line).not.toMatch(/^\S+ refused /)
    return drawn
  } finally {
    await tmux(['kill-server'])
    rmSync(dir, { recursive: true, force: true })
  }
}

const runTmux = (args: readonly string[], env: Readonly<Record<string, string>>): Promise<Ran> =>
  new Promise((done) => {
    // TERM for the server: the pane's terminal type comes from tmux's default-terminal, the
    // client's TERM only tells tmux what it is drawn on (nothing, here: -d).
    const child = spawn('tmux', args, { env: { ...env, TERM: 'xterm-256color' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => done({ status, stdout, stderr }))
  })
