/**
 * The workspace: how a bottle's workdir is filled at launch. `bind`: the host directory is bound
 * in (its `.git` read-only, src/workspace-guard.ts). `copy`: the git repository the workdir is in
 * is copied into the bottle's workdir as a repository of the bottle's own, and nothing of the
 * host is bound: the agent starts where the user is, and its work comes back only through
 * `bottle run fetch` (src/fetch.ts). Pure: the edge reads where the repository is
 * (src/host.ts, readWorkspaceFacts); this decides and builds the steps.
 *
 *   workspaceOf(kubernetes, { ...spec, workspace: null })   // 'copy' (the backend's default)
 *   workspaceSteps(docker, spec, host, copyIn)
 *   // right({ steps: [build the copy in STATE/workspace-copy, docker cp …, chown …, remove it], notes })
 *
 * What goes in (docs/workspace.md): HEAD's commit, on the same branch name (detached when the
 * user's HEAD is); the working files as they are on disk, `git ls-files --cached --others
 * --exclude-standard` (tracked, modified, untracked not ignored; deleted ones are missing);
 * the index reset to HEAD, so `git status` in the bottle shows the user's uncommitted work. What
 * does not: the host repository's config (remotes, credential helpers, includes), its hooks, its
 * other branches, stashes and reflogs, ignored files. The new repository is made with no template
 * (`--template=`), so not even the user's `init.templateDir` hooks go in.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, CopyIn, HostFacts } from './backends/backend.js'
import type { BottleSpec } from './bottle-spec/spec.js'
import { bottleStateDir } from './bottle-spec/record.js'
import type { Checked } from './bottle-spec/validate.js'
import { compileError, show } from './plan/errors.js'
import { type Note, type Step, info, step } from './plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export const workspaceModes = ['bind', 'copy'] as const
export type WorkspaceMode = (typeof workspaceModes)[number]

/** What launch needs of the host for a copy, read at the edge: the top of the workdir's git repository, or null when it is in none. */
export interface WorkspaceFacts {
  readonly repo: string | null
}

/** The scratch directory a copy is built in, in the bottle's own state directory on the host (mode 700, outside every bind). */
export const workspaceScratch = (host: Pick<HostFacts, 'stateRoot'>, backend: Pick<Backend, 'name'>, spec: Pick<BottleSpec, 'name'>): string =>
  `${bottleStateDir(host.stateRoot, backend.name, spec.name)}/workspace-copy`

// -------------------------------------------------------------------------------------------------
// deciding
// -------------------------------------------------------------------------------------------------

/**
 * The workspace a bottle has: the spec's, else the backend's default: `copy` where no host
 * directory can be bound (kubernetes), `bind` elsewhere. A launch record written before the key
 * existed has none, and reads as what it meant then (bind; on kubernetes the workdir made in the
 * Pod, which later ops treat alike: nothing is bound).
 */
export const workspaceOf = (backend: Pick<Backend, 'bindsWorkdir'>, spec: Pick<BottleSpec, 'workspace'>): WorkspaceMode =>
  spec.workspace ?? (backend.bindsWorkdir ? 'bind' : 'copy')

/** The host workdir is bound into the bottle: a backend that binds, and a bottle that does not copy. */
export const bindsHostWorkdir = (backend: Pick<Backend, 'bindsWorkdir'>, spec: Pick<BottleSpec, 'workspace'>): boolean =>
  backend.bindsWorkdir && workspaceOf(backend, spec) === 'bind'

// -------------------------------------------------------------------------------------------------
// the copy
// -------------------------------------------------------------------------------------------------

/**
 * `sh -c SCRIPT sh REPO SCRATCH`, on the host, as the user: builds SCRATCH/tree, the repository
 * the bottle gets. SCRATCH is made with a plain mkdir (mode 700): never into something already
 * there. Git runs with hooks and fsmonitor off, no reflog; only the user's own repository is
 * read. A HEAD with no commit yet: the files only, on the same unborn branch.
 */
