/**
 * The edge: everything bottle reads about the host, read once per invocation. Nothing to the
 * right of the CLI reads process.env, the filesystem, the clock or isTTY.
 *
 *   readHostFacts(['/src/app/notes.md'])   // { cwd, stdinIsTTY, pathKinds: { '/src/app/notes.md': 'file' }, tmpdir, uid }
 */
import { accessSync, constants, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { HostFacts } from './backends/backend.js'

const kindOf = (path: string): 'file' | 'dir' | 'missing' => {
  try {
    const st = statSync(path)
    return st.isDirectory() ? 'dir' : 'file'
  } catch {
    return 'missing'
  }
}

export const readHostFacts = (paths: readonly string[]): HostFacts => ({
  cwd: process.cwd(),
  stdinIsTTY: process.stdin.isTTY === true,
  pathKinds: Object.fromEntries(paths.map((p) => [p, kindOf(p)])),
  tmpdir: tmpdir(),
  // Windows has no uids; podman there runs in a VM as a rootless user.
  uid: process.geteuid?.() ?? 1000,
})

/** Whether an executable of this name is on PATH: how auto-detection picks a backend. */
export const onPath = (binary: string, pathVar: string | undefined = process.env.PATH): boolean =>
  (pathVar ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false
    try {
      accessSync(join(dir, binary), constants.X_OK)
      return statSync(join(dir, binary)).isFile()
    } catch {
      return false
    }
  })
