/**
 * The one table of the CLI: every operation (its arguments, summary, example) and every flag
 * (its value, help line, which operations take it). The parser (request.ts) and the help
 * (help.ts) are both read off it, so a flag cannot be accepted without being documented.
 *
 *   flagsOf('run', 'update')   // ['backend', 'file', 'context', 'namespace', 'image', …, 'yes', 'quiet']
 *   ops.exec.args              // [{ name: 'name', … }, { name: 'script', … }]
 */
import { paneModes } from '../attach.js'
import { authModes } from '../auth.js'
import { workspaceModes } from '../workspace.js'
import { formats } from '../plan/render.js'
import { type OpName, backendNames } from '../plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export const modes = ['plan', 'run'] as const
/** `plan` prints the plan of an operation; `run` runs it. */
export type Mode = (typeof modes)[number]

/** A positional argument of an operation: `<name>`, `[name]` or `[args...]`. */
export interface ArgDoc {
  readonly name: string
  readonly required: boolean
  /** Takes every positional left (the agent's own arguments). */
  readonly variadic: boolean
}

export interface OpDoc {
  readonly args: readonly ArgDoc[]
  readonly summary: string
  /** A command that works, written for `bottle run` (help shows it with the mode asked for). */
  readonly example: string
  /** Flags taken in both modes, in help order. */
  readonly flags: readonly FlagName[]
  /** Flags only `bottle plan OP` takes, and only `bottle run OP`. */
  readonly planFlags: readonly FlagName[]
  readonly runFlags: readonly FlagName[]
  /** What -b defaults to for this operation (ls and down --all look at every backend on PATH). */
  readonly backendDefault: string
}

export interface FlagDoc {
  readonly short?: string
  /** The value's placeholder for a flag that takes one (`<file>`); absent for a switch. */
  readonly value?: string
  /** Given more than once, every value is kept (in order); otherwise the last one counts. */
  readonly multiple?: boolean
  /** A switch that also has a `--no-NAME` form, which sets it false. */
  readonly negatable?: boolean
  /** The values it accepts; anything else is refused by the parser. */
  readonly choices?: readonly string[]
  readonly description: string
}

// -------------------------------------------------------------------------------------------------
// flags
// -------------------------------------------------------------------------------------------------

