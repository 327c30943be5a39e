/**
 * Sign-in: how the agent in a bottle is signed in, and the one directory bottle keeps on the host
 * for `auth: shared`.
 *
 *   sharedAuthDir('/home/me/.local/state/bottle', 'docker', 'claude')
 *   // '/home/me/.local/state/bottle/auth/docker/claude': the bottle user's ~/.claude in every docker bottle with auth: shared
 *   authMount(spec, host, 'docker')   // { source: '…/auth/docker/claude', target: '/home/node/.claude' }, or null for auth: token
 *
 * Two ways (docs/sign-in.md):
 * - `token` (the default, the only way on kubernetes): a token the agent reads from its env, handed
 *   in as a secret (CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`, or ANTHROPIC_API_KEY);
 * - `shared`: one directory per backend and agent under the state root, mounted read-write as the
 *   agent's config directory in the bottle user's home. A directory, not the credentials file:
 *   Claude Code replaces its credentials file by rename, and a rename onto a bind-mounted file
 *   fails (EBUSY), while a rename inside a bind-mounted directory is seen by every bottle that
 *   mounts it. So a token one bottle refreshes is the token the others read next.
 *
 * Per backend, because each maps the bottle user to another host uid: on docker and podman
 * (rootful) the image's `node` is host uid 1000 and launch gives it the directory; in a bwrap
 * sandbox the bottle user is the host user who runs bottle. A mode-700 directory that one of them
 * owns is closed to the other, so each backend keeps its own.
 *
 * Trust: the directory is the agent's, and every bottle that mounts it can write it: settings.json
 * hooks one bottle writes run in the next bottle that mounts it (the plan's sign-in note says so).
 * The host's own ~/.claude is never mounted; `bottle run auth import` copies its credentials file
 * in, once, on request. bottle never reads what is in the directory: no host step opens a file
 * there, and the one that writes (import) renames a file made outside it into place.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { BottleSpec } from './bottle-spec/spec.js'
import { type Checked, homeOf } from './bottle-spec/validate.js'
import type { Backend, GuestStep, HostFacts } from './backends/backend.js'
import { compileError, show } from './plan/errors.js'
import { type BackendName, type Note, type Plan, type Step, info, planVersion, step } from './plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** `token`: a secret in the agent's env (the default); `shared`: the host directory above. */
export const authModes = ['token', 'shared'] as const
export type AuthMode = (typeof authModes)[number]

export const defaultAuth: AuthMode = 'token'

/** The agents whose sign-in bottle knows: where each keeps it, and the env tokens it reads. */
export interface AgentSignIn {
  /** Its config directory, relative to the home: what `auth: shared` mounts. */
  readonly configDir: string
  /** Its credentials file in that directory: what `auth import` copies. */
  readonly credentials: string
  /** Env vars it signs in with, as secrets (auth: token). */
  readonly tokens: readonly string[]
}

export const signInOf = {
  // Claude Code: ~/.claude/.credentials.json on Linux; a token from `claude setup-token` in
  // CLAUDE_CODE_OAUTH_TOKEN, or an API key in ANTHROPIC_API_KEY.
  claude: { configDir: '.claude', credentials: '.credentials.json', tokens: ['CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_API_KEY'] },
  // Codex: ~/.codex/auth.json ($CODEX_HOME); an API key in OPENAI_API_KEY.
  codex: { configDir: '.codex', credentials: 'auth.json', tokens: ['OPENAI_API_KEY'] },
} as const satisfies Record<string, AgentSignIn>

export type SignInAgent = keyof typeof signInOf

export const isSignInAgent = (name: string): name is SignInAgent => Object.hasOwn(signInOf, name)

/** A bind of the shared directory: the host directory, and where the bottle user sees it. */
export interface AuthMount {
  readonly source: string
  readonly target: string
}

// -------------------------------------------------------------------------------------------------
// paths
// -------------------------------------------------------------------------------------------------

/** `STATE_ROOT/auth`: mode 700, so no other host user reaches a shared directory whatever its own mode. */
export const authRoot = (stateRoot: string): string => `${stateRoot}/auth`

/** `STATE_ROOT/auth/BACKEND/AGENT`: the shared directory. */
export const sharedAuthDir = (stateRoot: string, backend: BackendName, agent: SignInAgent): string =>
  `${authRoot(stateRoot)}/${backend}/${agent}`

