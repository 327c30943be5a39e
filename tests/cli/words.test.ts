/**
 * bottle's argv tokenizer (src/cli/words.ts) against node's own util.parseArgs, which it stands in
 * for at start-up: for generated words, against bottle's real option table and against generated
 * tables, both give the same tokens (kind, name, raw name, value) in the same order.
 */
import { fc, test } from '@fast-check/vitest'
import { parseArgs } from 'node:util'
import { describe, expect, it } from 'vitest'
import { optionKinds } from '../../src/cli/request.js'
import { type OptionKinds, type Token, tokenize } from '../../src/cli/words.js'
import { nastyStringArb } from '../arbitraries.js'
import { runs } from '../runs.js'

/** node's tokens, with the fields bottle reads (parseArgs also gives each token's index). */
const nodeTokens = (words: readonly string[], options: OptionKinds): Token[] =>
  parseArgs({ args: [...words], options: options as Parameters<typeof parseArgs>[0] extends { options?: infer O } ? O : never, strict: false, allowPositionals: true, tokens: true }).tokens.map(
    (t): Token =>
      t.kind === 'option'
        ? { kind: 'option', name: t.name, rawName: t.rawName, value: t.value }
        : t.kind === 'positional'
          ? { kind: 'positional', value: t.value }
          : { kind: 'option-terminator' },
  )

/** Single characters the grammar turns on, short option letters, and anything else. */
const charArb = fc.oneof(fc.constantFrom('-', '=', 'b', 'q', 'e', 'h', 'x', 'y', '\u{1F600}', '\uD83D'), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))

/** A short option's letter: one UTF-16 code unit, as parseArgs requires. */
const shortArb = charArb.filter((c) => c.length === 1)

/** Words shaped like what a user types: flags of the table with and without values, groups, `--`, and noise. */
const wordArb = (options: OptionKinds): fc.Arbitrary<string> => {
  const names = Object.keys(options)
  const shorts = names.map((n) => options[n]?.short).filter((s): s is string => s !== undefined)
  return fc.oneof(
    fc.constantFrom('--', '-', '---', '--=', '-=', '--no-tty', '--constructor', '--__proto__', '--toString=x'),
    ...(names.length === 0 ? [] : [fc.constantFrom(...names).map((n) => `--${n}`), fc.tuple(fc.constantFrom(...names), nastyStringArb).map(([n, v]) => `--${n}=${v}`)]),
    ...(shorts.length === 0 ? [] : [fc.array(fc.constantFrom(...shorts), { minLength: 1, maxLength: 4 }).chain((s) => fc.tuple(fc.constant(s.join('')), fc.option(nastyStringArb, { nil: '' })).map(([g, v]) => `-${g}${v}`))]),
    fc.array(charArb, { minLength: 1, maxLength: 6 }).map((cs) => cs.join('')),
    nastyStringArb,
  )
}

const sameTokens = (words: readonly string[], options: OptionKinds): void => {
  expect(tokenize(words, options)).toStrictEqual(nodeTokens(words, options))
}

describe("argv words split as node's util.parseArgs splits them", () => {
  test.prop([fc.array(wordArb(optionKinds), { maxLength: 10 })], { numRuns: runs * 4 })("bottle's own option table", (words) => {
    sameTokens(words, optionKinds)
  })

  const optionTableArb: fc.Arbitrary<OptionKinds> = fc
    .uniqueArray(fc.tuple(fc.oneof(fc.constantFrom('a', 'backend', 'no-tty', 'x=y', '-', 'constructor'), fc.string({ minLength: 1, maxLength: 5 })), fc.constantFrom('string' as const, 'boolean' as const), fc.option(shortArb, { nil: undefined })), {
      maxLength: 6,
      selector: ([name]) => name,
    })
    .map((entries) => Object.fromEntries(entries.map(([name, type, short]) => [name, short === undefined ? { type } : { type, short }])))

  test.prop([optionTableArb.chain((options) => fc.tuple(fc.constant(options), fc.array(wordArb(options), { maxLength: 10 })))], { numRuns: runs * 4 })(
    'any option table',
    ([options, words]) => {
      sameTokens(words, options)
    },
  )

  it('the cases that read least like each other', () => {
    const options: OptionKinds = { backend: { type: 'string', short: 'b' }, quiet: { type: 'boolean', short: 'q' }, yes: { type: 'boolean', short: 'y' } }
    for (const words of [['-qyb', 'docker'], ['-qbdocker'], ['-bq'], ['-q-', 'x'], ['--backend'], ['-b'], ['--backend=', 'x'], ['--', '--backend', 'x'], ['-'], ['--=x'], ['--=='], ['--=a=b'], ['-qy=']])
      sameTokens(words, options)
    // And the example in the module's header.
    expect(tokenize(['-qb', 'docker', '--env=A=1', '--', '-p'], optionKinds)).toStrictEqual([
      { kind: 'option', name: 'quiet', rawName: '-q', value: undefined },
      { kind: 'option', name: 'backend', rawName: '-b', value: 'docker' },
      { kind: 'option', name: 'env', rawName: '--env', value: 'A=1' },
      { kind: 'option-terminator' },
      { kind: 'positional', value: '-p' },
    ])
  })
})
