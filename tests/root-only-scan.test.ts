/**
 * The root-only scan that each bwrap sandbox's step runs when bottle is root
 * (src/backends/bwrap-scan.ts): the step's real script, with dash and GNU find, over generated
 * trees in a temp dir (files, directories and symlinks with any permission bits for group and
 * others), and a stand-in for bwrap that prints what it reads on fd 3. What it masks must be
 * exactly what the tree's own description says, so a faster scan is never a weaker one; and
 * whatever goes wrong, the command after it never runs with a partial list.
 */
import { fc, test } from '@fast-check/vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { scanThenRun } from '../src/backends/bwrap-scan.js'

type Entry =
  | { readonly kind: 'file'; readonly name: string; readonly mode: number }
  | { readonly kind: 'dir'; readonly name: string; readonly mode: number; readonly entries: readonly Entry[] }
  | { readonly kind: 'symlink'; readonly name: string; readonly target: string }

const name = fc.constantFrom('a', 'b', 'shadow', 'ssl', 'private', 'k.pem', '.hidden', 'x y', 'new\nline', '%P\\0', '-o')
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

/** What bwrap would read on fd 3: the masked files and the masked directories. */
interface Masks {
  readonly files: string[]
  readonly dirs: string[]
}

/** Reads the NUL-separated options; anything but the two shapes the scan writes fails the test. */
const parseArgs = (text: string): Masks => {
  const words = text.split('\0')
  expect(words.pop()).toBe('')
  const out: Masks = { files: [], dirs: [] }
  for (let i = 0; i < words.length;) {
    if (words[i] === '--tmpfs') {
      out.dirs.push(words[i + 1] as string)
      i += 2
    } else if (words[i] === '--ro-bind' && words[i + 1] === '/dev/null') {
      out.files.push(words[i + 2] as string)
      i += 3
    } else throw new Error(`not an option the scan writes: ${JSON.stringify(words.slice(i, i + 3))}`)
  }
  return { files: out.files.sort(), dirs: out.dirs.sort() }
}

/**
 * Runs the step's script with a stand-in for bwrap: `sh -c '/bin/cat <&3; …' ARGS`, which prints
 * what fd 3 holds and, after a newline and a NUL, its PATH and the args it was given.
 */
const scan = (opts: { state: string; rootfs: string; dirs: readonly string[]; blocks?: number; env?: Record<string, string> }) => {
  const standIn = ['/bin/sh', '-c', '/bin/cat <&3 && printf "\\n\\0%s\\0%s" "$PATH" "$*"', 'bwrap', 'the', 'command']
  const [file, ...args] = scanThenRun(opts.state, opts.rootfs, opts.dirs, standIn, opts.blocks) as [string, ...string[]]
  const r = spawnSync(file, args, { encoding: 'utf8', env: opts.env ?? { PATH: '/usr/bin:/bin' } })
  const end = r.stdout.indexOf('\n\0')
  const [path, argv] = end < 0 ? [] : r.stdout.slice(end + 2).split('\0')
  return { status: r.status, stderr: r.stderr, masks: end < 0 ? r.stdout : r.stdout.slice(0, end), path, argv }
}

/** A fresh rootfs with a state directory of its own. */
const fresh = (): { rootfs: string; state: string } => {
  const rootfs = join(scratch, String(tree++))
  const state = join(rootfs, 'state')
  mkdirSync(state, { recursive: true })
  return { rootfs, state }
}

test.prop([entries], { numRuns: 100 })('masks exactly the root-only files and directories of a generated tree, and follows no symlink', (es) => {
  // The tree is a rootfs of its own with the scanned directory at /etc, as under an image.
  const { rootfs, state } = fresh()
  mkdirSync(join(rootfs, 'etc'))
  make(join(rootfs, 'etc'), es)
  const want = expected('/etc', es, { files: [], dirs: [] })
  const r = scan({ state, rootfs, dirs: ['/etc'] })
  expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 0, stderr: '' })
  expect(parseArgs(r.masks)).toStrictEqual({ files: want.files.sort(), dirs: want.dirs.sort() })
  // The list is read and gone before the command runs; the command runs with its args.
  expect(readdirSync(state)).toStrictEqual([])
  expect(r.argv).toBe('the command')
})

