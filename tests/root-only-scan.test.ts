/**
 * rootOnlyUnder, the scan that finds what only root may read under /etc and /opt (bottle masks
 * it in the sandbox when it runs as root), over generated trees in a temp dir: files, directories
 * and symlinks with any permission bits for group and others. What it finds must be exactly what
 * the tree's own description says, so a faster scan is never a weaker one.
 */
import { fc, test } from '@fast-check/vitest'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import { rootOnlyUnder } from '../src/backends/bwrap-host.js'

type Entry =
  | { readonly kind: 'file'; readonly name: string; readonly mode: number }
  | { readonly kind: 'dir'; readonly name: string; readonly mode: number; readonly entries: readonly Entry[] }
  | { readonly kind: 'symlink'; readonly name: string; readonly target: string }

const name = fc.constantFrom('a', 'b', 'shadow', 'ssl', 'private', 'k.pem', '.hidden', 'x y')
// Group and others' bits are what the scan reads; the owner keeps rwx on directories so that the
// tree can be built (and the scan read it) whoever runs the test.
const bits = fc.integer({ min: 0, max: 0o077 })

const { entries } = fc.letrec<{ entries: readonly Entry[]; entry: Entry }>((tie) => ({
  entries: fc.uniqueArray(tie('entry'), { selector: (e) => e.name, maxLength: 4 }),
  entry: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('file' as const), name, mode: fc.oneof(bits, fc.integer({ min: 0, max: 0o777 })) }),
    // A symlink to a root-only file, to a directory, to nothing: never followed.
    fc.record({ kind: fc.constant('symlink' as const), name, target: fc.constantFrom('/etc/shadow', '/etc', '..', 'missing', 'a') }),
    fc.record({ kind: fc.constant('dir' as const), name, mode: bits.map((m) => 0o700 | m), entries: tie('entries') }),
  ),
}))

const scratch = mkdtempSync(join(tmpdir(), 'bottle-root-only-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
let tree = 0

/** Makes the entries under `dir` (a host path); chmod last, so a directory is filled first. */
const make = (dir: string, es: readonly Entry[]): void => {
  for (const e of es) {
    const path = join(dir, e.name)
    if (e.kind === 'symlink') symlinkSync(e.target, path)
    else if (e.kind === 'file') {
      writeFileSync(path, 'x')
      chmodSync(path, e.mode)
    } else {
      mkdirSync(path)
      make(path, e.entries)
      chmodSync(path, e.mode)
    }
  }
}

/** What the description says is root-only: the model the scan is held to. */
const expected = (guest: string, es: readonly Entry[], out: { files: string[]; dirs: string[] }): { files: string[]; dirs: string[] } => {
  for (const e of es) {
    const path = `${guest}/${e.name}`
    if (e.kind === 'file' && (e.mode & 0o004) === 0) out.files.push(path)
    if (e.kind === 'dir') {
      if ((e.mode & 0o005) !== 0o005) out.dirs.push(path)
      else expected(path, e.entries, out)
    }
  }
  return out
}

test.prop([entries], { numRuns: 150 })('finds exactly the root-only files and directories of a generated tree, and follows no symlink', (es) => {
  // The tree is a rootfs of its own with the scanned directory at /etc, as under an image.
  const rootfs = join(scratch, String(tree++))
  mkdirSync(join(rootfs, 'etc'), { recursive: true })
  make(join(rootfs, 'etc'), es)
  const want = expected('/etc', es, { files: [], dirs: [] })
  expect(rootOnlyUnder(rootfs, '/etc')).toStrictEqual({ files: want.files.sort(), dirs: want.dirs.sort() })
})
