/**
 * rootOnlyUnder, the scan that finds what only root may read under /etc and /opt (bottle masks
 * it in the sandbox when it runs as root), over generated trees in a temp dir: files, directories
 * and symlinks with any permission bits for group and others. What it finds must be exactly what
 * the tree's own description says, so a faster scan is never a weaker one; and with the memo of
 * an earlier scan (directories it need not list again), exactly what the tree says after any
 * changes made since: chmods, new files, removals, a file made a directory and back.
 */
import { fc, test } from '@fast-check/vitest'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { type Listed, type ScanMemo, rootOnlyUnder } from '../src/backends/bwrap-host.js'

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

// -------------------------------------------------------------------------------------------------
// with a memo: the tree changed between two scans
// -------------------------------------------------------------------------------------------------

/** The tree as a mutable model, which the changes below edit alongside the files. */
type Node =
  | { kind: 'file'; mode: number }
  | { kind: 'dir'; mode: number; children: Map<string, Node> }
  | { kind: 'symlink' }

const toNodes = (es: readonly Entry[]): Map<string, Node> =>
  new Map(es.map((e): [string, Node] => [e.name, e.kind === 'dir' ? { kind: 'dir', mode: e.mode, children: toNodes(e.entries) } : e.kind === 'file' ? { kind: 'file', mode: e.mode } : { kind: 'symlink' }]))

/** Every entry under `children` (host path, its node, the map it is in, its name), depth first. */
const flatten = (host: string, children: Map<string, Node>): { host: string; node: Node; parent: Map<string, Node>; name: string }[] =>
  [...children].flatMap(([name, node]) => [
    { host: join(host, name), node, parent: children, name },
    ...(node.kind === 'dir' ? flatten(join(host, name), node.children) : []),
  ])

const expectedOf = (guest: string, children: Map<string, Node>, out: { files: string[]; dirs: string[] }): { files: string[]; dirs: string[] } => {
  for (const [name, node] of children) {
    const path = `${guest}/${name}`
    if (node.kind === 'file' && (node.mode & 0o004) === 0) out.files.push(path)
    if (node.kind === 'dir') {
      if ((node.mode & 0o005) !== 0o005) out.dirs.push(path)
      else expectedOf(path, node.children, out)
    }
  }
  return out
}

type Change =
  | { readonly kind: 'chmod'; readonly at: number; readonly mode: number }
  | { readonly kind: 'add'; readonly at: number; readonly name: string; readonly mode: number }
  | { readonly kind: 'remove'; readonly at: number }
  | { readonly kind: 'swap'; readonly at: number; readonly mode: number }

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('chmod' as const), at: fc.nat(), mode: fc.integer({ min: 0, max: 0o777 }) }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), name: fc.constantFrom('new', 'key', 'a', 'b'), mode: fc.integer({ min: 0, max: 0o777 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), mode: fc.integer({ min: 0, max: 0o777 }) }),
)

/** Makes one change on disk and in the model: an owner keeps rwx on directories, as in make. */
const apply = (etc: string, root: Map<string, Node>, c: Change): void => {
  const entries = flatten(etc, root)
  if (c.kind === 'add') {
    const dirs = [{ host: etc, children: root }, ...entries.flatMap((e) => (e.node.kind === 'dir' ? [{ host: e.host, children: e.node.children }] : []))]
    const dir = dirs[c.at % dirs.length] as (typeof dirs)[number]
    if (dir.children.has(c.name)) return
    writeFileSync(join(dir.host, c.name), 'secret')
    chmodSync(join(dir.host, c.name), c.mode)
    dir.children.set(c.name, { kind: 'file', mode: c.mode })
    return
  }
  const target = entries[c.at % Math.max(1, entries.length)]
  if (target === undefined) return
  if (c.kind === 'chmod') {
    if (target.node.kind === 'symlink') return
    target.node.mode = target.node.kind === 'dir' ? 0o700 | (c.mode & 0o077) : c.mode
    chmodSync(target.host, target.node.mode)
  } else if (c.kind === 'remove') {
    rmSync(target.host, { recursive: true, force: true })
    target.parent.delete(target.name)
  } else {
    // A file becomes a directory holding a root-only file, anything else a file.
    rmSync(target.host, { recursive: true, force: true })
    if (target.node.kind === 'file') {
      mkdirSync(target.host)
      writeFileSync(join(target.host, 'inner'), 'secret', { mode: 0o600 })
      chmodSync(target.host, 0o700 | (c.mode & 0o077))
      target.parent.set(target.name, { kind: 'dir', mode: 0o700 | (c.mode & 0o077), children: new Map([['inner', { kind: 'file', mode: 0o600 }]]) })
    } else {
      writeFileSync(target.host, 'secret')
      chmodSync(target.host, c.mode)
      target.parent.set(target.name, { kind: 'file', mode: c.mode })
    }
  }
}

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const memoFrom = (known: ReadonlyMap<string, Listed>, settledBefore: number): ScanMemo => ({ known, found: new Map(), settledBefore, listed: 0 })

