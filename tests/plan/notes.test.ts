/**
 * A plan's notes are typed values: each renders to one line of text, the JSON rendering keeps
 * the value (tag and fields) so it decodes back to the same note, and what `bottle run` does with
 * a note (a warning on stderr, the lines update shows) follows its tag, never its words.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { decodeNote } from '../../src/plan/note-json.js'
import { noteText, renderJson, renderText, runWarnings, updateLines } from '../../src/plan/render.js'
import { type Note, type Plan, backendNames, info, planVersion } from '../../src/plan/types.js'
import { listingHost, nastyStringArb, scenarioArb } from '../arbitraries.js'
import { fitFor } from '../backends/kits.js'
import { runs } from '../runs.js'

/** A note's words: hostile, or dressed as another tag's note (`drift: …`), which must not make it one. */
const wordsArb: fc.Arbitrary<string> = fc.oneof(
  nastyStringArb,
  fc.tuple(fc.constantFrom('drift: ', 'update: ', 'not applied: ', 'nothing to update: ', 'backend docker: '), nastyStringArb).map(([a, b]) => a + b),
)

/** Any note, its words hostile (a bottle name or path a note quotes may hold anything). */
const noteArb: fc.Arbitrary<Note> = fc.oneof(
  fc.record({ _tag: fc.constant('backend' as const), backend: fc.constantFrom(...backendNames), why: wordsArb }),
  fc.record({ _tag: fc.constant('drift' as const), against: fc.constantFrom('manifest' as const, 'live' as const), text: wordsArb }),
  fc.record({ _tag: fc.constant('update' as const), change: wordsArb }),
  fc.record({ _tag: fc.constant('notApplied' as const), change: wordsArb }),
  fc.record({ _tag: fc.constant('nothingToUpdate' as const), bottle: wordsArb }),
  fc.record({ _tag: fc.constant('info' as const), text: wordsArb }),
  // fc.record's objects have no prototype; a plan's notes are plain objects, as JSON.parse makes.
).map((n): Note => ({ ...n }))

/** A plan as compile makes it for a generated op on some backend, with generated notes added. */
const planArb: fc.Arbitrary<Plan> = fc
  .record({
    backend: fc.constantFrom(...Object.values(backends)),
    scenario: scenarioArb,
    listing: fc.constantFrom('bottle', 'ls', 'down --all'),
    names: fc.array(fc.constantFrom('demo', 'web', 'a.b_c-1')),
    extra: fc.array(noteArb, { maxLength: 4 }),
  })
  .map(({ backend, scenario, listing, names, extra }) => {
    const { spec, op, host } = fitFor(backend.name, scenario)
    const compiled =
      listing === 'ls'
        ? compile(backend, null, { _tag: 'ls' }, listingHost)
        : listing === 'down --all'
          ? compile(backend, null, { _tag: 'down', all: names }, listingHost)
          : compile(backend, spec, op, host)
    if (E.isLeft(compiled)) throw new Error(`valid input rejected: ${compiled.left.message}`)
    return { ...compiled.right, notes: [...compiled.right.notes, ...extra] }
  })

/** Every character that would end or break a line on a terminal. */
const lineBreak = /[\n\r\u000b\u000c\u0085\u2028\u2029]/

describe('notes', () => {
  test.prop([planArb], { numRuns: runs })('every note of a plan renders to one line, and the text rendering has one note line for each', (plan) => {
    for (const n of plan.notes) expect(noteText(n)).not.toMatch(lineBreak)
    const noteLines = renderText(plan).split('\n').filter((l) => l.startsWith('note: '))
    expect(noteLines).toStrictEqual(plan.notes.map((n) => `note: ${noteText(n)}`))
  })

  test.prop([planArb], { numRuns: runs })('the JSON rendering carries each note as its typed value: decoded back by tag, it is the same note', (plan) => {
    const json = JSON.parse(renderJson(plan)) as { notes: unknown[] }
    expect(json.notes.map(decodeNote)).toStrictEqual(plan.notes.map((n) => E.right(n)))
  })

  test.prop([fc.array(noteArb)], { numRuns: runs })('run warns of exactly the drift notes, whatever the other notes say', (notes) => {
    const plan: Plan = { version: planVersion, op: 'exec', backend: 'docker', bottle: 'demo', steps: [], secrets: [], notes, exitCodeFrom: null }
    expect(runWarnings(plan)).toStrictEqual(notes.filter((n) => n._tag === 'drift').map((n) => `bottle: ${noteText(n)}`))
  })
})

describe('notes, examples', () => {
  const plan = (notes: readonly Note[]): Plan => ({ version: planVersion, op: 'update', backend: 'docker', bottle: 'demo', steps: [], secrets: [], notes, exitCodeFrom: null })

  it('each tag has its wording', () => {
    expect([
      { _tag: 'backend', backend: 'docker', why: 'given with -b' },
      { _tag: 'drift', against: 'live', text: 'demo (docker) matches this spec' },
      { _tag: 'update', change: 'env FOO changed' },
      { _tag: 'notApplied', change: 'image node:22 → node:24 (relaunch to apply)' },
      { _tag: 'nothingToUpdate', bottle: 'demo' },
      info('a bottle that is already gone is not an error'),
    ].map((n) => noteText(n as Note))).toStrictEqual([
      'backend docker: given with -b',
      'drift: demo (docker) matches this spec',
      'update: env FOO changed',
      'not applied: image node:22 → node:24 (relaunch to apply)',
      'nothing to update: demo already runs with what can change on a live bottle (env, secrets, agent, prompt); nothing is written',
      'a bottle that is already gone is not an error',
    ])
  })

  it('a note that only says "drift: …" is no drift warning, and one that says "update: …" is no update line', () => {
    const p = plan([info('drift: looks like one'), info('update: looks like one'), { _tag: 'drift', against: 'manifest', text: 'demo (docker) has drifted' }, { _tag: 'notApplied', change: 'network' }])
    expect(runWarnings(p)).toStrictEqual(['bottle: drift: demo (docker) has drifted'])
    expect(updateLines(p)).toStrictEqual(['not applied: network'])
  })

  it('a note with a newline in it stays one line, the newline shown as an escape', () => {
    expect(noteText(info('a\nnote: forged'))).toBe('a\\x0anote: forged')
  })

  it.each([
    ['drift: demo has drifted', 'a note is an object with a _tag, not "\\"drift: demo has drifted\\""'],
    [{ _tag: 'warning', text: 'x' }, 'unknown note tag "warning": one of backend, drift, update, notApplied, nothingToUpdate, signIn, info'],
    [{ _tag: 'info', text: 'x', steps: [] }, 'a info note has no "steps"'],
    [{ _tag: 'drift', against: 'elsewhere', text: 'x' }, 'a drift note\'s against must be "manifest" or "live"'],
    [{ _tag: 'backend', backend: 'lxc', why: 'x' }, 'a backend note\'s backend must be one of smolvm, docker, podman, bwrap, kubernetes'],
    [{ _tag: 'update', change: 3 }, 'a update note\'s change must be a string'],
  ])('decodeNote refuses %j: %s', (json, message) => {
    expect(decodeNote(json)).toStrictEqual(E.left(message))
  })
})
