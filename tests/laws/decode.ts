/**
 * What the independent decoders share: each backend's kit (tests/backends/NAME.kit.ts) reads its
 * exec argv the way its CLI would, back into a GuestIntent (invariant 7), written from the CLI's
 * flag grammar (docker's pflag, smolvm's clap, kubectl's cobra, bwrap's own parser, runuser and
 * GNU env) and never by calling the encoder, so an encoder bug cannot hide behind a matching
 * decoder bug. Here: the decoder types, the flag record they fill, the command wrapper and runuser.
 *
 *   kits.docker.decode(step, { host, launch })
 *   // { user: 'node', home: '/home/node', env: [], secrets: [], cwd: '/w', argv: ['claude'], tty: false, stdin: true }
 *
 * `launch` is the launch plan of the same bottle: on kubernetes the command starts with the
 * container's env, which the Pod on that plan's stdin says (the secrets, by secretKeyRef).
 * A decoder throws on argv its CLI would reject or that an intent cannot describe.
 */
import type { HostFacts } from '../../src/backends/backend.js'
import type { GuestIntent, Plan, Step } from '../../src/plan/types.js'

/** Reads one CLI's exec argv back. */
export type ArgvDecoder = (argv: readonly string[]) => GuestIntent

/** What a guest step's decoder may read besides the step: the host facts, and the bottle's launch plan. */
export interface DecodeContext {
  readonly host: HostFacts
  readonly launch: Plan
}

/**
 * Reads one guest step. bwrap's guest env is not in argv but in the process env, and stdin is the
 * step's stdio; kubernetes's starts with the Pod's env, on the launch plan; docker and smolvm
 * read argv alone.
 */
export type StepDecoder = (step: Pick<Step, 'argv' | 'env' | 'stdio'>, context: DecodeContext) => GuestIntent

/** What the flags of either CLI say, before the user switch and the command. */
export interface ExecFlags {
  name: string | null
  user: string | null
  env: [string, string][]
  /** Host variables forwarded by name: the value comes from the backend process's env. */
  forwarded: string[]
  cwd: string | null
  tty: boolean
  stdin: boolean
}

export const noFlags = (): ExecFlags => ({ name: null, user: null, env: [], forwarded: [], cwd: null, tty: false, stdin: false })

/** A later `-e K=…` wins, as in both CLIs; the first position is kept. */
export const setEnv = (flags: ExecFlags, key: string, value: string): void => {
  const at = flags.env.findIndex(([k]) => k === key)
  if (at >= 0) flags.env[at] = [key, value]
  else flags.env.push([key, value])
}

/** `-e K=V` sets K; `-e K` forwards the host's K (docker; smolvm's `parse_env_spec` likewise). */
export const envFlag = (flags: ExecFlags, spec: string): void => {
  const eq = spec.indexOf('=')
  if (eq < 0) flags.forwarded.push(spec)
  else if (eq > 0) setEnv(flags, spec.slice(0, eq), spec.slice(eq + 1))
  // smolvm drops an empty key; docker rejects it. Neither sets anything.
}

/**
 * Builds the intent: HOME from the env, USER must agree with the user switch (runuser and docker
 * -u both run as that user; a USER saying otherwise would lie to the agent).
 */
export const intentOf = (flags: ExecFlags, user: string | null, argv: readonly string[]): GuestIntent => {
  if (user === null) throw new Error('no user switch: the image default user would run the command')
  const home = flags.env.find(([k]) => k === 'HOME')?.[1]
  if (home === undefined) throw new Error('HOME is not set')
  const userEnv = flags.env.find(([k]) => k === 'USER')?.[1]
  if (userEnv !== user) throw new Error(`USER=${String(userEnv)} but the command runs as ${user}`)
  if (flags.cwd === null) throw new Error('no working directory')
  return {
    user,
    home,
    env: flags.env.filter(([k]) => k !== 'HOME' && k !== 'USER'),
    secrets: flags.forwarded,
    cwd: flags.cwd,
    argv: [...argv],
    tty: flags.tty,
    stdin: flags.stdin,
  }
}

// -------------------------------------------------------------------------------------------------
// the command wrapper (every backend, innermost): `/bin/sh -c WRAPPER sh RUN_ID COMMAND…`
// -------------------------------------------------------------------------------------------------

/**
 * The wrapper bottle puts around agent, exec and resume commands, restated: it exports its first
 * argument as BOTTLE_RUN_ID, exits 127 if the second is not a command, and execs the rest.
 */
export const commandWrapperScript =
  'BOTTLE_RUN_ID=$1; export BOTTLE_RUN_ID; shift; ' +
  `command -v -- "$1" >/dev/null 2>&1 || { printf 'bottle: %s: command not found in the bottle\\n' "$1" >&2; exit 127; }; ` +
  'exec "$@"'

/** The word the run's id goes in (a launch id slot: empty in the plan). */
export const runIdWord = ''

/**
 * The command a guest argv runs: through the wrapper if it has one (the run id only marks the
 * process; it is no part of the intent), else as it is (plumbing).
 */
export const unwrapCommand = (argv: readonly string[]): readonly string[] => {
  if (argv[0] !== '/bin/sh' || argv[1] !== '-c' || argv[2] !== commandWrapperScript) return argv
  if (argv[3] !== 'sh' || argv[4] !== runIdWord) throw new Error(`the command wrapper takes $0 and the run id, not ${JSON.stringify(argv.slice(3, 5))}`)
  if (argv.length < 6) throw new Error('the command wrapper has no command to run')
  return argv.slice(5)
}

// -------------------------------------------------------------------------------------------------
// runuser (smolvm and kubernetes, in the guest): `runuser [-u USER] [--] COMMAND...` switches user
// without a login shell
// -------------------------------------------------------------------------------------------------

/** runuser's options up to the command; a login shell (`-l`, `-`) would reset env and cwd. */
export const decodeRunuser = (argv: readonly string[]): { user: string; command: readonly string[] } => {
  if (argv[0] !== 'runuser') throw new Error(`the guest command is ${JSON.stringify(argv[0])}, not a runuser user switch`)
  let user: string | null = null
  let i = 1
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a === '-u' || a === '--user') user = argv[++i] ?? null
    else if (a.startsWith('--user=')) user = a.slice('--user='.length)
    else if (a.startsWith('-u') && a.length > 2) user = a.slice(2)
    else if (a.startsWith('-')) throw new Error(`runuser: unexpected option ${a}`)
    else break
  }
  if (user === null) throw new Error('runuser: -u USER is required to run a command')
  const command = argv.slice(i)
  if (command.length === 0) throw new Error('runuser: no command')
  return { user, command }
}