export const copyScript = [
  'top=$1 s=$2 t=$2/tree',
  'fail() { echo "bottle: workspace: $1: nothing is copied" >&2; exit 1; }',
  'g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.logAllRefUpdates=false "$@"; }',
  'umask 077',
  'mkdir -- "$s" || fail "cannot make the scratch directory $s"',
  'umask 022',
  'fmt=$(g -C "$top" rev-parse --show-object-format) || fail "$top is not a git repository git can read"',
  // No template: no hooks, not even the ones the user's init.templateDir would put there.
  'g init -q --template= --object-format="$fmt" "$t" > /dev/null || fail "git init failed"',
  'ref=$(g -C "$top" symbolic-ref -q HEAD) || ref=',
  'if g -C "$top" rev-parse -q --verify "HEAD^{commit}" > /dev/null; then',
  '  g -C "$t" fetch -q --no-tags --no-write-fetch-head --no-recurse-submodules "$top" "+HEAD:refs/bottle-copy/head" || fail "cannot fetch HEAD from $top"',
  '  head=$(g -C "$t" rev-parse -q --verify "refs/bottle-copy/head^{commit}") || fail "HEAD of $top is not a commit"',
  '  g -C "$t" update-ref -d refs/bottle-copy/head',
  '  if [ -n "$ref" ]; then g -C "$t" update-ref "$ref" "$head" && g -C "$t" symbolic-ref HEAD "$ref"; else g -C "$t" update-ref --no-deref HEAD "$head"; fi || fail "cannot set HEAD"',
  '  born=1',
  'else',
  '  if [ -n "$ref" ]; then g -C "$t" symbolic-ref HEAD "$ref" || fail "cannot set HEAD"; fi',
  '  born=',
  'fi',
  'cd -- "$top" || fail "cannot enter $top"',
  'g ls-files -z --cached --others --exclude-standard > "$s/listed" || fail "git ls-files failed"',
  // Tracked files deleted from the disk are listed too: they stay out, and show as deleted.
  `xargs -0 sh -c 'for f do if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\\000" "$f"; fi; done' sh < "$s/listed" > "$s/present" || fail "cannot list the working files"`,
  // One entry each, no recursion: a submodule or a nested repository comes in as its empty directory.
  '{ tar -cf - --null --no-recursion -T "$s/present" || echo > "$s/failed"; } | tar -C "$t" -xf - --no-same-owner || fail "cannot copy the working files"',
  '[ ! -e "$s/failed" ] || fail "cannot read the working files"',
  // Index = HEAD: `git status` in the bottle shows the user's changes.
  'if [ -n "$born" ]; then g -C "$t" reset -q || fail "git reset failed"; fi',
].join('\n')

/**
 * The steps that fill the workdir at launch, after provision and before the prompt copy, and the
 * notes that say what it holds. `copyIn` is the backend's copy-in (compile.ts), given the built
 * tree. Refused, exit 2: an explicit copy where the workdir is in no git repository, and `bind`
 * on a backend that binds nothing. A backend whose default is copy (kubernetes) with no
 * repository keeps the empty workdir it makes, and says so.
 */
export const workspaceSteps = (
  backend: Backend,
  spec: BottleSpec,
  host: HostFacts,
  copyIn: (copy: CopyIn) => Checked<readonly Step[]>,
): Checked<{ readonly steps: readonly Step[]; readonly notes: readonly Note[] }> => {
  const mode = workspaceOf(backend, spec)
  if (mode === 'bind') {
    if (!backend.bindsWorkdir)
      return E.left(compileError(`workspace: bind: ${backend.name} cannot bind a host directory; leave workspace out (copy, its default) or set workspace: copy`))
    return E.right({ steps: [], notes: [] })
  }
  const repo = host.workspace?.repo ?? null
  if (repo === null) {
    if (spec.workspace === 'copy')
      return E.left(compileError(`workspace: copy copies the git repository the workdir is in, and ${show(spec.workdir)} is in none: run git init there, or leave workspace out`))
    return E.right({ steps: [], notes: [info(`the workdir ${spec.workdir} is in no git repository on the host, so nothing is copied: launch makes it, empty, in the bottle; copy files in with bottle run cp`)] })
  }
  const scratch = workspaceScratch(host, backend, spec)
  const remove = step(`remove the scratch copy ${scratch}`, ['rm', '-rf', '--', scratch])
  const copied = copyIn({ source: `${scratch}/tree`, kind: 'dir', dest: spec.workdir })
  if (E.isLeft(copied)) return copied
  return E.right({
    steps: [
      step(`build a copy of the repository ${repo} in ${scratch}/tree: its HEAD, and the working files git lists (tracked, and untracked not ignored); no config, hooks or other refs`, [
        '/bin/sh', '-c', copyScript, 'sh', repo, scratch,
      ], { undo: [remove] }),
      ...copied.right,
      remove,
    ],
    notes: [info(`workspace: copy: the workdir ${spec.workdir} is a copy of ${repo} (HEAD and uncommitted work), a repository of the bottle's own; nothing of the host is bound; the agent's commits come back with bottle run fetch ${spec.name}`)],
  })
}
