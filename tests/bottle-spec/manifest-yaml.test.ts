// The manifest's own YAML reader against the `yaml` package (a devDependency, kept as the
// reference): on what `yaml` writes, in every style it can write, both read the same value; on
// the mistakes people make by hand, one line naming the file and the line.
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { type ToStringOptions, parse, stringify } from 'yaml'
import { parseManifest } from '../../src/bottle-spec/manifest.js'
import { maxDepth, parseYaml } from '../../src/bottle-spec/manifest-yaml.js'

/** What yaml reads, or undefined when it refuses the text (its writer has cases its reader refuses). */
const yamlReads = (text: string): { value: unknown } | undefined => {
  try {
    return { value: parse(text) as unknown }
  } catch {
    return undefined
  }
}

/** Both readers agree: the same value, or both refuse. */
const agree = (text: string): void => {
  const want = yamlReads(text)
  if (want === undefined) expect(E.isLeft(parseYaml(text))).toBe(true)
  else expect(valueOf(text)).toEqual(want.value)
}

const valueOf = (text: string): unknown => {
  const r = parseYaml(text)
  if (E.isLeft(r)) throw new Error(`${r.left.line}:${r.left.col}: ${r.left.message}\n${text}`)
  return r.right.value
}

const key = fc.oneof(
  fc.constantFrom('demo', 'image', 'a.b', 'my bottle', '1', 'true', 'null', '', '-x', '# c', 'a: b', '__proto__', "it's", '"q"'),
  fc.string({ maxLength: 8 }),
)
const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', minLength: 30, maxLength: 120 }),
  fc.constantFrom('1.10', '0x1F', '~', 'yes', ' lead', 'trail ', 'a\nb', 'a\n\n b\n', '\n', 'x:y', '- x', '#', '|', '> x', "'", '"', '\t', 'a #b'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}))

// The ways `yaml` can write a document: block or flow, every string style, folding or not.
const style: fc.Arbitrary<ToStringOptions> = fc.record({
  lineWidth: fc.constantFrom(0, 20, 80),
  minContentWidth: fc.constantFrom(0, 20),
  indent: fc.constantFrom(2, 4),
  indentSeq: fc.boolean(),
  collectionStyle: fc.constantFrom('any', 'block', 'flow'),
  defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
  blockQuote: fc.constantFrom(true, false, 'literal', 'folded'),
  doubleQuotedAsJSON: fc.boolean(),
  directives: fc.constantFrom(false, null),
}) as fc.Arbitrary<ToStringOptions>

describe('parseYaml', () => {
  test.prop([value, style], { numRuns: 2000 })('reads what yaml writes as yaml reads it', (data, options) => {
    agree(stringify(data, options))
  })

  test.prop([fc.dictionary(key, value, { minKeys: 1, maxKeys: 4 }), style])('reads a mapping with comments between its lines as yaml does', (data, options) => {
    const text = stringify(data, { ...options, collectionStyle: 'block' })
      .split('\n')
      .map((line) => (/^\S/.test(line) ? `# about the next key\n${line}` : line))
      .join('\n')
    agree(text)
  })

  it('keeps the text a number was written as, by its container and key', () => {
    const r = parseYaml('env: { V: 1.10, W: 0x1F }\nlist:\n- 2.50\n')
    if (E.isLeft(r)) throw new Error(r.left.message)
    const v = r.right.value as { env: object; list: object }
    expect([r.right.numberText(v.env, 'V'), r.right.numberText(v.env, 'W'), r.right.numberText(v.list, 0)]).toEqual(['1.10', '0x1F', '2.50'])
  })

  it(`refuses nesting deeper than ${maxDepth} levels without running out of stack`, () => {
    for (const text of ['['.repeat(200_000), '{a: '.repeat(100_000), '- '.repeat(100_000) + 'x', 'a:\n' + Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i + 1)}a${i}:`).join('\n')]) {
      const r = parseYaml(text)
      expect(E.isLeft(r) && r.left.message).toBe(`nested more than ${maxDepth} levels deep`)
    }
  })

  it('reads a manifest of the most bottle reads (1 MiB) of one long list', () => {
    // Its time is a bench figure, not a test's; this checks it reads at all (no recursion per line).
    const line = '  - "' + 'x'.repeat(60) + '"\n'
    const count = Math.floor((1024 * 1024) / line.length)
    const v = valueOf('k:\n' + line.repeat(count)) as { k: string[] }
    expect(v.k).toHaveLength(count)
  })
})

// -------------------------------------------------------------------------------------------------
// mistakes: one line, naming the file and the line at fault
// -------------------------------------------------------------------------------------------------

const file = 'bottle.yaml'
const name = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/)
const bottleLines = fc.uniqueArray(fc.constantFrom('image: node:22', 'user: node', 'workdir: ./app', 'network: none', 'prompt: p.md', 'allow_root: true'), {
  minLength: 2,
  selector: (l) => l.slice(0, l.indexOf(':')),
})

/** A manifest's lines: `bottles:`, a bottle, its keys at four spaces. */
const manifestLines = fc.tuple(name, bottleLines).map(([n, lines]) => ['bottles:', `  ${n}:`, ...lines.map((l) => `    ${l}`)])

const errorLine = (lines: readonly string[]): string => {
  const r = parseManifest(file, lines.join('\n') + '\n', '/work/proj')
  if (E.isRight(r)) throw new Error(`expected an error for:\n${lines.join('\n')}`)
  expect(r.left.message).not.toMatch(/[\n\r]/)
  return r.left.message
}

describe('manifest YAML mistakes', () => {
  test.prop([manifestLines, fc.nat()])('a key given twice: the second one\'s line', (lines, i) => {
    const k = 2 + (i % (lines.length - 2))
    const withDup = [...lines, lines[k] as string]
    expect(errorLine(withDup)).toMatch(new RegExp(`^bottle\\.yaml:${withDup.length}:5: YAML: duplicate key "`))
  })

  test.prop([manifestLines, fc.nat()])('a tab in the indentation: its line', (lines, i) => {
    const k = 1 + (i % (lines.length - 1))
    const tabbed = lines.map((l, j) => (j === k ? l.replace(/^ +/, '\t') : l))
    expect(errorLine(tabbed)).toBe(`bottle.yaml:${k + 1}:1: YAML: a tab in indentation (indent with spaces)`)
  })

  test.prop([manifestLines, fc.nat(), fc.integer({ min: 1, max: 3 })])('a key indented more than the ones before it: its line', (lines, i, extra) => {
    const k = 3 + (i % (lines.length - 3))
    const shifted = lines.map((l, j) => (j === k ? ' '.repeat(extra) + l : l))
    expect(errorLine(shifted)).toMatch(new RegExp(`^bottle\\.yaml:${k + 1}:\\d+: YAML: `))
  })

  test.prop([manifestLines, fc.nat(), fc.constantFrom('"', "'")])('a quote left open: the line it opens on', (lines, i, q) => {
    const k = 2 + (i % (lines.length - 2))
    const open = lines.map((l, j) => (j === k ? l.replace(': ', `: ${q}`) : l))
    expect(errorLine(open)).toMatch(`bottle.yaml:${k + 1}:${(lines[k] as string).indexOf(':') + 3}: YAML: an unterminated ${q === '"' ? 'double' : 'single'}-quoted string`)
  })
})
