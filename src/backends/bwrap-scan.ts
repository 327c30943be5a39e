/**
 * The root-only scan, run natively in the step that starts the sandbox, when bottle is root.
 *
 * As root, a bwrap guest is host root to the kernel whatever --uid says (its uid maps to host
 * uid 0), so owner checks pass on every 0600 root file of the system directories it sees. Every
 * file under them that others may not read is therefore masked by /dev/null, and every directory
 * others may not list or enter by an empty tmpfs. What is root-only is read on every command, not
 * at launch: a file the host chmods later is masked on the next one.
 *
 * The step is `/bin/sh -c SCRIPT bottle-scan STATE ROOTFS BLOCKS 'etc opt' BWRAP ARGS…`: GNU find
 * walks ROOTFS/etc and ROOTFS/opt and writes what to mask as bwrap options, NUL-separated, into a
 * file in the bottle's state directory (root's, outside every bind), which the shell has open as
 * fd 3; the file's name is removed, and bwrap is exec'd with `--args 3` in ARGS, right after the
 * system directories' binds, where bwrap reads the options in place and closes the fd:
 *
 *   scanThenRun('/root/.local/state/bottle/bwrap/demo', '/', ['/etc', '/opt'], ['/usr/bin/bwrap', …, '--args', '3', …])
 *   // ['/bin/sh', '-c', SCRIPT, 'bottle-scan', '/root/.local/state/bottle/bwrap/demo', '/', '320', 'etc opt', '/usr/bin/bwrap', …]
 *
 * Symlinks are never followed (what they lead to is checked where it lives); a masked directory
 * is not descended into. find runs to the end before bwrap starts, so its status says whether the
 * list is whole (no pipe, so no pipefail needed: dash has none). Any failure exits 125 with one
 * line on stderr and bwrap never starts: the guest never runs with a partial list.
 *
 * The cap: more than scanBudget entries in all and the command is refused (125), rather than
 * scanned for seconds. The kernel counts: find writes 8 bytes per entry to a second file, and
 * RLIMIT_FSIZE (`ulimit -f`, 512-byte blocks) stops it with SIGXFSZ past scanBudget × 8 bytes.
 * The list itself is capped at that size too (thousands of masks). The shell's own note on a
 * child killed by a signal ("File size limit exceeded") is dropped: the line bottle prints says it.
 *
 * Why natively: in node, listing /etc and /opt (1,100 directories) and lstat-ing their ~4,000
 * entries costs about twice find's CPU time, and the plan now shows the exact rule. Processes
 * are few on purpose (a subshell for find, and rm): each start costs 5-10 ms on a loaded machine.
 */

/** 512-byte blocks the count file may fill: 8 bytes per entry (see above). */
const budgetBlocks = 320

/** The most entries the scan reads under all the scanned directories together (20,480). */
export const scanBudget = (budgetBlocks * 512) / 8

/**
 * The bwrap option that reads the masks: the fd the script has open on the list. bwrap reads it
 * to the end, places the options where `--args` stands, and closes it (the guest never has it).
 */
export const masksFromFd = ['--args', '3'] as const

/**
 * The script. Its PATH is fixed while it scans (a secret named PATH may be in its env, for the
 * guest) and given back for bwrap; find runs in the C locale. The directories are one word,
 * split on spaces with globbing off (dash has no arrays); each is a plain name (scanThenRun checks).
 */
const script = String.raw`state=$1 root=$2 blocks=$3 dirs=$4 p=$PATH f=$1/root-only-scan.$$; shift 4
PATH=/usr/sbin:/usr/bin:/sbin:/bin IFS=' '; set -f
fail() { printf 'bottle: %s; nothing ran\n' "$1" >&2; exit 125; }
[ -d "$state" ] || fail "the bottle's state directory $state is gone"
exec 3<> "$f" 4>&2 2>/dev/null
(exec 2>&4 4>&-; cd -- "$root" && ulimit -f "$blocks" && LC_ALL=C exec find -H $dirs -mindepth 1 -fprintf "$f.n" ........ \( -type l -o -type d ! -perm -005 -fprintf "$f" '--tmpfs\0/%p\0' -prune -o ! -type d ! -perm -004 -fprintf "$f" '--ro-bind\0/dev/null\0/%p\0' \))
s=$?; exec 2>&4 4>&-; rm -f -- "$f" "$f.n"
[ "$s" != 153 ] || fail "more than $((blocks * 64)) entries under $dirs in $root to scan for root-only files"
[ "$s" = 0 ] || fail "the scan for root-only files failed (exit status $s)"
PATH=$p; exec "$@"`

/** The script as the plan shows it (exported for its tests). */
export const scanThenRunScript = script

/** A directory the script can take in its space-separated word: bottle's own system directories. */
const plainDir = /^\/[a-z0-9]+$/

/**
 * The step's argv: scan `dirs` (guest paths of directories in `rootfs`), then run `bwrap` (its
 * argv holding masksFromFd where the masks go, after the system directories' binds).
 */
export const scanThenRun = (state: string, rootfs: string, dirs: readonly string[], bwrap: readonly string[], blocks = budgetBlocks): string[] => {
  const bad = dirs.find((d) => !plainDir.test(d))
  if (bad !== undefined) throw new Error(`bug: ${JSON.stringify(bad)} is not a system directory the root-only scan takes`)
  return [
    '/bin/sh', '-c', script, 'bottle-scan',
    state,
    rootfs,
    String(blocks),
    dirs.map((d) => d.slice(1)).join(' '),
    ...bwrap,
  ]
}
