/**
 * The workdir's git directory, kept out of the agent's hands. A bound workdir is the agent's to
 * write, and a repository's `.git` holds what the user's own `git` runs: hooks, `core.fsmonitor`,
 * `core.pager`, filter and diff drivers in its config. So whatever `.git` the workdir has at
 * launch is bound read-only over itself in the bottle: the agent reads history (log, diff, blame)
 * and can commit nothing there. Its work comes back through `bottle run fetch` (docs/workspace.md).
 * Pure: the edge (src/host.ts, readGitDirFacts) reads what is there; this decides.
 *
 *   gitGuard({ workdir: '/src/app', dotGit: { kind: 'dir' } })
 *   // right(['/src/app/.git'])
 *   gitGuard({ workdir: '/src/app', dotGit: { kind: 'symlink' } })
 *   // left('the workdir\'s .git "/src/app/.git" is a symbolic link: …')
 *
 * What it does not cover, and why: a `.git` the agent makes where there was none (at the top of
 * the workdir, or in any subdirectory) is a repository of its own, whose config runs when the user
 * runs `git` in that directory. Masking one path would need a mount point made in the user's
 * directory and would leave every other path open; `workspace: copy` binds no host directory at all.
 */
import { posix } from 'node:path'
import { show } from './plan/errors.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** What the edge found at `WORKDIR/.git`, symlinks not followed. */
export type DotGit =
  | { readonly kind: 'missing' }
  | { readonly kind: 'dir' }
  | { readonly kind: 'symlink' }
  | { readonly kind: 'other' }
  /**
   * A gitfile (a linked worktree, a submodule): `gitdir` is the directory its `gitdir:` line names,
   * resolved against the workdir, or null when the file names none; `gitdirKind` what is there.
   */
  | { readonly kind: 'file'; readonly gitdir: string | null; readonly gitdirKind: 'dir' | 'symlink' | 'other' | 'missing' }

export interface GitDirFacts {
  /** The workdir, absolute and clean. */
  readonly workdir: string
  readonly dotGit: DotGit
}

/** The host paths to bind read-only over themselves, in order; or why launch is refused. */
export type GitGuard = { readonly _tag: 'guard'; readonly paths: readonly string[] } | { readonly _tag: 'refused'; readonly reason: string }

/** bwrap: the file in a bottle's state directory that keeps its launch's paths (a JSON array). */
export const gitGuardFile = 'git-guard.json'

// -------------------------------------------------------------------------------------------------
// deciding
// -------------------------------------------------------------------------------------------------

const clean = (p: string): string => posix.resolve('/', p)
const within = (path: string, ancestor: string): boolean => path === ancestor || path.startsWith(`${ancestor}/`)

const useCopy = 'set workspace: copy, or choose a workdir whose .git is a plain directory'

/**
 * The paths to bind read-only, or a refusal. Refused: a `.git` that is a symlink (a bind follows
 * it, and bottle will not bind a path it has not looked at) or neither a file nor a directory, and
 * a gitfile whose git directory is in the workdir but is not a plain directory, and any gitfile on a
 * backend that binds directories only (`dirsOnly`: its name). A gitfile's own git
 * directory outside the workdir is not in the bottle at all, so only the gitfile is bound.
 */
export const gitGuard = (f: GitDirFacts, dirsOnly: string | null = null): GitGuard => {
  const workdir = clean(f.workdir)
  const dotGit = posix.join(workdir, '.git')
  const refused = (reason: string): GitGuard => ({ _tag: 'refused', reason })
  const d = f.dotGit
  switch (d.kind) {
    case 'missing':
      return { _tag: 'guard', paths: [] }
    case 'dir':
      return { _tag: 'guard', paths: [dotGit] }
    case 'symlink':
      return refused(`the workdir's .git ${show(dotGit)} is a symbolic link, which bottle will not bind read-only: ${useCopy}`)
    case 'other':
      return refused(`the workdir's .git ${show(dotGit)} is neither a file nor a directory: ${useCopy}`)
    case 'file': {
      if (dirsOnly !== null)
        return refused(`the workdir's .git ${show(dotGit)} is a file (a linked worktree or a submodule), and ${dirsOnly} can bind only directories read-only: ${useCopy}`)
      if (d.gitdir === null) return { _tag: 'guard', paths: [dotGit] }
      const gitdir = clean(d.gitdir)
      // Elsewhere on the host: not in the bottle, nothing more to bind.
      if (!within(gitdir, workdir) || within(gitdir, dotGit)) return { _tag: 'guard', paths: [dotGit] }
      if (d.gitdirKind !== 'dir')
        return refused(`the workdir's .git ${show(dotGit)} names the git directory ${show(gitdir)}, which is not a plain directory: ${useCopy}`)
      return { _tag: 'guard', paths: [dotGit, gitdir] }
    }
  }
}

/**
 * The directory a gitfile's text names (`gitdir: PATH`, relative to the directory holding the
 * file), or null when the text is not a gitfile. Git reads the first line only.
 */
export const gitdirOf = (text: string, workdir: string): string | null => {
  const first = text.split('\n', 1)[0] ?? ''
  const m = /^gitdir: (.+?)\r?$/.exec(first)
  if (m === null || m[1] === undefined || m[1].includes('\0')) return null
  return posix.resolve(clean(workdir), m[1])
}
