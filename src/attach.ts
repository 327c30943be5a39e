/**
 * attach: the step that opens a tmux pane running an agent step, exactly as `bottle run` would
 * run that step (docs/backend-facts.md §5).
 *
 *   attachStep(agentStep, { pane: 'split', target: '%3', window: 'demo' }, 'the agent', '/tmp')
 *   // right(step: 'open the agent in a new tmux pane beside %3',
 *   //   argv ['tmux','split-window','-t','%3','--','docker','exec','-i','-t',…,'demo','claude'])
 *
 * Two tmux facts shape the argv (both checked on tmux 3.3a):
 * - With two or more words after the flags, tmux execvp's them: no shell, so the user's
 *   default-shell (fish, zsh) never parses them. One word would go through `default-shell -c`.
 *   Every agent argv here has several words, and `--` ends tmux's flags.
 * - tmux's command-line parser reads any word ending in `;` as a command separator, and turns a
 *   final `\;` into a literal `;`. So every word ending in `;` gets a `\` before that `;`
 *   (`a;` → `a\;`, `\;` → `\\;`), and tmux hands the pane the original word.
 *
 * The environment is the hard part. tmux starts the pane with the tmux *server's* environment
 * (plus the client's PATH), not bottle's. An agent step that needs variables from bottle (secrets
 * for docker's `-e NAME`, smolvm's `--secret-env`; bwrap's exact env) would get the server's
 * values or none. tmux's own ways in (`-e NAME=VALUE`, `set-environment`) put the value in an
 * argv, and set-environment would also leave it in the session for every later pane. So when the
 * agent step has variables, the step is a hand-off instead, in plain POSIX sh:
 *
 * 1. The hand-off (this step's process) gets the values under the names BOTTLE_ATTACH_0…, so that
 *    no value passes through a name sh treats specially (IFS, PWD, OPTIND, …). It writes each one
 *    to a file in a fresh `mktemp -d` directory (mode 0700, under the host's temporary
 *    directory), puts the directory's path into the pane's words, and runs tmux.
 * 2. The pane runs /bin/sh with the loader below: it reads the files, removes the directory,
 *    exports each variable under its real name, and execs the agent step's argv. For an exact
 *    environment (inheritHost false) the loader starts under `env -i`.
 *
 * So values never enter an argv, the plan, or the tmux server, and sit on disk only from the
 * hand-off until the pane has read them. A pane may die before it reads them (another attach
 * respawned it, say): a watcher the hand-off starts removes the directory then, at most
 * handoffWaitSeconds later; if tmux refuses the command, the hand-off removes it at once. What
 * stays inexact: a name the pane's sh keeps for itself (shellReserved) is refused or overwritten
 * by it, and the plan says so in a note.
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError } from './plan/errors.js'
import type { Step } from './plan/types.js'
import { plain, secretAs, secretSource, step } from './plan/types.js'
import type { Checked } from './bottle-spec/validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export const paneModes = ['split', 'respawn', 'window'] as const
/** split-window beside the target pane; respawn-pane -k in place of it; new-window. */
export type PaneMode = (typeof paneModes)[number]

export interface PaneTarget {
  readonly pane: PaneMode
  /** tmux's -t: a pane for split and respawn, a window for new-window; null: tmux's current one. */
  readonly target: string | null
  /** The name a new window gets. */
  readonly window: string
}

// -------------------------------------------------------------------------------------------------
// tmux words
// -------------------------------------------------------------------------------------------------

/** A word tmux's command-line parser hands on unchanged: a final `;` becomes `\;`. */
export const escapeTmuxWord = (word: string): string => (word.endsWith(';') ? `${word.slice(0, -1)}\\;` : word)

/** `tmux SUBCOMMAND FLAGS --`, before the pane's words. */
export const tmuxPrefix = (how: PaneTarget): string[] => {
  const target = how.target === null ? [] : ['-t', how.target]
  switch (how.pane) {
    case 'split':
      return ['tmux', 'split-window', ...target, '--']
    case 'respawn':
      // Without -k tmux refuses a pane whose command is still running.
      return ['tmux', 'respawn-pane', '-k', ...target, '--']
    case 'window':
      return ['tmux', 'new-window', '-n', how.window, ...target, '--']
  }
}

