/**
 * `bottle run fetch NAME`: the bottle's commits back into the host repository as the branch
 * `bottle/NAME`. Never a push from the bottle (it needs no host credentials and reaches no host
 * repository): the bottle writes a git bundle of its workdir's HEAD to stdout, as the bottle's
 * user; one host step keeps it in a scratch directory of its own and, treating it as hostile,
 *
 *   fetchStep(docker, spec, { repo: '/src/app', branch: 'bottle/demo', scratch: '/tmp' }, host).argv
 *   // ['/bin/sh', '-c', fetchScript, 'sh', '/src/app', 'bottle/demo', 'refs/bottle-fetch/demo', '/tmp',
 *   //  'docker', 'exec', '-u', 'node', '-w', '/src/app', 'demo', 'git', 'bundle', 'create', '-', 'HEAD']
 *
 * - verifies it (`git bundle verify`) in the host repository before anything is fetched;
 * - fetches it with hooks off (`core.hooksPath=/dev/null`: no reference-transaction hook of the
 *   repository runs) and every object checked (`transfer.fsckObjects`), into a ref of its own
 *   under refs/bottle-fetch/, so the branch is not touched until the commit is known;
 * - moves `bottle/NAME` there only as a fast-forward (or makes it), and never while it is checked
 *   out; a branch with commits the bundle does not contain is refused, with one line, exit 1,
 *   and nothing changes (git's own `fetch` without `+` refuses the same, in more words);
 * - a bundle carries refs and objects only: no config, no hooks, so nothing of the bottle's can
 *   run on the host; what the bottle wrote on stderr is shown only on failure, printable
 *   characters only, as `cp` out does.
 * Exit codes: the bottle side's own when it fails (git's 128 for a workdir that is no repository
 * or an unborn HEAD; the backend's 125-127), 1 for a bundle that does not verify or fetch, or a
 * branch that would lose commits, 0 when the branch is at the bottle's HEAD.
 */
import type { Backend, HostFacts } from './backends/backend.js'
import type { BottleSpec } from './bottle-spec/spec.js'
import { homeOf } from './bottle-spec/validate.js'
import { compileError, show } from './plan/errors.js'
import { type GuestIntent, type Step, step } from './plan/types.js'
import * as E from 'fp-ts/lib/Either.js'
import type { Checked } from './bottle-spec/validate.js'
import { memoryLimit } from './bottle-spec/limits.js'

/** A size as --memory takes it (512m, 2g: powers of 1024), for a flag of its own. */
const sizeInBytes = (flag: string, text: string): Checked<number> =>
  E.mapLeft(() => compileError(`${flag} ${show(text)} must be a positive whole number of bytes or of a unit b, k, m, g or t (powers of 1024), such as 512m or 2g`))(memoryLimit(text))

/** Where the bundle goes on the host. */
export interface FetchInto {
  /** The host repository: the one the current directory is in. */
  readonly repo: string
  /** `bottle/NAME`. */
  readonly branch: string
  /** The directory the scratch directory is made in (TMPDIR). */
  readonly scratch: string
  /** The most bytes the bundle may have: the bottle could otherwise fill the host's disk. */
  readonly maxBytes: number
}

/** The default cap on a bundle: 2 GiB, far above a repository's history, far below a full disk. */
export const defaultMaxBundle = 2 * 1024 ** 3

/** The branch a bottle's commits come back as. */
export const fetchBranch = (name: string): string => `bottle/${name}`

/**
 * Null when `bottle/NAME` is a name git takes for a branch (git check-ref-format's rules that a
 * bottle name can break: no `..`, no component starting with `.` or ending in `.lock`, no `@{`);
 * else why not.
 */
export const branchProblem = (name: string): string | null => {
  const branch = fetchBranch(name)
  if (name.includes('..') || name.startsWith('.') || name.endsWith('.lock') || name.endsWith('.') || name.includes('@{'))
    return `bottle name ${show(name)} does not make a git branch name (${show(branch)}): fetch needs a name without "..", a leading ".", or a trailing "." or ".lock"`
  return null
}

/**
 * `sh -c SCRIPT sh REPO BRANCH TMPREF SCRATCH MAX CMD…`: CMD writes the bundle to stdout; at
 * most MAX bytes of it are kept. See the module comment for what each part is for.
 */
