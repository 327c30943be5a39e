/**
 * cp out in every backend's plan: one host step, the bottle's own tar as the bottle's user (no
 * env, no secrets, no TTY) piped into the unpack-and-check script; and the refusals, which name
 * the path and run nothing. The real copies: tests/engines/cp-out.test.ts, tests/bwrap/cp-out.test.ts.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { PathKind } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { cpSides } from '../../src/cli/spec-layers.js'
import { compile, copyOutPaths } from '../../src/compile.js'
import { copyOutScript } from '../../src/copy-out.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { fixedHost, specArb, withOp } from '../arbitraries.js'
import { fitFor } from './kits.js'

const nameArb = fc.stringMatching(/^[A-Za-z0-9._-][A-Za-z0-9._ -]{0,12}$/).filter((n) => n !== '.' && n !== '..')
const guestArb = fc.array(nameArb, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`)

/** A copy out on one backend, with what the CLI would have found at the destination. */
const copyOut = (backend: keyof typeof backends, spec: BottleSpec, guest: string, dest: string, kinds: Record<string, PathKind>) => {
  const op: BottleOperation = { _tag: 'cp', source: guest, dest, out: true }
  const fitted = fitFor(backend, withOp({ spec, op, host: fixedHost(spec, op) }, op))
  return compile(backends[backend], fitted.spec, op, { ...fitted.host, pathKinds: kinds })
}

describe.each(Object.keys(backends) as (keyof typeof backends)[])('%s', (name) => {
  test.prop([specArb, guestArb, fc.boolean()])('one host step: the bottle user\'s tar into the checking script, landing at DEST or DEST/NAME', (spec, guest, intoDir) => {
    const dest = '/home/me/got'
    const base = guest.slice(guest.lastIndexOf('/') + 1)
    const final = intoDir ? `${dest}/${base}` : dest
    const plan = copyOut(name, spec, guest, dest, { [dest]: intoDir ? 'dir' : 'missing', '/home/me': 'dir', [`${dest}/${base}`]: 'missing' })
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    expect(plan.right.steps).toHaveLength(1)
    const [s] = plan.right.steps
    expect(s?.argv.slice(0, 7)).toStrictEqual(['/bin/sh', '-c', copyOutScript, 'sh', intoDir ? dest : '/home/me', final, base])
    const dir = guest.slice(0, guest.lastIndexOf('/')) || '/'
    expect(s?.argv.slice(-7)).toStrictEqual(['tar', '-cf', '-', '-C', dir, '--', base])
    // No secret reaches the copy, and it is no interactive step.
    expect(plan.right.secrets).toStrictEqual([])
    expect(s?.env.vars.filter((v) => v._tag === 'secret')).toStrictEqual([])
    expect(s?.stdio).toBe('passthrough')
    expect(s?.undo).toStrictEqual([])
  })

  it.each([
    [{ '/home/me/got': 'missing', '/home/me': 'missing' }, '/home/me/got', 'the destination\'s parent "/home/me" does not exist: make it first'],
    [{ '/home/me/got': 'missing', '/home/me': 'file' }, '/home/me/got', 'the destination\'s parent "/home/me" is not a directory: make it first'],
    [{ '/home/me/got': 'file', '/home/me': 'dir' }, '/home/me/got', '"/home/me/got" exists: bottle never writes over a file; choose a new path or a directory'],
    [{ '/home/me/got': 'dir', '/home/me': 'dir', '/home/me/got/out': 'dir' }, '/home/me/got', '"/home/me/got/out" exists: bottle never writes over it; choose a new path'],
  ] as const)('refuses %j', (kinds, dest, message) => {
    const spec = fc.sample(specArb, { numRuns: 1, seed: 7 })[0]
    if (spec === undefined) throw new Error('no spec')
    const plan = copyOut(name, spec, '/work/out', dest, { ...kinds })
    expect(E.isLeft(plan) ? plan.left.message : 'compiled').toBe(message)
  })
})

describe('which side is the bottle', () => {
  it.each([
    [':/home/node/out', './out', { _tag: 'cp', source: '/home/node/out', dest: '/src/out', out: true }],
    ['./in', ':/home/node/in', { _tag: 'cp', source: '/src/in', dest: '/home/node/in' }],
    ['./in', '/home/node/in', { _tag: 'cp', source: '/src/in', dest: '/home/node/in' }],
    ['./:name', ':/x', { _tag: 'cp', source: '/src/:name', dest: '/x' }],
    [':/x', './:name', { _tag: 'cp', source: '/x', dest: '/src/:name', out: true }],
  ])('%s %s', (from, to, op) => {
    expect(cpSides(from, to, '/src')).toStrictEqual(E.right(op))
  })

  it('both sides in the bottle is one line', () => {
    expect(cpSides(':/a', ':/b', '/src')).toStrictEqual(E.left({
      _tag: 'CompileError',
      message: 'cp ":/a" ":/b": both paths start with ":" (in the bottle); one side must be on the host (write a host path that starts with ":" as ./:name)',
    }))
  })

  it('the CLI reads the kinds of the destination, its parent and the path inside it', () => {
    expect(copyOutPaths('/home/node/out', '/src/got')).toStrictEqual(['/src/got', '/src', '/src/got/out'])
  })
})
