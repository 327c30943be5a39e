/**
 * Redaction of a secret's value in a backend's output (src/interpret.ts `redact`). kubectl quotes
 * what we sent it: the value as JSON (our Secret on stdin), as Go's encoding/json writes it
 * (`<`, `>`, `&`, U+2028, U+2029 as `\u003c`…), and a Secret's `data` in base64. Each form of a
 * generated value, embedded in kubectl-like output, must leave as `<secret NAME>` and nothing of
 * it stay. The forms are computed here independently of the code under test.
 */
import { fc, test } from '@fast-check/vitest'
import { expect } from 'vitest'
import { redact } from '../../src/interpret.js'
import { runs } from '../runs.js'

/**
 * A JSON string body as Go's encoding/json writes it (encode.go, appendString with HTML escaping
 * on, kubectl's default): `"` and `\` escaped; \n \r \t, and \b \f since Go 1.22, short; other
 * C0 controls, `<`, `>`, `&`, U+2028 and U+2029 as \u00XX; everything else as it is (UTF-8).
 */
const goJson = (value: string, { shortBF }: { shortBF: boolean }): string =>
  [...value]
    .map((c) => {
      const n = c.codePointAt(0) ?? 0
      if (c === '"' || c === '\\') return `\\${c}`
      if (c === '\n') return '\\n'
      if (c === '\r') return '\\r'
      if (c === '\t') return '\\t'
      if (shortBF && c === '\b') return '\\b'
      if (shortBF && c === '\f') return '\\f'
      if (n < 0x20 || c === '<' || c === '>' || c === '&' || n === 0x2028 || n === 0x2029) return `\\u${n.toString(16).padStart(4, '0')}`
      return c
    })
    .join('')

const base64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64')

/** Characters Go's JSON escapes, JSON escapes, and that are more than one UTF-8 byte. */
const fragment = fc.oneof(
  fc.constantFrom('<', '>', '&', '"', '\\', '\n', '\t', '\b', '\f', '\x01', '\u2028', '\u2029', 'é', 'ü', '😀', '中', '<script>', 'a&b', '='),
  fc.string({ minLength: 1, maxLength: 3 }),
)
// A uuid first, so that no form of the value is in the surrounding text by accident.
const valueArb = fc.tuple(fc.uuid(), fc.array(fragment, { minLength: 1, maxLength: 8 })).map(([u, fs]) => `${u}${fs.join('')}`)

/** Output in which kubectl quotes the value in every form it may. */
const kubectlSays = (value: string): string[] => [
  `Error from server (Invalid): error when creating "STDIN": Secret "demo-secrets" is invalid: data[TOKEN]: Invalid value: "${goJson(value, { shortBF: true })}"`,
  `Error from server: "${goJson(value, { shortBF: false })}"`,
  `{"stringData":{"TOKEN":${JSON.stringify(value)}}}`,
  `data:\n  TOKEN: ${base64(value)}`,
  `data: {"TOKEN":"${base64(value).replace(/=+$/, '')}"}`,
  `raw: ${value}`,
]

test.prop([valueArb], { numRuns: runs })('every form of a secret value in kubectl output becomes <secret NAME>', (value) => {
  const lines = kubectlSays(value)
  const out = redact(lines.join('\n'), ['TOKEN'], { TOKEN: value })
  const forms = [value, JSON.stringify(value).slice(1, -1), goJson(value, { shortBF: true }), goJson(value, { shortBF: false }), base64(value), base64(value).replace(/=+$/, '')]
  for (const form of forms) expect(out).not.toContain(form)
  // The uuid the value starts with: no piece of it left either.
  expect(out).not.toContain(value.slice(0, 36))
  expect(out.split('<secret TOKEN>').length - 1).toBeGreaterThanOrEqual(lines.length)
})

test.prop([valueArb, valueArb], { numRuns: runs })('two secrets: each is shown by its own name', (a, b) => {
  fc.pre(!a.includes(b) && !b.includes(a))
  const out = redact(`${goJson(a, { shortBF: true })} ${base64(b)}`, ['A', 'B'], { A: a, B: b })
  expect(out).toBe('<secret A> <secret B>')
})