describe('the scan around the command', () => {
  const rootfs = join(scratch, 'fixed')
  mkdirSync(join(rootfs, 'etc', 'ssl', 'private'), { recursive: true })
  writeFileSync(join(rootfs, 'etc', 'shadow'), 'x', { mode: 0o640 })
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'x', { mode: 0o644 })
  chmodSync(join(rootfs, 'etc', 'ssl', 'private'), 0o700)
  // /opt: five entries, one of them root-only.
  mkdirSync(join(rootfs, 'opt', 'app'), { recursive: true })
  for (const f of ['a', 'b', 'c']) writeFileSync(join(rootfs, 'opt', 'app', f), 'x', { mode: 0o644 })
  writeFileSync(join(rootfs, 'opt', 'key'), 'x', { mode: 0o600 })

  it('a directory with more entries than the budget: the bottle gets it empty, with a warning; the others are scanned; at the budget: scanned', () => {
    // One block: 64 entries. /etc has 4 and /opt 5 (above), /srv 55: 64 in all, one walk.
    mkdirSync(join(rootfs, 'srv', 'many'), { recursive: true })
    for (let i = 0; i < 54; i++) writeFileSync(join(rootfs, 'srv', 'many', String(i)), 'x', { mode: i === 0 ? 0o600 : 0o644 })
    const at = scan({ ...fresh(), rootfs, dirs: ['/etc', '/opt', '/srv'], blocks: 1 })
    expect([at.status, at.stderr]).toStrictEqual([0, ''])
    expect(parseArgs(at.masks)).toStrictEqual({ files: ['/etc/shadow', '/opt/key', '/srv/many/0'], dirs: ['/etc/ssl/private'] })
    // 65 in all: each is walked again on its own; /srv alone still fits.
    writeFileSync(join(rootfs, 'opt', 'one-more'), 'x')
    const split = scan({ ...fresh(), rootfs, dirs: ['/etc', '/opt', '/srv'], blocks: 1 })
    expect([split.status, split.stderr]).toStrictEqual([0, ''])
    expect(parseArgs(split.masks)).toStrictEqual({ files: ['/etc/shadow', '/opt/key', '/srv/many/0'], dirs: ['/etc/ssl/private'] })
    // /srv alone past the budget: hidden whole (after whatever of its own was listed), the rest as before.
    for (let i = 0; i < 10; i++) writeFileSync(join(rootfs, 'srv', 'many', `x${i}`), 'x')
    const o = fresh()
    const over = scan({ ...o, rootfs, dirs: ['/etc', '/opt', '/srv'], blocks: 1 })
    expect(over.status).toBe(0)
    expect(over.stderr).toBe('bottle: warning: /srv has more than 64 entries to scan for root-only files: the bottle gets it empty\n')
    expect(parseArgs(over.masks)).toStrictEqual({ files: ['/etc/shadow', '/opt/key'], dirs: ['/etc/ssl/private', '/srv'] })
    expect(over.argv).toBe('the command')
    expect(readdirSync(o.state)).toStrictEqual([])
  })

  it('the host root: every mask is under the scanned directory', () => {
    const r = scan({ ...fresh(), rootfs: '/', dirs: ['/etc'] })
    expect(r.status).toBe(0)
    const got = parseArgs(r.masks)
    for (const p of [...got.files, ...got.dirs]) expect(p.startsWith('/etc/')).toBe(true)
  })

  it('a secret named PATH or POSIXLY_CORRECT in the env changes nothing in the scan, and the command gets PATH back', () => {
    const r = scan({ ...fresh(), rootfs, dirs: ['/etc'], env: { PATH: '/nowhere', POSIXLY_CORRECT: '1', IFS: 'e' } })
    expect(r.status).toBe(0)
    expect(parseArgs(r.masks)).toStrictEqual({ files: ['/etc/shadow'], dirs: ['/etc/ssl/private'] })
    expect(r.path).toBe('/nowhere')
  })

  it.each([
    ['the state directory is gone', () => ({ state: join(scratch, 'no-such-state'), rootfs, dirs: ['/etc'] }), /^bottle: the bottle's state directory .*no-such-state is gone; nothing ran\n$/],
    ['a directory to scan is missing (find fails)', () => ({ ...fresh(), rootfs, dirs: ['/etc', '/missing'] }), /^bottle: the scan for root-only files failed \(exit status 1\); nothing ran$/m],
  ])('%s: exit 125, one line saying so, the command never runs, nothing left', (_label, opts, message) => {
    const o = opts()
    const r = scan(o)
    expect(r.status).toBe(125)
    expect(r.stderr).toMatch(message)
    expect(r.argv).toBeUndefined()
    if (existsSync(o.state)) expect(readdirSync(o.state)).toStrictEqual([])
  })
})

it('takes only plain system directory names (they travel as one space-separated word)', () => {
  for (const bad of ['/e tc', 'etc', '/etc/ssl', '/e%p']) expect(() => scanThenRun('/s', '/', [bad], ['true'])).toThrow(/is not a system directory the root-only scan takes/)
})