// -------------------------------------------------------------------------------------------------
// the hand-off
// -------------------------------------------------------------------------------------------------

/**
 * Names /bin/sh will not export as given: dash resets OPTIND; bash as sh refuses its readonly
 * variables and sets the others itself (seen with dash 0.5.12 and bash 5.2).
 */
export const shellReserved: ReadonlySet<string> = new Set([
  'OPTIND', '_', 'PPID', 'UID', 'EUID', 'SHELLOPTS', 'BASHOPTS', 'BASHPID', 'BASH_VERSINFO', 'SHLVL', 'LINENO', 'RANDOM', 'SECONDS',
])

/** The prefix of the names the hand-off reads its values from. */
export const handoffVar = 'BOTTLE_ATTACH_'

/**
 * The most the files wait for the pane to read them, in seconds: the pane's /bin/sh reads them
 * within milliseconds of tmux starting it, and within a second or two on a loaded machine.
 */
export const handoffWaitSeconds = 10

/**
 * The hand-off. $1: where to make the private directory; $2: how many values (in
 * BOTTLE_ATTACH_0…); $3: after how many of the remaining words the directory's path goes; the
 * rest: the tmux command. Exit: tmux's, or 1 if the values could not be written.
 *
 * The pane removes the directory when it has read it, but a pane can die before that: a second
 * `attach --pane respawn` on the same pane, a closed window, a pane command that fails. So before
 * tmux runs, a watcher in the background (which ignores hangups and interrupts, and holds none of
 * the step's output) removes the directory once the pane has, or after handoffWaitSeconds at the
 * latest; and a refused tmux command removes it at once. No interleaving leaves a value on disk
 * for longer than that, whether or not the pane ever starts, and whatever becomes of bottle.
 */
export const handoffScript = [
  'umask 077',
  'bottle_t=$1 bottle_n=$2 bottle_p=$3',
  'shift 3',
  'bottle_d=$(mktemp -d "$bottle_t/bottle-attach.XXXXXX") || exit 1',
  // The watcher starts before any value is written, so even a hand-off killed mid-write is covered.
  // A deadline by the clock: counting sleeps would stretch the wait on a loaded machine.
  `(trap '' HUP INT TERM; bottle_e=$(($(date +%s) + ${handoffWaitSeconds})); while [ -d "$bottle_d" ] && [ "$(date +%s)" -lt "$bottle_e" ]; do sleep 0.1; done; rm -rf "$bottle_d") </dev/null >/dev/null 2>&1 &`,
  'bottle_i=0',
  'while [ "$bottle_i" -lt "$bottle_n" ]; do',
  '  eval "printf %s \\"\\$' + handoffVar + '$bottle_i\\"" >"$bottle_d/$bottle_i" || { rm -rf "$bottle_d"; exit 1; }',
  '  bottle_i=$((bottle_i + 1))',
  'done',
  'bottle_i=0',
  'for bottle_a; do',
  '  [ "$bottle_i" = "$bottle_p" ] && set -- "$@" "$bottle_d"',
  '  set -- "$@" "$bottle_a"',
  '  bottle_i=$((bottle_i + 1))',
  'done',
  'shift "$bottle_i"',
  '"$@" && exit 0',
  'bottle_s=$?',
  // Killed by a signal (respawn-pane -k on bottle's own pane): the pane may be reading the files.
  '[ "$bottle_s" -gt 128 ] || rm -rf "$bottle_d"',
  'exit "$bottle_s"',
].join('\n')

/**
 * The loader, run by /bin/sh in the pane. $1: the private directory; $2: `exact` (started under
 * `env -i`) or `inherit`; then the variables' names, `--`, and the command. Values are read into
 * the positional parameters first and exported last, so the loader's own variables cannot
 * overwrite one. Under `env -i` the shell still exports what it sets itself (dash: PWD; bash:
 * PWD, SHLVL, `_`): exact unsets those it can before exporting.
 */
