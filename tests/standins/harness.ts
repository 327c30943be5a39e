/**
 * The stand-in harness: a private log, state and workdir per sandbox, and two ways to run bottle
 * against the stand-in `smolvm`/`docker` (tests/standins/standin.mjs; not the real tools):
 *
 *   const sb = sandbox()
 *   await bottle(['run', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--network', 'open'], sb.env)   // in-process main()
 *   await bottleProcess(['run', 'exec', 'demo', 'exit 3', '-b', 'docker'], sb.env)           // node dist/bottle.js
 *   sb.log()   // [{ seq: 1, tool: 'docker', argv: ['create', '--name', …], env: {…}, stdin: '' }, …]
 *
 * In-process runs are fast (only the stand-ins spawn) and are what the properties use; the built
 * executable is for what only a real process shows: exit status, signals, the stderr it writes.
 */
import { type ResultPromise, execa } from 'execa'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli.js'
import { withKnobs } from './knobs.js'
import { writeRecordOf } from '../records.js'
import type { BackendName, Plan } from '../../src/plan/types.js'

/**
 * The backends whose stand-in is standin.mjs, which this harness drives (bwrap runs for real, in
 * tests/bwrap). The stand-in kubectl beside them (kubectl.mjs) keeps its own log and state
 * ($BOTTLE_KUBECTL_LOG, $BOTTLE_KUBECTL_STATE): tests/interpret/kubernetes.test.ts drives it, with
 * the same `standinPath`.
 */
export const standinBackends = ['smolvm', 'docker'] as const satisfies readonly BackendName[]

export const standinsDir = fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, '')
export const bottleJs = fileURLToPath(new URL('../../dist/bottle.js', import.meta.url))

/** One recorded invocation of a stand-in: what bottle handed it. */
export interface Invocation {
  readonly seq: number
  readonly tool: BackendName
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly stdin: string
  readonly cwd: string
}

export interface Sandbox {
  readonly root: string
  /** An existing host directory: the bottle's workdir (smolvm -v needs one that exists). */
  readonly workdir: string
  /** The whole environment bottle gets: PATH with the stand-ins first, and where they log. */
  readonly env: Readonly<Record<string, string>>
  readonly log: () => Invocation[]
  readonly clearLog: () => void
  /** The bottles the stand-in holds right now (created by bottle's steps, not removed since). */
  readonly live: (tool: BackendName) => string[]
  /** A file's content in a bottle's simulated guest file system, or null if there is none. */
  readonly guestFile: (tool: BackendName, bottle: string, path: string) => string | null
  /** A directory's entries in a bottle's simulated guest file system, or null if there is none. */
  readonly guestDir: (tool: BackendName, bottle: string, path: string) => string[] | null
  /** Writes a host file under the sandbox and returns its path. */
  readonly hostFile: (name: string, content: string) => string
  readonly dispose: () => void
}

/**
 * The stand-ins first, so they shadow any real smolvm/docker; then node's directory (the
 * stand-ins are node scripts) and the system directories for sh, cp, tar and rm.
 */
export const standinPath = [standinsDir, dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter)

export const sandbox = (): Sandbox => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-standin-'))
  const logFile = join(root, 'log.jsonl')
  const state = join(root, 'state')
  const workdir = join(root, 'work')
  mkdirSync(state)
  mkdirSync(workdir)
  const log = (): Invocation[] =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Invocation)
      : []
  return {
    root,
    workdir,
    env: { PATH: standinPath, BOTTLE_STANDIN_LOG: logFile, BOTTLE_STANDIN_STATE: state, HOME: root, LANG: 'C.UTF-8' },
    log,
    clearLog: () => rmSync(logFile, { force: true }),
    live: (tool) =>
      existsSync(join(state, tool))
        ? readdirSync(join(state, tool))
          .filter((f) => f.endsWith('.json'))
          .map((f) => decodeURIComponent(f.slice(0, -'.json'.length)))
          .sort()
        : [],
    guestFile: (tool, bottle, path) => {
      const p = join(state, tool, `${encodeURIComponent(bottle)}.fs`, path)
      return existsSync(p) && statSync(p).isFile() ? readFileSync(p, 'utf8') : null
    },
    guestDir: (tool, bottle, path) => {
      const p = join(state, tool, `${encodeURIComponent(bottle)}.fs`, path)
      return existsSync(p) && statSync(p).isDirectory() ? readdirSync(p).sort() : null
    },
    hostFile: (name, content) => {
      const p = join(root, name)
      writeFileSync(p, content)
      return p
    },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  }
}

export interface Ran {
  readonly code: number
  readonly stdout: string
  /** What bottle itself wrote to stderr (its own lines only, in-process). */
  readonly stderr: string
}

/**
 * bottle's main() in this process, with `env` as its whole host environment. Its own messages
 * are captured; the stand-ins' passthrough output goes to the test runner's stdout/stderr.
 * Never for terminal steps (agent, resume): those would hand the stand-in the runner's stdin.
 */
export const bottle = async (args: readonly string[], env: Readonly<Record<string, string>>): Promise<Ran> => {
  let stdout = ''
  const errLines: string[] = []
  const code = await main(args, { out: (t) => (stdout += t), err: (l) => errLines.push(l), env: withKnobs(env) })
  return { code, stdout, stderr: errLines.length === 0 ? '' : `${errLines.join('\n')}\n` }
}

/** The built executable, `node dist/bottle.js ARGS`, with `env` as its whole environment. */
export const bottleProcess = (
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  opts: { input?: string; detached?: boolean; cwd?: string } = {},
): ResultPromise<{ reject: false; stripFinalNewline: false }> =>
  execa(process.execPath, [bottleJs, ...args], {
    env: withKnobs(env),
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    detached: opts.detached ?? false,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  })

/** Lines of a stream's text, without the empty one after the final newline. */
export const lines = (text: string): string[] => text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1))

/** Waits until `ok()` holds, polling; fails after `ms`. */
export const until = async (ok: () => boolean, ms = 20_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the stand-in')
    await new Promise((r) => setTimeout(r, 15))
  }
}

/**
 * How many cases a property that spawns stand-ins tries: each case costs real processes, so far
 * fewer than the pure properties (tests/runs.ts); more in CI.
 */
export const spawnRuns = process.env.CI ? 20 : 10

/** `bottle run launch NAME` in-process; throws unless it succeeded, then clears the log. */
export const launch = async (sb: Sandbox, backend: BackendName, name = 'demo'): Promise<void> => {
  const r = await bottle(['run', 'launch', name, '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', '-q'], sb.env)
  if (r.code !== 0) throw new Error(`launch ${name} on the stand-in ${backend} failed (${r.code}): ${r.stderr}`)
  sb.clearLog()
}

/**
 * The launch record a launch of NAME would write, and no bottle: a bottle the backend has lost
 * (removed behind bottle's back), which later ops still plan on.
 */
export const recordOnly = async (sb: Sandbox, backend: BackendName, name = 'demo'): Promise<void> => {
  const r = await bottle(['plan', 'launch', name, '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--format', 'json'], sb.env)
  if (r.code !== 0) throw new Error(`plan launch ${name} on ${backend} failed (${r.code}): ${r.stderr}`)
  writeRecordOf(JSON.parse(r.stdout) as Plan)
}
