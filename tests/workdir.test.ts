/**
 * workdirRefusal: which host directories launch refuses to bind as a workdir. Properties over
 * generated homes, state roots and workdirs, each workdir written in disguise (`.`, `x/..`, `//`,
 * a trailing slash) or reached through a symlink (its realpath elsewhere).
 */
import { fc, test } from '@fast-check/vitest'
import { posix } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { PathKind } from '../src/backends/backend.js'
import { type WorkdirGuard, workdirRefusal } from '../src/workdir.js'
import { runs } from './runs.js'

const segmentArb = fc.stringMatching(/^[a-z][a-z0-9._-]{0,6}$/)
/** A clean absolute path of 1 to `max` segments. */
const pathArb = (max: number) => fc.array(segmentArb, { minLength: 1, maxLength: max }).map((s) => `/${s.join('/')}`)

/** The same path as a user or a manifest might write it: `/./`, `dir/x/..`, `//`, a trailing slash. */
const disguisedArb = (clean: string): fc.Arbitrary<string> => {
  const segments = clean === '/' ? [] : clean.slice(1).split('/')
  return fc
    .tuple(
      fc.array(fc.constantFrom('', '/.', '/x/..', '/'), { minLength: segments.length + 1, maxLength: segments.length + 1 }),
      fc.boolean(),
    )
    .map(([noise, trailing]) => {
      let out = noise[0] ?? ''
      segments.forEach((s, i) => (out += `/${s}${noise[i + 1] ?? ''}`))
      if (out === '') out = '/'
      return trailing && !out.endsWith('/') ? `${out}/` : out
    })
}

/** `path` and every directory above it, up to `/`. */
const selfAndAncestors = (path: string): string[] => {
  const parts = path.split('/').filter((s) => s !== '')
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`).concat('/')
}

const guardArb = fc.record({ home: pathArb(3), stateRoot: pathArb(4) }).map(({ home, stateRoot }): WorkdirGuard => ({ home: [home], stateRoot: [stateRoot] }))

describe('workdirRefusal', () => {
  test.prop([guardArb.chain((g) => fc.constantFrom(...selfAndAncestors(g.home[0] ?? '/')).chain((p) => fc.tuple(fc.constant(g), disguisedArb(p))))], { numRuns: runs })(
    'the home, any directory above it and `/` are refused, however the path is written',
    ([guard, written]) => {
      // No symlink on the way: realpath is the written path without its disguise.
      const real = posix.resolve(written)
      expect(workdirRefusal({ path: written, kind: 'dir', real }, guard)).not.toBeNull()
    },
  )

  test.prop([guardArb.chain((g) => fc.tuple(fc.constant(g), fc.constantFrom(...selfAndAncestors(g.home[0] ?? '/')), pathArb(3)))], { numRuns: runs })(
    'a symlink whose realpath is the home or above it is refused, wherever the link itself is',
    ([guard, target, link]) => {
      expect(workdirRefusal({ path: `/linkdir${link}`, kind: 'dir', real: target }, guard)).not.toBeNull()
    },
  )

  test.prop([guardArb.chain((g) => fc.tuple(fc.constant(g), fc.constantFrom(...selfAndAncestors(g.stateRoot[0] ?? '/')), fc.array(segmentArb, { maxLength: 2 }), fc.boolean()))], { numRuns: runs })(
    'a directory that holds the state root, is it, or is inside it is refused, as written or through a symlink',
    ([guard, above, below, viaLink]) => {
      const root = guard.stateRoot[0] ?? '/'
      for (const target of [above, [root, ...below].join('/')]) {
        const facts = viaLink ? { path: '/elsewhere/link', kind: 'dir' as const, real: target } : { path: target, kind: 'dir' as const, real: target }
        expect(workdirRefusal(facts, guard)).not.toBeNull()
      }
    },
  )

  test.prop([guardArb, pathArb(3), fc.constantFrom<PathKind>('missing', 'file', 'other')], { numRuns: runs })(
    'a path that is missing or is not a directory is refused',
    (guard, path, kind) => {
      expect(workdirRefusal({ path, kind, real: kind === 'missing' ? null : path }, guard)).not.toBeNull()
    },
  )

  test.prop([guardArb, fc.array(segmentArb, { minLength: 1, maxLength: 3 })], { numRuns: runs })(
    'a directory below the home that neither holds nor is inside the state root is accepted',
    (guard, below) => {
      const home = guard.home[0] ?? '/'
      const root = guard.stateRoot[0] ?? '/'
      const path = `${home}/${below.join('/')}`
      const clash = path === root || path.startsWith(`${root}/`) || root.startsWith(`${path}/`)
      fc.pre(!clash)
      expect(workdirRefusal({ path, kind: 'dir', real: path }, guard)).toBeNull()
    },
  )

  const guard: WorkdirGuard = { home: ['/home/me', '/usr/home/me'], stateRoot: ['/home/me/.local/state/bottle'] }

  it.each([
    ['/', 'is the host\'s root directory'],
    ['/home/me/', 'is your home directory'],
    ['/home', 'holds your home directory "/home/me"'],
    ['/usr', 'holds your home directory "/usr/home/me"'],
    ['/home/me/.local', 'holds bottle\'s state directory'],
    ['/home/me/.local/state/bottle/docker', 'is inside bottle\'s state directory'],
  ])('refuses %s: %s, in one line', (path, says) => {
    const why = workdirRefusal({ path, kind: 'dir', real: path.replace(/(.)\/$/, '$1') }, guard)
    expect(why).toContain(says)
    expect(why).not.toContain('\n')
  })

  it('names both forms of a path reached through a symlink', () => {
    expect(workdirRefusal({ path: '/tmp/project', kind: 'dir', real: '/home/me' }, guard)).toBe(
      'workdir "/tmp/project" (through symlinks "/home/me") is your home directory: the agent could read and write all of it (~/.ssh, credentials); choose a project directory below it',
    )
  })

  it('refuses a missing path, which an engine would create on the host as root', () => {
    expect(workdirRefusal({ path: '/srv/nowhere', kind: 'missing', real: null }, guard)).toMatch(/^workdir "\/srv\/nowhere" does not exist/)
  })

  it('accepts a project directory under the home, and one elsewhere', () => {
    expect(workdirRefusal({ path: '/home/me/src/app', kind: 'dir', real: '/home/me/src/app' }, guard)).toBeNull()
    expect(workdirRefusal({ path: '/srv/app', kind: 'dir', real: '/srv/app' }, guard)).toBeNull()
  })
})
