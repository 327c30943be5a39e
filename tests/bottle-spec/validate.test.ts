/**
 * Path normalisation: guest paths reach backends as argv words, and `chown -R` runs on copy
 * destinations, so a path that collapses to something else (`//` to the empty string) is a bug.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { expect } from 'vitest'
import { absolutePath } from '../../src/bottle-spec/validate.js'
import { runs } from '../runs.js'

const segment = fc.stringMatching(/^[a-z0-9_-]{1,6}$/)
/** `/seg/seg` with each slash repeated 1-3 times and an optional run of trailing slashes. */
const slashy = fc
  .tuple(fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), segment), { maxLength: 4 }), fc.integer({ min: 0, max: 3 }))
  .map(([parts, trailing]) => ({
    written: parts.map(([n, s]) => '/'.repeat(n) + s).join('') + '/'.repeat(parts.length === 0 ? Math.max(1, trailing) : trailing),
    meant: parts.length === 0 ? '/' : parts.map(([, s]) => `/${s}`).join(''),
  }))

test.prop([slashy], { numRuns: runs })('repeated and trailing slashes normalise to the path meant', ({ written, meant }) => {
  expect(absolutePath('guest path', written)).toStrictEqual(E.right(meant))
})

test.prop([fc.string()], { numRuns: runs })('a relative path is rejected with one line', (p) => {
  fc.pre(!p.startsWith('/'))
  const r = absolutePath('guest path', p)
  expect(E.isLeft(r) && !r.left.message.includes('\n')).toBe(true)
})
