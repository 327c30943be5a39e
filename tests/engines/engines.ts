/**
 * Where the real engines of the engine suite are, and whether they answer.
 *
 * `scripts/test-engines.sh start` starts a private dockerd, gives podman a store of its own, imports
 * the test image into both and writes the variables below to an env file; `.ci/run` does that
 * before the tests. The suite reads the file from $BOTTLE_ENGINES_ENV, else
 * /tmp/bottle-engines/env (the script's default). It points the clients at the engines only
 * through the clients' own standard variables (DOCKER_HOST, CONTAINERS_CONF,
 * CONTAINERS_STORAGE_CONF), the ones bottle passes to a backend client.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'

export type EngineName = 'docker' | 'podman'

export interface Engine {
  readonly name: EngineName
  /** The client variables that reach this engine (and nothing of the test's own). */
  readonly clientEnv: Readonly<Record<string, string>>
  readonly image: string
}

export const envFile = process.env.BOTTLE_ENGINES_ENV ?? '/tmp/bottle-engines/env'

/** `.ci/run` sets this: there a missing engine fails the suite instead of skipping it. */
export const enginesRequired = process.env.BOTTLE_REQUIRE_ENGINES === '1'

/** The variables of the env file, or why there are none. */
export const readEnvFile = (): Record<string, string> | string => {
  let text: string
  try {
    text = readFileSync(envFile, 'utf8')
  } catch {
    return `no ${envFile}: run scripts/test-engines.sh start first`
  }
  return Object.fromEntries(
    text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
}

const clientVars: Record<EngineName, readonly string[]> = {
  docker: ['DOCKER_HOST'],
  podman: ['CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF'],
}

const imageVar: Record<EngineName, string> = { docker: 'BOTTLE_TEST_DOCKER_IMAGE', podman: 'BOTTLE_TEST_PODMAN_IMAGE' }

/** Runs the engine's client with only its own variables set beside the test's env. */
export const client = (engine: Engine, args: readonly string[], input?: string) =>
  spawnSync(engine.name, args, {
    env: { ...process.env, ...engine.clientEnv },
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: 120_000,
  })

/** The engine, ready for tests, or the reason it is not. */
export const findEngine = (name: EngineName): Engine | string => {
  const vars = readEnvFile()
  if (typeof vars === 'string') return vars
  const missing = [...clientVars[name], imageVar[name]].filter((k) => vars[k] === undefined)
  if (missing.length > 0) return `${envFile} sets no ${missing.join(', ')}`
  const engine: Engine = {
    name,
    clientEnv: Object.fromEntries(clientVars[name].map((k) => [k, vars[k] as string])),
    image: vars[imageVar[name]] as string,
  }
  // An image that is there proves the engine answers and the script finished.
  const probe = client(engine, name === 'docker' ? ['image', 'inspect', '--format', '{{.Id}}', engine.image] : ['image', 'exists', engine.image])
  if (probe.error !== undefined) return `${name} could not be run: ${probe.error.message}`
  if (probe.status !== 0)
    return `${name} does not answer with ${engine.image} (${(probe.stderr.trim().split('\n')[0] ?? '') || `exit ${probe.status}`}): run scripts/test-engines.sh start`
  return engine
}

/**
 * Declares `suite(engine)` when the engine answers (and `needs`, when given, finds nothing
 * missing); otherwise one test that says why: skipped, or, where engines are required (CI),
 * failing. Every engine test file starts here.
 */
export const onEngine = (name: EngineName, suite: (engine: Engine) => void, needs?: (engine: Engine) => string | null): void => {
  const found = findEngine(name)
  const missing = typeof found === 'string' ? found : (needs?.(found) ?? null)
  if (typeof found !== 'string' && missing === null) return suite(found)
  if (enginesRequired)
    it(`${name} engine is required (BOTTLE_REQUIRE_ENGINES=1) but ${missing}`, () => {
      throw new Error(`${name}: ${missing} (env file ${envFile})`)
    })
  else it.skip(`${name} engine: skipped, ${missing}`, () => {})
}

/** For onEngine's `needs`: null when the engine's test image has git (the workspace suites run it in the bottle). */
export const imageHasGit = (engine: Engine): string | null =>
  client(engine, ['run', '--rm', '--entrypoint', 'git', engine.image, '--version']).status === 0
    ? null
    : `the test image ${engine.image} has no git: run scripts/test-engines.sh start (its image recipe copies the host's git in)`

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

/** A scratch root with a workdir `ws`, bottle's state in it, and the built CLI run against the engine. */
export interface EngineScratch {
  readonly root: string
  readonly ws: string
  /** The test's env, the engine's client variables, and XDG_STATE_HOME in `root`. */
  readonly env: Readonly<Record<string, string>>
  /** `node dist/bottle.js ARGS` in `ws`, synchronously. */
  readonly bottle: (args: readonly string[]) => { status: number | null; stdout: string; stderr: string }
}

export const engineScratch = (engine: Engine, prefix: string): EngineScratch => {
  const root = mkdtempSync(join(tmpdir(), `${prefix}-${engine.name}-`))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state') }
  return {
    root,
    ws,
    env,
    bottle: (args) => {
      const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
      return { status: r.status, stdout: r.stdout, stderr: r.stderr }
    },
  }
}