/** Every flag, by its long name (the camelCase form is the Request field: allow-root → allowRoot). */
export const flagDocs = {
  backend: { short: 'b', value: '<backend>', description: `${backendNames.join(' | ')}` },
  file: { short: 'f', value: '<file>', description: 'manifest (default: ./bottle.yaml if present)' },
  context: { value: '<context>', description: "kubernetes: the kubeconfig context (default: the manifest's, else kubectl's current context)" },
  namespace: { short: 'n', value: '<namespace>', description: "kubernetes: the namespace (default: the manifest's, else the context's)" },
  image: { value: '<image>', description: 'image to create the bottle from (bwrap: a root filesystem directory; default /)' },
  user: { value: '<user>', description: 'the guest user (default: node); exec runs the script as this user' },
  env: { short: 'e', value: '<KEY=VALUE>', multiple: true, description: 'guest env entry (repeatable)' },
  secret: { value: '<NAME>', multiple: true, description: 'host env var handed to the guest by name (repeatable)' },
  prompt: { value: '<file>', description: 'system-prompt file for the agent' },
  workdir: { value: '<dir>', description: 'host directory bound at the same path and used as the cwd (default: .)' },
  network: { value: '<mode>', description: "open | none | host (default: only the agent's hosts and --allow, through the bottle's proxy; default is the old name of open)" },
  allow: { value: '<HOST[:PORT]>', multiple: true, description: 'also let the agent reach HOST (NAME, *.DOMAIN, IP, [IPv6]; port 443 unless given; /private: may resolve to a private address); repeatable' },
  cpus: { value: '<n>', description: 'limit: CPUs, a positive decimal (1.5)' },
  memory: { value: '<size>', description: 'limit: memory, bytes or with b, k, m, g, t in powers of 1024 (512m, 4g)' },
  pids: { value: '<n>', description: 'limit: processes (and threads) at once' },
  agent: { value: '<agent>', description: 'claude | codex | COMMAND (a command: no prompt flag, no resume)' },
  auth: { value: '<how>', choices: authModes, description: "how the agent signs in: token (a secret: CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY; the default) | shared (bottle's own directory on the host as ~/.claude, shared by every bottle that says shared; not kubernetes)" },
  'max-bundle': { value: '<size>', description: 'fetch: the most the bundle from the bottle may be, bytes or with k, m, g, t in powers of 1024 (default: 2g); a larger one is refused, nothing fetched' },
  workspace: { value: '<how>', choices: workspaceModes, description: "launch: bind (the host workdir; the default but on kubernetes) | copy (the workdir's git repository copied in as the bottle's own, HEAD and uncommitted work; nothing bound; the default on kubernetes)" },
  provision: { negatable: true, description: "--no-provision: install nothing and run no provision script at launch (the manifest's provision: false); --provision: as the manifest says" },
  'allow-root': { description: 'let an agent that refuses root run as user root (claude: IS_SANDBOX=1)' },
  tty: { negatable: true, description: 'allocate a TTY (stdin must be a terminal; the default when it is one); --no-tty: never' },
  'check-drift': { description: 'also list the bottles (a read-only backend command) and say whether this one has drifted from this spec' },
  yes: { short: 'y', description: 'apply without asking (needed when stdin or stderr is not a terminal)' },
  force: { description: 'auth import: replace a credentials file the shared directory has already' },
  all: { description: 'every bottle this tool created, on -b or on every backend on PATH (found by listing them first, also for plan)' },
  json: { description: 'print the bottles as JSON: {bottles, unreachable}' },
  pane: { value: '<mode>', choices: paneModes, description: 'split: split-window; respawn: respawn-pane -k; window: new-window (default: split)' },
  target: { value: '<target>', description: "tmux's -t: the pane (split, respawn) or window (window); default: the pane bottle runs in ($TMUX_PANE), or tmux's current one outside tmux" },
  resume: { description: "resume the agent's last session, or start a fresh one" },
  format: { value: '<format>', choices: formats, description: `${formats.join(' | ')} (default: text)` },
  quiet: { short: 'q', description: 'no progress lines' },
  /** `bottle run --plan FILE`: no operation takes it; it stands where the operation would. */
  plan: { value: '<file>', description: 'run the plan saved in FILE (bottle plan OP … --format json > FILE), and nothing else' },
} as const satisfies Record<string, FlagDoc>

export type FlagName = keyof typeof flagDocs

// -------------------------------------------------------------------------------------------------
// operations
// -------------------------------------------------------------------------------------------------

const arg = (name: string, required = true, variadic = false): ArgDoc => ({ name, required, variadic })
const guestArgs = arg('args', false, true)

/** Which bottle, on which backend: every operation takes these. */
const where: readonly FlagName[] = ['backend', 'file', 'context', 'namespace']
/** What the bottle is: every operation that names one bottle takes these (they override the spec). */
const what: readonly FlagName[] = ['image', 'user', 'env', 'secret', 'prompt', 'workdir', 'network', 'allow', 'agent', 'auth', 'allow-root']
/** What the bottle may use: set at launch (update shows a change, and says it needs a relaunch). */
const limitFlags: readonly FlagName[] = ['cpus', 'memory', 'pids', 'provision', 'workspace']
const oneBottle = "the manifest's, else the first usable, bwrap last"

