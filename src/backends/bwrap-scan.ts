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
 * The cap: more than scanBudget entries under one directory, and the bottle gets that directory
 * empty (an empty tmpfs over it, after any masks of its own, with a warning on stderr), rather
 * than scanned for seconds on every command (a conda install in /opt: 100k+ entries); the other
 * directories are scanned as usual. The kernel counts: find writes 8 bytes per entry to a second
 * file, and RLIMIT_FSIZE (`ulimit -f`, 512-byte blocks) stops it with SIGXFSZ (status 153) past
 * scanBudget × 8 bytes. One find walks all the directories; only when that goes past the cap is
 * each walked again on its own, to find which is too big. The shell's own note on a child killed
 * by a signal ("File size limit exceeded") is dropped.
 *
 * Why natively: in node, listing /etc and /opt (1,100 directories) and lstat-ing their ~4,000
 * entries costs about twice find's CPU time, and the plan now shows the exact rule. Processes
 * are few on purpose (a subshell for find, and rm): each start costs 5-10 ms on a loaded machine.
 */

/** 512-byte blocks the count file may fill: 8 bytes per entry (see above). */
const budgetBlocks = 320

/** The most entries the scan reads under one scanned directory (20,480); past it, the directory is hidden. */
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
scan() (exec 2>&4 4>&-; cd -- "$root" && ulimit -f "$blocks" && LC_ALL=C exec find -H $1 -mindepth 1 -fprintf "$f.n" ........ \( -type l -o -type d ! -perm -005 -fprintf "$2" '--tmpfs\0/%p\0' -prune -o ! -type d ! -perm -004 -fprintf "$2" '--ro-bind\0/dev/null\0/%p\0' \))
[ -d "$state" ] || fail "the bottle's state directory $state is gone"
exec 3<> "$f" 4>&2 2>/dev/null
scan "$dirs" "$f"; s=$?
if [ "$s" = 153 ]; then : > "$f"; for d in $dirs; do scan "$d" "$f.d"; s=$?
  if [ "$s" = 153 ]; then s=0; printf '%s\0/%s\0' --tmpfs "$d" >> "$f"; printf 'bottle: warning: /%s has more than %s entries to scan for root-only files: the bottle gets it empty\n' "$d" $((blocks * 64)) >&4
  elif [ "$s" = 0 ]; then cat -- "$f.d" >> "$f" || s=1; fi; [ "$s" = 0 ] || break; done; fi
exec 2>&4 4>&-; rm -f -- "$f" "$f.n" "$f.d"
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
