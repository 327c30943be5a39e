/**
 * What wraps a user-facing guest command (agent, exec, resume) on every backend, and the step
 * that stops it when bottle is interrupted.
 *
 *   wrapCommand(['claude', '-p', 'hi'])
 *   // ['/bin/sh', '-c', commandWrapper, 'sh', '', 'claude', '-p', 'hi']   ('' holds the launch id)
 *   stopCommand()
 *   // ['/bin/sh', '-c', stopScript, 'sh', '']
 *
 * Why: `docker exec` without a TTY forwards no signal (podman, smolvm and kubectl exec alike), and
 * with one it forwards the terminal's keys but not a `kill`: the client exits 0 and the command
 * goes on running in the bottle. The client gives no process id. So the command carries this run's
 * id in its environment (`BOTTLE_RUN_ID`, inherited by everything it starts), and the stop step
 * signals every process in the bottle that has it. No file is left behind, and children that
 * started their own process group are found as well.
 *
 * The wrapper also says, with exit 127, when the command is not in the bottle: the engines give
 * 126 (docker before v28), 127 or 1 (bwrap's execvp failure) with their own wording.
 *
 * The id is the run's launch id (a plan slot, Step.launchId), filled on each run, so it is not
 * guessable before the command starts. The agent can read it from the command's environment
 * once it runs, and could give it to processes of its own: the stop step then stops those too,
 * as the same user, which the agent could do itself. The stop step runs as the command's user,
 * so it can signal nothing that user could not.
 */

/** The variable the wrapped command (and all it starts) carries: this run's id. */
export const runIdVar = 'BOTTLE_RUN_ID'

/**
 * `sh -c commandWrapper sh RUN_ID COMMAND ARGS…`: export the id, check that COMMAND is there
 * (a line naming it and 127 if not), then become COMMAND, keeping the process, its stdin and its
 * terminal. `command -v` looks COMMAND up as exec will, on the guest PATH.
 */
export const commandWrapper =
  `${runIdVar}=$1; export ${runIdVar}; shift; ` +
  `command -v -- "$1" >/dev/null 2>&1 || { printf 'bottle: %s: command not found in the bottle\\n' "$1" >&2; exit 127; }; ` +
  'exec "$@"'

/** The words before the command; the run's launch id goes in the empty one (`wrapperRunIdIndex`, a launch id slot). */
export const wrapCommand = (argv: readonly string[]): string[] => ['/bin/sh', '-c', commandWrapper, 'sh', '', ...argv]
export const wrapperLength = 5
export const wrapperRunIdIndex = 4

/**
 * `sh -c stopScript sh RUN_ID`: SIGTERM to every process whose environment holds
 * `BOTTLE_RUN_ID=RUN_ID` (GNU grep -z reads /proc/PID/environ, NUL-separated, one read per
 * process); exit 1 with a line if there was none to signal. The script's own shell never holds
 * the variable: the id is its argument.
 */
export const stopScript =
  'n=0; for f in $(grep -lxzF -e "' + runIdVar + '=$1" /proc/[0-9]*/environ 2>/dev/null); do ' +
  'p=${f#/proc/}; p=${p%/environ}; kill -TERM "$p" 2>/dev/null && n=$((n+1)); done; ' +
  '[ "$n" -gt 0 ] || { echo "bottle: found no process of this run in the bottle to stop" >&2; exit 1; }'

export const stopCommand = (): string[] => ['/bin/sh', '-c', stopScript, 'sh', '']
export const stopRunIdIndex = 4