/** The bind of a bottle with auth: shared (at the spec user's home); null for auth: token. */
export const authMount = (spec: BottleSpec, host: HostFacts, backend: BackendName, user: string = spec.user): AuthMount | null => {
  if (spec.auth !== 'shared' || !isSignInAgent(spec.agent.name)) return null
  return {
    source: sharedAuthDir(host.stateRoot, backend, spec.agent.name),
    target: `${homeOf(user)}/${signInOf[spec.agent.name].configDir}`,
  }
}

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

/**
 * auth: shared needs a backend that binds host directories (as it binds the workdir; not
 * kubernetes: a Pod on some node cannot mount the user's directory) and an agent whose config
 * directory bottle knows.
 */
export const checkAuth = (backend: Backend, spec: BottleSpec, host: HostFacts): Checked<BottleSpec> => {
  if (spec.auth !== 'shared') return E.right(spec)
  if (!backend.bindsWorkdir)
    return E.left(compileError(`auth: shared is not available on ${backend.name} (a Pod cannot mount a directory of this host): sign in with a token secret, --secret CLAUDE_CODE_OAUTH_TOKEN (from claude setup-token) or ANTHROPIC_API_KEY`))
  if (!isSignInAgent(spec.agent.name))
    return E.left(compileError(`auth: shared knows where claude and codex keep their sign-in, not agent ${show(spec.agent.command)}: use auth: token and a secret`))
  // docker, podman and smolvm's `-v SRC:DST` splits on `:` (refused on bwrap too: one rule).
  if (host.stateRoot.includes(':'))
    return E.left(compileError(`auth: shared: the state root ${show(host.stateRoot)} contains ":", which a bind (-v SRC:DST) cannot name; set XDG_STATE_HOME to a path without one`))
  return E.right(spec)
}

// -------------------------------------------------------------------------------------------------
// launch steps
// -------------------------------------------------------------------------------------------------

/**
 * Before create: the shared directory and its parents, mode 700, if not there yet (mkdir -p
 * leaves what exists alone, so this is idempotent), and the directory made 700 again (a bottle
 * whose user owns it can chmod it). No undo: it is shared state, kept by every undo and down.
 */
export const prepareSharedAuth = (backend: BackendName, spec: BottleSpec, host: HostFacts): Step[] => {
  const mount = authMount(spec, host, backend)
  if (mount === null) return []
  const root = authRoot(host.stateRoot)
  const perBackend = `${root}/${backend}`
  return [
    step(`make the shared sign-in directory ${mount.source} (mode 700; kept by undo and down: it is shared)`, [
      'sh', '-c', 'umask 077 && mkdir -p -m 700 -- "$1" "$2" "$3" && chmod 700 -- "$1" "$3"', 'sh', root, perBackend, mount.source,
    ]),
  ]
}

/**
 * After start, as root in the bottle: the shared directory to the bottle's user (docker, podman
 * and smolvm map it to another uid than the host user's), or it could not write its sign-in.
 * In the bottle: `chown -R` there does not follow symlinks, and reaches nothing outside the bind.
 */
export const sharedAuthOwner = (backend: BackendName, spec: BottleSpec, host: HostFacts, inGuest: GuestStep): Step[] => {
  const mount = authMount(spec, host, backend)
  if (mount === null || spec.user === 'root') return []
  return [inGuest(`give the shared sign-in directory ${mount.target} to ${spec.user}`, ['chown', '-R', '--', spec.user, mount.target])]
}

// -------------------------------------------------------------------------------------------------
// the plan's note
// -------------------------------------------------------------------------------------------------

/** Which way the bottle's agent signs in: the plan says it for launch and every agent op. */
export const signInNote = (backend: BackendName, spec: BottleSpec, host: HostFacts): Note => {
  const mount = authMount(spec, host, backend)
  if (mount !== null) return { _tag: 'signIn', how: 'shared', secrets: [], dir: mount.source }
  const tokens: readonly string[] = isSignInAgent(spec.agent.name) ? signInOf[spec.agent.name].tokens : []
  return { _tag: 'signIn', how: 'token', secrets: spec.secrets.filter((s) => tokens.includes(s)), dir: null }
}

// -------------------------------------------------------------------------------------------------
// auth import
// -------------------------------------------------------------------------------------------------