export const fetchScript = [
  'repo=$1 branch=$2 tmpref=$3 max=$5',
  'stage=$(mktemp -d "$4/bottle-fetch.XXXXXX") || exit 1',
  'shift 5',
  'g() { git -C "$repo" -c core.hooksPath=/dev/null -c transfer.fsckObjects=true "$@"; }',
  // The scratch ref goes with the scratch directory, whatever happens.
  'trap \'rm -rf -- "$stage"; g update-ref -d "$tmpref" 2>/dev/null\' EXIT',
  "trap 'exit 130' INT",
  "trap 'exit 143' TERM",
  // What the bottle or git says about the bundle is the bottle's text: printable characters only.
  'shown() { LC_ALL=C tr -cd "[:print:]\\n" < "$1" | tail -n 5 >&2; }',
  // One byte past the cap is all that is written: more means too large, and the bottle's side
  // is cut off (a write to the closed pipe). Its exit code goes round the pipe in a file.
  '{ "$@" 2> "$stage/err"; echo "$?" > "$stage/rc"; } | head -c "$((max + 1))" > "$stage/b.bundle"',
  'if [ "$(($(wc -c < "$stage/b.bundle")))" -gt "$max" ]; then echo "bottle: fetch: the bundle from the bottle is larger than $max bytes (--max-bundle): nothing was fetched" >&2; exit 1; fi',
  'rc=$(cat "$stage/rc" 2>/dev/null) || rc=1',
  'if [ "$rc" != 0 ]; then shown "$stage/err"; echo "bottle: fetch: the bottle could not make a bundle of its HEAD (exit $rc): nothing was fetched" >&2; exit "$rc"; fi',
  'if ! g bundle verify -q "$stage/b.bundle" > "$stage/err" 2>&1; then shown "$stage/err"; echo "bottle: fetch: the bundle from the bottle does not verify (git bundle verify): nothing was fetched" >&2; exit 1; fi',
  'if ! g fetch -q --no-tags --no-write-fetch-head --no-recurse-submodules "$stage/b.bundle" "+HEAD:$tmpref" > "$stage/err" 2>&1; then shown "$stage/err"; echo "bottle: fetch: the bundle from the bottle could not be fetched: nothing was changed" >&2; exit 1; fi',
  'new=$(g rev-parse --verify -q "$tmpref^{commit}") || { echo "bottle: fetch: the bottle\'s HEAD is not a commit: nothing was changed" >&2; exit 1; }',
  'ref=refs/heads/$branch',
  'if old=$(g rev-parse --verify -q "$ref^{commit}"); then',
  '  if [ "$old" = "$new" ]; then echo "bottle: fetch: $branch is already at the bottle\'s HEAD ($new)" >&2; exit 0; fi',
  '  g merge-base --is-ancestor "$old" "$new" || { echo "bottle: fetch: $branch has commits the bottle\'s HEAD does not contain: refused, nothing was changed (rename or delete the branch, then fetch again)" >&2; exit 1; }',
  '  [ "$(g symbolic-ref -q HEAD)" != "$ref" ] || { echo "bottle: fetch: $branch is checked out here: switch to another branch first, nothing was changed" >&2; exit 1; }',
  'else',
  // Empty: the branch must not exist (if it appeared meanwhile, update-ref fails).
  '  old=',
  'fi',
  'g update-ref -m "bottle fetch" "$ref" "$new" "$old" || exit 1',
  'echo "bottle: fetch: $branch is at $new" >&2',
].join('\n')

/** The bottle's side: a bundle of the workdir repository's HEAD to stdout, as the bottle's user. */
const bundleIntent = (spec: BottleSpec): GuestIntent => ({
  user: spec.user,
  home: homeOf(spec.user),
  env: [],
  secrets: [],
  cwd: spec.workdir,
  argv: ['git', 'bundle', 'create', '-', 'HEAD'],
  tty: false,
  stdin: false,
})

/** The one host step of a fetch: the backend's exec of `git bundle create` in the bottle, taken in as above. */
export const fetchStep = (backend: Backend, spec: BottleSpec, into: FetchInto, host: HostFacts): Step => {
  const intent = bundleIntent(spec)
  const { framing, env } = backend.exec(spec, intent, host)
  return step(`fetch the HEAD of ${spec.name}'s ${spec.workdir} into ${into.repo} as ${into.branch} (a git bundle from the bottle, verified first; hooks off)`, [
    '/bin/sh', '-c', fetchScript, 'sh', into.repo, into.branch, `refs/bottle-fetch/${spec.name}`, into.scratch, String(into.maxBytes), ...framing, ...intent.argv,
  ], { env, stdio: 'passthrough' })
}

/**
 * What the host must be for a fetch, read at the edge (src/host.ts): the repository the current
 * directory is in (null: none), and, for a backend that binds the workdir, whether the workdir
 * has a `.git` (null: not asked: kubernetes, whose workdir is in the Pod).
 */
export interface FetchFacts {
  readonly hostRepo: string | null
  readonly workdirIsRepo: boolean | null
}

/** The fetch's step, or the one line that refuses it (exit 2, nothing run). */
export const compileFetch = (backend: Backend, spec: BottleSpec, host: HostFacts, facts: FetchFacts, maxBundle: string | null = null): Checked<Step> => {
  const badName = branchProblem(spec.name)
  if (badName !== null) return E.left(compileError(badName))
  const max = maxBundle === null ? E.right(defaultMaxBundle) : sizeInBytes('--max-bundle', maxBundle)
  if (E.isLeft(max)) return max
  if (facts.hostRepo === null)
    return E.left(compileError(`fetch brings the bottle's commits into the git repository you are in, and ${show(host.cwd)} is in none: cd into the repository first`))
  if (facts.workdirIsRepo === false)
    return E.left(compileError(`the workdir ${show(spec.workdir)} of ${spec.name} is not a git repository: there are no commits to fetch`))
  return E.right(fetchStep(backend, spec, { repo: facts.hostRepo, branch: fetchBranch(spec.name), scratch: host.tmpdir, maxBytes: max.right }, host))
}