test.prop([entries, fc.array(change, { minLength: 1, maxLength: 4 })], { numRuns: 100 })(
  'with the memo of an earlier scan, finds exactly what is root-only after the tree changed (chmod, new, removed, made a directory or a file)',
  (es, changes) => {
    const rootfs = join(scratch, String(tree++))
    const etc = join(rootfs, 'etc')
    mkdirSync(etc, { recursive: true })
    make(etc, es)
    const root = toNodes(es)
    // Filesystem timestamps come from a coarse clock (a few ms a tick): the changes below must
    // land in a later tick than the tree's making, which the first scan memoizes as settled.
    sleep(25)
    const first = memoFrom(new Map(), Date.now())
    rootOnlyUnder(rootfs, '/etc', first)
    for (const c of changes) apply(etc, root, c)
    const want = expectedOf('/etc', root, { files: [], dirs: [] })
    expect(rootOnlyUnder(rootfs, '/etc', memoFrom(first.found, Date.now()))).toStrictEqual({ files: want.files.sort(), dirs: want.dirs.sort() })
  },
)

it('a second scan of an unchanged tree lists no directory again, and finds the same', () => {
  const rootfs = join(scratch, 'unchanged')
  mkdirSync(join(rootfs, 'etc', 'a', 'b'), { recursive: true })
  mkdirSync(join(rootfs, 'etc', 'ssl', 'private'), { recursive: true })
  chmodSync(join(rootfs, 'etc', 'ssl', 'private'), 0o700)
  writeFileSync(join(rootfs, 'etc', 'a', 'b', 'key'), 'k', { mode: 0o600 })
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'box', { mode: 0o644 })
  sleep(25)
  const first = memoFrom(new Map(), Date.now())
  const before = rootOnlyUnder(rootfs, '/etc', first)
  // /etc, a, a/b and ssl; not ssl/private, which others cannot enter.
  expect(first.listed).toBe(4)
  const second = memoFrom(first.found, Date.now())
  expect(rootOnlyUnder(rootfs, '/etc', second)).toStrictEqual(before)
  expect(second.listed).toBe(0)
  expect(before).toStrictEqual({ files: ['/etc/a/b/key'], dirs: ['/etc/ssl/private'] })
})

it('a directory changed too recently to be told apart from a change in the same clock tick is not memoized', () => {
  const rootfs = join(scratch, 'recent')
  mkdirSync(join(rootfs, 'etc', 'a'), { recursive: true })
  sleep(25)
  // Settled before a moment older than the tree: nothing may be memoized.
  const first = memoFrom(new Map(), Date.now() - 2000)
  rootOnlyUnder(rootfs, '/etc', first)
  expect(first.found.size).toBe(0)
  // In the same tick as the directory's last change (no sleep): still found.
  writeFileSync(join(rootfs, 'etc', 'a', 'key'), 'k', { mode: 0o600 })
  expect(rootOnlyUnder(rootfs, '/etc', memoFrom(first.found, Date.now() - 2000))).toStrictEqual({ files: ['/etc/a/key'], dirs: [] })
})
