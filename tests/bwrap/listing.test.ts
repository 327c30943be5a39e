/**
 * `ls` and `down --all` on real bwrap bottles, through the built CLI (dist/bottle.js) with
 * XDG_STATE_HOME in a temporary directory: real launches, a real state root with junk put in it.
 *
 * In CI bwrap must be there (.ci/run installs it); elsewhere the suite is skipped without it.
 */
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-bwrap-ls-'))
const ws = join(root, 'ws')
mkdirSync(ws)
afterAll(() => rmSync(root, { recursive: true, force: true }))

const bottle = (args: readonly string[], state: string) => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: state }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const bottlesIn = (state: string): string => join(state, 'bottle', 'bwrap')
let fresh = 0
const freshState = (): string => join(root, `state-${fresh++}`)

const haveBwrap = onPath('bwrap', process.env.PATH)
if (!haveBwrap && process.env.CI) throw new Error('bwrap is required in CI (.ci/run installs it)')
if (!haveBwrap) console.warn('skipping the bwrap listing tests: bwrap is not on PATH')

describe.skipIf(!haveBwrap)('down --all on real bwrap bottles', () => {
  it('plan down --all -b bwrap shows the removal of each bottle, and run down --all removes them', () => {
    const state = freshState()
    for (const n of ['one', 'two']) expect(bottle(['run', 'launch', n, '-b', 'bwrap', '--network', 'open', '-q'], state).status).toBe(0)
    const planned = bottle(['plan', 'down', '--all', '-b', 'bwrap'], state)
    expect(planned.stderr).toBe('')
    expect(planned.status).toBe(0)
    for (const n of ['one', 'two']) expect(planned.stdout).toContain(`rm -rf -- ${join(bottlesIn(state), n)}`)
    const ran = bottle(['run', 'down', '--all', '-b', 'bwrap', '-q'], state)
    expect({ status: ran.status, stderr: ran.stderr }).toStrictEqual({ status: 0, stderr: '' })
    expect(readdirSync(bottlesIn(state))).toStrictEqual([])
    // Nothing left: a second time is nothing to do.
    expect(bottle(['run', 'down', '--all', '-b', 'bwrap', '-q'], state).status).toBe(0)
  })
})

/** One thing put in the state root beside the real bottles, and whether ls should list it. */
type Junk =
  | { readonly kind: 'dir'; readonly name: string }
  | { readonly kind: 'file'; readonly name: string }
  | { readonly kind: 'link'; readonly name: string; readonly to: 'dir' | 'bottle' | 'nowhere' }

/** Names no bottle has: a space, a leading `_` or `.`, 129 characters, a newline, a TAB, a quote, a backslash. */
const oddName = fc.oneof(
  fc.constantFrom('a b', '_lead', 'x'.repeat(129), 'new\nline', 'tab\there', 'quo"te', 'back\\slash', '-flag', 'é'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(s)),
).filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..' && !s.startsWith('.'))

/** Names bottle could have given: these, as plain directories, are listed. */
const bottleLike = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,11}$/)

const junkArb: fc.Arbitrary<Junk> = fc.oneof(
  oddName.map((name) => ({ kind: 'dir' as const, name })),
  fc.oneof(oddName, bottleLike).map((name) => ({ kind: 'file' as const, name })),
  fc.record({ name: fc.oneof(oddName, bottleLike), to: fc.constantFrom('dir' as const, 'bottle' as const, 'nowhere' as const) }).map((j) => ({ kind: 'link' as const, ...j })),
)

describe.skipIf(!haveBwrap)('ls over a real state root with junk in it', () => {
  // Two real bottles, launched once; each case copies nothing, it adds junk and removes it after.
  const state = freshState()
  const real = ['alpha', 'beta']
  const launched = real.map((n) => bottle(['run', 'launch', n, '-b', 'bwrap', '--network', 'open', '-q'], state).status)

  it('launched both', () => {
    expect(launched).toStrictEqual([0, 0])
  })

  it('lists every real bottle, never a symlink or a file, and names each skipped entry on one line', { timeout: 240_000 }, () => {
    const dir = bottlesIn(state)
    fc.assert(
      fc.property(fc.uniqueArray(junkArb, { minLength: 1, maxLength: 4, selector: (j) => j.name }), fc.boolean(), (junk, garbleLabels) => {
        const added = junk.filter((j) => !real.includes(j.name) && !existsSync(join(dir, j.name)))
        const labels = join(dir, 'beta', 'labels')
        const original = readFileSync(labels)
        try {
          for (const j of added) {
            const at = join(dir, j.name)
            if (j.kind === 'dir') mkdirSync(at)
            else if (j.kind === 'file') writeFileSync(at, 'not a bottle')
            else symlinkSync(j.to === 'dir' ? root : j.to === 'bottle' ? join(dir, 'alpha') : join(root, 'nowhere'), at)
          }
          // Random bytes in a labels file: the bottle is still listed, without a record.
          if (garbleLabels) writeFileSync(labels, Buffer.from([0xff, 0x00, 0x09, 0x0a, 0x3d, 0xc3]))
          const r = bottle(['ls', '-b', 'bwrap', '--json'], state)
          expect(r.status).toBe(0)
          const listed = (JSON.parse(r.stdout) as { bottles: { name: string; spec: unknown }[] }).bottles
          // The real bottles, and the odd-named directories never.
          expect(listed.map((b) => b.name)).toStrictEqual(real)
          // The spec comes from the launch record, not the labels file: garbled labels do not lose it.
          expect(listed.find((b) => b.name === 'beta')?.spec).not.toBeNull()
          const warnings = r.stderr.split('\n').filter((l) => l !== '')
          // One line each, control characters escaped, and each one names its entry.
          expect(warnings.length).toBe(added.length + (garbleLabels ? 1 : 0))
          for (const j of added) expect(warnings.some((w) => w.includes(JSON.stringify(j.name)))).toBe(true)
          for (const w of warnings) expect(w).toMatch(/^bottle: warning: bwrap state root: [^\u0000-\u001f\u007f]*$/)
        } finally {
          for (const j of added) rmSync(join(dir, j.name), { recursive: true, force: true })
          writeFileSync(labels, original)
        }
      }),
      { numRuns: 15 },
    )
  })
})
