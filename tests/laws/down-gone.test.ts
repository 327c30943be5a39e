/**
 * down --all and what is left of bottles the backend no longer has (removed behind bottle's back):
 * for every backend and any names, the plan touches only what is left by bottle's own marks (it
 * stops the host proxy; on kubernetes removes the door's objects by label), never anything by the gone
 * bottle's name alone, leaves the listed bottles' steps as they were, and says what it removes.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { egressOfLabel } from '../../src/backends/kubernetes.js'
import { bottleStateDir } from '../../src/bottle-spec/record.js'
import type { Plan, Step } from '../../src/plan/types.js'
import { bottleNameArb, listingHost } from '../arbitraries.js'
import { runs } from '../runs.js'

const names = fc.uniqueArray(bottleNameArb, { maxLength: 6 }).chain((all) =>
  fc.integer({ min: 0, max: all.length }).map((cut) => ({ listed: all.slice(0, cut), gone: all.slice(cut) })),
)

const downAll = (backend: keyof typeof backends, listed: readonly string[], gone: readonly string[]): Plan =>
  E.getOrElseW((e: { message: string }) => {
    throw new Error(e.message)
  })(compile(backends[backend], null, { _tag: 'down', all: listed, gone }, listingHost))

const every = (steps: readonly Step[]): Step[] => steps.flatMap((s) => [s, ...every(s.undo)])

describe.each(Object.keys(backends) as (keyof typeof backends)[])('down --all on %s, with bottles that are gone', (backend) => {
  test.prop([names], { numRuns: runs })('only what is left, by bottle\'s own marks; the listed bottles\' steps unchanged; the plan names each', ({ listed, gone }) => {
    const before = downAll(backend, listed, [])
    const after = downAll(backend, listed, gone)
    // The listed bottles first, exactly as without the gone ones.
    expect(after.steps.slice(0, before.steps.length)).toStrictEqual(before.steps)
    const extra = after.steps.slice(before.steps.length)
    const state = (g: string) => bottleStateDir(listingHost.stateRoot, backend, g)
    for (const g of gone) {
      // What names g: its state directory (a path), or its door's label; never g alone.
      const mine = every(extra).filter((s) => s.argv.some((a) => a === g || a.includes(`/${g}/`) || a.endsWith(`/${g}`) || a.endsWith(`=${g}`)))
      expect(mine.length).toBeGreaterThan(0)
      for (const s of mine) {
        const bare = s.argv.filter((a) => a === g || a === `${g}-secrets`)
        expect(bare).toStrictEqual([])
      }
      if (backends[backend].ownProxy !== undefined) {
        expect(mine.map((s) => s.argv.join(' '))).toContainEqual(expect.stringContaining(`delete pod,service,networkpolicy -l ${egressOfLabel}=${g} --ignore-not-found`))
      } else {
        // Its proxy stopped, and nothing else: its record and log may be a live bottle's on another engine.
        expect(mine.map((s) => s.argv.includes('stop') && s.argv.includes(`${state(g)}/egress`))).toStrictEqual([true])
      }
    }
    const said = after.notes.map((n) => ('text' in n ? n.text : '')).join('\n')
    if (gone.length > 0) expect(said).toContain(`no longer has (removed behind bottle's back): ${gone.join(', ')}`)
    else {
      expect(extra).toStrictEqual([])
      expect(said).not.toContain('no longer has')
    }
  })
})