export const ops: { readonly [K in OpName]: OpDoc } = {
  launch: {
    args: [arg('name')],
    summary: 'create and start the bottle; copy the prompt file in; undo it all on failure',
    example: 'bottle run launch demo -b docker',
    flags: [...where, ...what, ...limitFlags],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  agent: {
    args: [arg('name'), guestArgs],
    summary: "run the agent as the bottle's user; a TTY iff stdin is a terminal; exits with the agent's code",
    example: 'bottle run agent demo -- -p "explain this repo"',
    flags: [...where, ...what, 'tty', 'check-drift'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  exec: {
    args: [arg('name'), arg('script')],
    summary: "run a POSIX sh script in the bottle, as --user or the bottle's user",
    example: "bottle run exec demo 'npm test' --user node",
    flags: [...where, ...what, 'check-drift'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  shell: {
    args: [arg('name')],
    summary: "an interactive shell as the bottle's user (its login shell from the guest's /etc/passwd, else /bin/sh); a TTY iff stdin is a terminal",
    example: 'bottle run shell demo',
    flags: [...where, ...what, 'tty', 'check-drift'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  cp: {
    args: [arg('name'), arg('from'), arg('to')],
    summary: "copy a file or directory in or out: the path written with a leading : is the bottle's (./in :/home/node/in, :/home/node/out ./out); with no :, host to bottle. Out: symlinks, devices and FIFOs are left out, nothing is written over",
    example: 'bottle run cp demo :/home/node/out ./out',
    flags: [...where, ...what, 'check-drift'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  resume: {
    args: [arg('name'), guestArgs],
    summary: "resume the agent's last session (claude --continue, codex resume --last), or start a fresh one if that fails",
    example: 'bottle run resume demo',
    flags: [...where, ...what, 'tty', 'check-drift'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  attach: {
    args: [arg('name'), guestArgs],
    summary: 'open the agent (or, with --resume, the resume fallback) in a tmux pane',
    example: 'bottle run attach demo --pane split --target %3',
    flags: [...where, ...what, 'pane', 'target', 'resume'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  update: {
    args: [arg('name')],
    summary: 'show how the manifest and flags differ from the launch record, and record what can change on a live bottle (env, secrets, agent, prompt); asks first, or --yes',
    example: 'bottle run update demo',
    flags: [...where, ...what, ...limitFlags],
    planFlags: ['format'],
    runFlags: ['yes', 'quiet'],
    backendDefault: oneBottle,
  },
  probe: {
    args: [arg('name')],
    summary: "prove the bottle's egress allow-list holds, from inside it (what launch ends with): the proxy answers, an off-list host gets 403, a direct connection fails, no route but loopback",
    example: 'bottle run probe demo',
    flags: [...where, ...what],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  fetch: {
    args: [arg('name')],
    summary: "the bottle's commits back as the branch bottle/NAME of the repository you are in: a git bundle of the workdir's HEAD made in the bottle, verified and fetched with hooks off; a branch that would lose commits is refused",
    example: 'bottle run fetch demo',
    flags: [...where, ...what, 'max-bundle'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
  down: {
    args: [arg('name', false)],
    summary: 'stop and delete the bottle (or, with --all, every bottle this tool created); a bottle already gone is not an error',
    example: 'bottle run down demo',
    flags: [...where, ...what, 'all'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: `${oneBottle}; with --all, every backend on PATH`,
  },
  ls: {
    args: [],
    summary: "list this tool's bottles (on -b, or on every backend on PATH), and whether each has drifted from the manifest",
    example: 'bottle run ls -b docker',
    flags: where,
    planFlags: ['format'],
    runFlags: ['json', 'quiet'],
    backendDefault: 'every backend on PATH',
  },
  auth: {
    args: [arg('action')],
    summary: "import: copy this host's own sign-in (claude: ~/.claude/.credentials.json; codex: ~/.codex/auth.json) into the directory auth: shared mounts on the backend, once; one that is there is kept unless --force. The file is mode 600, never shown",
    example: 'bottle run auth import -b docker',
    flags: ['backend', 'file', 'agent', 'force'],
    planFlags: ['format'],
    runFlags: ['quiet'],
    backendDefault: oneBottle,
  },
}

export const opList: readonly OpName[] = Object.keys(ops) as OpName[]

export const isOpName = (s: string): s is OpName => Object.hasOwn(ops, s)

/** The flags `bottle MODE OP` takes, in help order. */
export const flagsOf = (mode: Mode, op: OpName): readonly FlagName[] => {
  const doc = ops[op]
  return [...doc.flags, ...(mode === 'plan' ? doc.planFlags : doc.runFlags)]
}

/** `<name> [args...]`: an operation's arguments as usage shows them. */
export const argsUsage = (args: readonly ArgDoc[]): string =>
  args.map((a) => (a.required ? `<${a.name}>` : `[${a.name}${a.variadic ? '...' : ''}]`)).join(' ')