export const loaderScript = [
  'bottle_d=$1',
  'if [ "$2" = exact ]; then unset PWD OLDPWD SHLVL; fi',
  'shift 2',
  'bottle_n=$# bottle_i=0 bottle_k=0',
  'for bottle_a; do',
  '  set -- "$@" "$bottle_a"',
  '  if [ "$bottle_k" = 1 ]; then continue; fi',
  '  if [ "$bottle_a" = -- ]; then bottle_k=1; continue; fi',
  // The `.` keeps trailing newlines, which $(…) would strip.
  '  bottle_v=$(cat "$bottle_d/$bottle_i" && printf .) || { echo "bottle: cannot read $bottle_d/$bottle_i" >&2; exit 70; }',
  '  set -- "$@" "${bottle_v%.}"',
  '  bottle_i=$((bottle_i + 1))',
  'done',
  'shift "$bottle_n"',
  'rm -rf "$bottle_d"',
  'while [ "$1" != -- ]; do export "$1=$2"; shift 2; done',
  'shift',
  'exec "$@"',
].join('\n')

// -------------------------------------------------------------------------------------------------
// the step
// -------------------------------------------------------------------------------------------------

const paneTitle = (how: PaneTarget, what: string): string => {
  const where = how.target === null ? '' : ` ${how.target}`
  switch (how.pane) {
    case 'split':
      return `open ${what} in a new tmux pane beside${where || ' the current one'}`
    case 'respawn':
      return `run ${what} in place of tmux pane${where || ' (the current one)'}`
    case 'window':
      return `open ${what} in a new tmux window${where === '' ? '' : ` at${where}`}`
  }
}

/**
 * The most a tmux client sends in one command: it packs the words after `tmux`, each with a NUL,
 * into one message of at most MAX_IMSGSIZE (16384) less its headers, else it says "command too
 * long" (tmux 3.3a took 16330 bytes and refused 16430).
 */
export const tmuxCommandLimit = 16364

const packedSize = (words: readonly string[]): number =>
  words.reduce((n, w) => n + Buffer.byteLength(w, 'utf8') + 1, 0)

/**
 * The step that makes a tmux pane run `run` (an agent step: argv, env, a terminal). `tmpdir` is
 * the host's absolute temporary directory, for the hand-off. A Left if tmux would refuse the
 * command as too long: better said before the hand-off has written anything.
 */
export const attachStep = (run: Step, how: PaneTarget, what: string, tmpdir: string): Checked<Step> => {
  const made = buildAttachStep(run, how, what, tmpdir)
  // The hand-off adds the directory's path, `TMPDIR/bottle-attach.XXXXXX`, to tmux's words.
  const [first, ...rest] = made.argv
  const words = first === 'tmux' ? rest : [...rest.slice(7), `${tmpdir}/bottle-attach.XXXXXX`]
  const size = packedSize(words)
  return size <= tmuxCommandLimit
    ? E.right(made)
    : E.left(compileError(`the pane's command is ${size} bytes, and tmux takes at most ${tmuxCommandLimit} in one command: pass fewer or shorter agent arguments`))
}

const buildAttachStep = (run: Step, how: PaneTarget, what: string, tmpdir: string): Step => {
  const [binary] = run.argv
  // `env -i` would read a first word with `=` as an assignment; backends' binaries never have one.
  if (binary === undefined || binary.includes('=')) throw new Error(`attach: cannot exec ${JSON.stringify(binary)}`)
  const exact = run.env.inheritHost ? [] : ['env', '-i']
  const prefix = tmuxPrefix(how)
  const title = paneTitle(how, what)
  if (run.env.vars.length === 0)
    return step(title, [...prefix, ...exact, ...run.argv].map(escapeTmuxWord), { pane: run })

  const names = run.env.vars.map((v) => v.name)
  const beforeDir = [...prefix, ...exact, '/bin/sh', '-c', loaderScript, 'bottle-pane']
  const mode = run.env.inheritHost ? 'inherit' : 'exact'
  const tmux = [...beforeDir, mode, ...names, '--', ...run.argv].map(escapeTmuxWord)
  const values = run.env.vars.map((v, i) =>
    v._tag === 'plain' ? plain(`${handoffVar}${i}`, v.value) : secretAs(`${handoffVar}${i}`, secretSource(v)),
  )
  return step(
    title,
    ['sh', '-c', handoffScript, 'bottle-attach', tmpdir, String(values.length), String(beforeDir.length), ...tmux],
    { env: { inheritHost: true, vars: values }, pane: run },
  )
}
