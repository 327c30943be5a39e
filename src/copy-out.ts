/**
 * `bottle run cp NAME :GUEST HOST`: a file or directory out of the bottle, on every backend, the
 * same way. The bottle writes a tar archive of GUEST to stdout (its own exec, as the bottle's
 * user); one host step unpacks it into a fresh directory beside the destination, takes out what
 * it must not keep, and renames what is left into place. What comes out of a bottle is untrusted:
 *
 *   copyOutStep(docker, spec, { guest: '/home/node/out', parent: '/src', final: '/src/out' }, host).argv
 *   // ['/bin/sh', '-c', copyOutScript, 'sh', '/src', '/src/out', 'out',
 *   //  'docker', 'exec', '-u', 'node', …, 'demo', 'tar', '-cf', '-', '-C', '/home/node', '--', 'out']
 *
 * - nothing lands outside the destination: GNU tar drops `..` members and the leading `/` of
 *   absolute ones (and of link targets), and extracts a symlink to outside as a placeholder file,
 *   so no later member is written through it; the archive is unpacked in an empty directory of
 *   its own (mktemp -d: mode 700) and only the entry named GUEST's last component is moved out;
 * - no symlink, device, FIFO or socket is kept: each is removed before the move (counted on
 *   stderr, never named: a name is the bottle's text and could drive the terminal); hard links
 *   are made plain copies, so no file in the destination shares its data with another;
 *   set-user-ID and set-group-ID bits are cleared;
 * - the files belong to the user bottle runs as (`--no-same-owner`; under sudo that is root:
 *   bottle does not guess the user from SUDO_UID), modes as the archive says, less the umask;
 * - an archive tar cannot unpack cleanly (a `..` member, among others) copies nothing at all;
 * - the destination is never replaced: it must not exist when the move happens (rename(2) into
 *   the same directory, so the copy appears whole or not at all).
 */
import { posix } from 'node:path'
import type { Backend, HostFacts } from './backends/backend.js'
import type { BottleSpec } from './bottle-spec/spec.js'
import { homeOf } from './bottle-spec/validate.js'
import { type GuestIntent, type Step, step } from './plan/types.js'

/** Where a copy out goes: the guest path, the host directory it lands in, and the path it takes there. */
export interface CopyOut {
  readonly guest: string
  readonly parent: string
  readonly final: string
}

/**
 * `sh -c SCRIPT sh PARENT FINAL BASE CMD…`: CMD writes the archive, the rest is above. Exit codes:
 * CMD's own when it fails (the backend's, or tar's in the guest: 2 for a path that is not there);
 * 1 when the archive does not unpack cleanly or holds no BASE; 2 when FINAL exists by then.
 */
export const copyOutScript = [
  'parent=$1 final=$2 base=$3',
  'shift 3',
  'stage=$(mktemp -d "$parent/.bottle-cp.XXXXXX") || exit 1',
  'trap \'rm -rf -- "$stage"\' EXIT',
  "trap 'exit 130' INT",
  "trap 'exit 143' TERM",
  'mkdir -- "$stage/t" || exit 1',
  // POSIX sh has no pipefail: the bottle side's status goes through a file.
  // What either tar says names the bottle's files: shown only through `shown`, which keeps
  // printable characters (no escape sequence reaches the terminal), and only on failure.
  'shown() { LC_ALL=C tr -cd "[:print:]\\n" < "$1" | tail -n 5 >&2; }',
  '{ "$@" 2> "$stage/err"; echo "$?" > "$stage/rc"; } | tar -xf - -C "$stage/t" --no-same-owner --no-same-permissions 2> "$stage/tar-err"',
  'unpacked=$?',
  'rc=$(cat -- "$stage/rc" 2>/dev/null) || rc=1',
  'if [ "$rc" != 0 ]; then shown "$stage/err"; echo "bottle: cp: the bottle could not send $base (exit $rc): nothing was copied" >&2; exit "$rc"; fi',
  'if [ "$unpacked" != 0 ]; then shown "$stage/tar-err"; echo "bottle: cp: the archive from the bottle did not unpack cleanly: nothing was copied" >&2; exit 1; fi',
  // Symlinks, devices, FIFOs, sockets: removed, and counted (their names are the bottle\'s text).
  // A directory the archive made unreadable would hide what is in it from the checks below.
  'chmod -R u+rwX -- "$stage/t" || exit 1',
  'dropped=$(find "$stage/t" ! -type f ! -type d -printf x -exec rm -f -- {} + | wc -c)',
  'if [ "$dropped" != 0 ]; then echo "bottle: cp: left out $dropped entr$( [ "$dropped" = 1 ] && echo y || echo ies) that were not regular files or directories (symlinks, devices, FIFOs, sockets)" >&2; fi',
  // A hard link becomes a file of its own; no set-id bit comes out of a bottle.
  'find "$stage/t" -type f -links +1 -exec sh -c \'for f do cp -- "$f" "$f.bottle-unlink" && mv -f -- "$f.bottle-unlink" "$f" || exit 1; done\' sh {} + || exit 1',
  'find "$stage/t" -type f -perm /6000 -exec chmod ug-s {} + || exit 1',
  'if [ -L "$stage/t/$base" ] || [ ! -e "$stage/t/$base" ]; then echo "bottle: cp: the bottle sent no file or directory $base: nothing was copied" >&2; exit 1; fi',
  'if [ -e "$final" ] || [ -L "$final" ]; then echo "bottle: cp: $final exists now: nothing was copied (bottle never writes over it)" >&2; exit 2; fi',
  'mv -T -- "$stage/t/$base" "$final"',
].join('\n')

/** The bottle's side: `tar -cf - -C DIR -- BASE` as the bottle's user, no env, no TTY, no stdin. */
const archiveIntent = (spec: BottleSpec, guest: string): GuestIntent => ({
  user: spec.user,
  home: homeOf(spec.user),
  env: [],
  secrets: [],
  cwd: '/',
  argv: ['tar', '-cf', '-', '-C', posix.dirname(guest), '--', posix.basename(guest)],
  tty: false,
  stdin: false,
})

/** The one host step of a copy out: the backend's exec of tar in the bottle, unpacked as above. */
export const copyOutStep = (backend: Backend, spec: BottleSpec, copy: CopyOut, host: HostFacts): Step => {
  const intent = archiveIntent(spec, copy.guest)
  const { framing, env } = backend.exec(spec, intent, host)
  return step(`copy ${copy.guest} out of ${spec.name} to ${copy.final} (a tar archive from the bottle, unpacked beside it and checked first)`, [
    '/bin/sh', '-c', copyOutScript, 'sh', copy.parent, copy.final, posix.basename(copy.guest), ...framing, ...intent.argv,
  ], { env, stdio: 'passthrough' })
}
