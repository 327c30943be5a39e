/**
 * Laws every backend's listing keeps, so ls, down --all and --check-drift work the same on each:
 * the list plan is read-only and ends in a `capture` step, and its parser reads "nothing" as no
 * bottles and never throws.
 */
import { test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { listPlanFor as compileList } from '../backends/fixtures.js'
import { listingHost, nastyStringArb } from '../arbitraries.js'
import { kits } from '../backends/kits.js'
import { runs } from '../runs.js'

describe.each(Object.values(backends).map((b) => [b.name, b] as const))('listing laws for %s', (_name, backend) => {
  test('the list plan only reads: one capture step last, nothing created, no secrets, no guest command', () => {
    const plan = compileList(backend, listingHost)
    expect(plan.steps.at(-1)?.stdio).toBe('capture')
    expect(plan.steps.flatMap((s) => [...s.undo, ...(s.guest === undefined ? [] : [s])])).toStrictEqual([])
    expect(plan.secrets).toStrictEqual([])
    if (kits[backend.name].listsWithItsBinary) expect(plan.steps.every((s) => s.argv[0] === backend.binary)).toBe(true)
  })

  test('empty output is no bottles', () => {
    expect(backend.parseList('')).toStrictEqual(E.right([]))
  })

  test.prop([nastyStringArb], { numRuns: runs })('any output parses to rows of this backend or to a one-line Left, never a throw', (out) => {
    const parsed = backend.parseList(out)
    if (E.isLeft(parsed)) expect(parsed.left.message).not.toMatch(/[\u0000-\u001f\u007f]/)
    else expect(parsed.right.every((r) => r.backend === backend.name)).toBe(true)
  })
})