/**
 * `sh -c SCRIPT sh SOURCE ROOT PER_BACKEND DIR FILE FORCE`: the shared directory made as launch
 * makes it; an existing FILE kept (exit 2) unless FORCE is `force`; SOURCE copied to a mode-600
 * file made in PER_BACKEND (outside every bind: the bottles cannot reach it, so nothing can swap
 * it for a symlink while it is written), given to whoever owns DIR (on docker and podman, the
 * bottle user launch gave it to: they read everything in DIR already, and ROOT, mode 700,
 * keeps every other host user out), and renamed into DIR: rename(2) replaces what is at
 * DIR/FILE, a symlink a bottle left there included, and never writes through it.
 */
export const importScript = [
  'umask 077',
  'mkdir -p -m 700 -- "$2" "$3" "$4" && chmod 700 -- "$2" "$4" || exit 1',
  'if [ "$6" != force ] && { [ -e "$4/$5" ] || [ -L "$4/$5" ]; }; then echo "bottle: auth import: $4/$5 is there already: kept (--force replaces it)" >&2; exit 2; fi',
  'tmp=$(mktemp -- "$3/.import.XXXXXX") || exit 1',
  'trap \'rm -f -- "$tmp"\' EXIT',
  "trap 'exit 130' INT",
  "trap 'exit 143' TERM",
  'cat -- "$1" > "$tmp" || exit 1',
  'chown --reference="$4" -- "$tmp" || exit 1',
  'mv -f -T -- "$tmp" "$4/$5"',
].join('\n')

/** Where `auth import` copies from: the agent's own file in the host user's home. */
export const hostCredentials = (home: string, agent: SignInAgent): string =>
  `${home}/${signInOf[agent].configDir}/${signInOf[agent].credentials}`

/** Where it copies to: the same file name in the backend's shared directory. */
export const sharedCredentials = (stateRoot: string, backend: BackendName, agent: SignInAgent): string =>
  `${sharedAuthDir(stateRoot, backend, agent)}/${signInOf[agent].credentials}`

/**
 * The plan of `auth import`: one host step. host.pathKinds holds the kinds of hostCredentials and
 * sharedCredentials (read by the CLI): a missing source, or a file there already without --force,
 * is refused here, before anything runs (the step checks the second again: a bottle may write it
 * in between).
 */
export const compileAuthImport = (
  bottles: Backend,
  op: { readonly agent: SignInAgent; readonly force: boolean },
  host: HostFacts,
): Checked<Plan> => {
  const backend = bottles.name
  if (!bottles.bindsWorkdir)
    return E.left(compileError(`auth import: ${backend} has no shared sign-in directory (a Pod cannot mount one): sign in with a token secret, --secret CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY`))
  const source = hostCredentials(host.home, op.agent)
  const target = sharedCredentials(host.stateRoot, backend, op.agent)
  const kind = (p: string) => host.pathKinds[p] ?? 'missing'
  if (kind(source) === 'missing')
    return E.left(compileError(`auth import: there is no ${show(source)} to import: sign in with ${op.agent} on this host first, or sign the bottles in with a token secret`))
  if (kind(source) !== 'file') return E.left(compileError(`auth import: ${show(source)} is not a regular file`))
  if (kind(target) !== 'missing' && !op.force)
    return E.left(compileError(`auth import: ${show(target)} is there already: bottle keeps it (--force replaces it)`))
  const dir = sharedAuthDir(host.stateRoot, backend, op.agent)
  const root = authRoot(host.stateRoot)
  return E.right({
    version: planVersion,
    op: 'auth',
    backend,
    bottle: '',
    steps: [
      step(`copy ${source} into the shared sign-in directory as ${target} (mode 600; its content is never shown)`, [
        'sh', '-c', importScript, 'sh', source, root, `${root}/${backend}`, dir, signInOf[op.agent].credentials, op.force ? 'force' : 'keep',
      ], { stdio: 'passthrough' }),
    ],
    secrets: [],
    notes: [
      info(`every ${backend} bottle with auth: shared and agent ${op.agent} mounts ${dir} as ~/${signInOf[op.agent].configDir}: the copy is theirs to read, refresh and replace; your own ${host.home}/${signInOf[op.agent].configDir} is never mounted`),
    ],
    exitCodeFrom: null,
  })
}
