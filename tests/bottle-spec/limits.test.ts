import { createHash } from 'node:crypto'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { cpusLimit, limitsText, maxPids, memoryLimit, memoryQuantity, memoryText, pidsLimit } from '../../src/bottle-spec/limits.js'
import { parseManifest } from '../../src/bottle-spec/manifest.js'
import { recordOf, specHash } from '../../src/bottle-spec/record.js'
import { resolveSpec } from '../../src/bottle-spec/spec.js'

const right = <A>(c: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(c)) throw new Error(c.left.message)
  return c.right
}
const message = <A>(c: E.Either<{ message: string }, A>): string => (E.isLeft(c) ? c.left.message : 'accepted')

describe('memory, as docker reads it', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['4g', 4 * 1024 ** 3],
    ['4G', 4 * 1024 ** 3],
    ['1024k', 1024 ** 2],
    ['65536', 65536],
    ['100b', 100],
    ['1536m', 1.5 * 1024 ** 3],
    ['1t', 1024 ** 4],
  ])('%s is %d bytes', (text, bytes) => {
    expect(right(memoryLimit(text))).toBe(bytes)
  })

  it.each(['0', '0m', '-1m', '512mb', '4Gi', '1 g', '', 'm', '1e9', '0.1b', '1.5g', '1.5', '99999999999t'])('%j is refused with one line', (text) => {
    expect(message(memoryLimit(text))).toBe(`memory ${JSON.stringify(text)} must be a positive whole number of bytes or of a unit b, k, m, g or t (powers of 1024), such as 512m, 4g or 1536m`)
  })

  // Every size in whole units reads back as the same number of bytes from its own text, and
  // from the Kubernetes quantity's number times its binary unit.
  test.prop([fc.integer({ min: 1, max: 2 ** 20 }), fc.constantFrom(['', 1], ['k', 1024], ['m', 1024 ** 2], ['g', 1024 ** 3])])(
    'N with a unit is N times its power of 1024, and its text reads back the same',
    (n, [unit, size]) => {
      const bytes = right(memoryLimit(`${n}${unit as string}`))
      expect(bytes).toBe(n * (size as number))
      expect(right(memoryLimit(memoryText(bytes)))).toBe(bytes)
      const q = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(memoryQuantity(bytes))
      const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }
      expect(q).not.toBeNull()
      expect(Number(q?.[1]) * (units[q?.[2] ?? ''] ?? 1)).toBe(bytes)
    },
  )
})

describe('cpus and pids', () => {
  it.each([['2', '2'], ['1.5', '1.5'], ['1.500', '1.5'], ['007', '7'], ['0.25', '0.25'], ['0.001', '0.001']])('cpus %s is %s', (text, canonical) => {
    expect(right(cpusLimit(text))).toBe(canonical)
  })
  it.each(['0', '0.0', '-1', '1.2345', '1,5', '', '.5', '2 cpus', 'NaN'])('cpus %j is refused', (text) => {
    expect(message(cpusLimit(text))).toMatch(/^cpus .* must be a positive decimal number of CPUs/)
  })
  it.each(['0', '-1', '1.5', '01', '', '1e3', String(maxPids + 1)])('pids %j is refused', (text) => {
    expect(message(pidsLimit(text))).toMatch(/^pids .* must be a positive whole number of processes/)
  })
})

describe('limits in the manifest', () => {
  const parse = (yaml: string) => parseManifest('bottle.yaml', yaml, '/src')

  it('takes numbers as written, and strings', () => {
    const m = right(parse('bottles:\n  demo:\n    limits: { cpus: 1.50, memory: 4g, pids: 256 }\n'))
    expect(m.bottles.demo?.limits).toEqual({ cpus: '1.5', memory: 4 * 1024 ** 3, pids: 256 })
  })

  it.each([
    ['limits: { cpus: 0 }', 'bottle.yaml: bottles.demo.limits.cpus: cpus "0" must be a positive decimal number of CPUs, such as 2 or 1.5 (at most 3 decimals)'],
    ['limits: { memory: 4Gi }', 'bottle.yaml: bottles.demo.limits.memory: memory "4Gi" must be a positive whole number of bytes or of a unit b, k, m, g or t (powers of 1024), such as 512m, 4g or 1536m'],
    ['limits: { pids: 2.5 }', 'bottle.yaml: bottles.demo.limits.pids: pids "2.5" must be a positive whole number of processes, at most 4194304'],
    ['limits: { pids: [1] }', 'bottle.yaml: bottles.demo.limits.pids: must be a number or a string, not a list'],
    ['limits: { disk: 1g }', 'bottle.yaml: bottles.demo.limits.disk: unknown key (known: cpus, memory, pids)'],
    ['limits: 2', 'bottle.yaml: bottles.demo.limits: must be a mapping, not a number'],
    [
      'limits: { cpus: 2 }\n    resources: { limits: { cpu: 1 } }',
      'bottle.yaml: bottles.demo.limits: limits.cpus and resources.limits.cpu both limit the CPUs: keep one (resources stays for requests)',
    ],
    [
      'limits: { memory: 1g }\n    resources: { limits: { memory: 1Gi } }',
      'bottle.yaml: bottles.demo.limits: limits.memory and resources.limits.memory both limit the memory: keep one (resources stays for requests)',
    ],
  ])('%s: %s', (entry, expected) => {
    expect(message(parse(`bottles:\n  demo:\n    ${entry}\n`))).toBe(expected)
  })

  it('a flag overrides one limit and keeps the others; a flag limit that meets resources.limits is refused', () => {
    const spec = right(resolveSpec({ name: 'demo', fromManifest: { limits: { cpus: '2', pids: 64 } }, fromFlags: { limits: { cpus: '0.5' } }, cwd: '/src' }))
    expect(spec.limits).toEqual({ cpus: '0.5', memory: null, pids: 64 })
    expect(message(resolveSpec({
      name: 'demo',
      fromManifest: { resources: { requests: [], limits: [['memory', '1Gi']] } },
      fromFlags: { limits: { memory: 1024 } },
      cwd: '/src',
    }))).toBe('limits.memory and resources.limits.memory both limit the memory: keep one (resources stays for requests)')
  })
})

describe('limits in the spec hash', () => {
  const base = right(resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: {}, cwd: '/src' }))

  // Drift: any change of a limit is a change of the hash, and ls names the field.
  test.prop([
    fc.record({ cpus: fc.constantFrom(null, '1', '1.5'), memory: fc.constantFrom(null, 1024 ** 3, 512 * 1024 ** 2), pids: fc.constantFrom(null, 64, 100) }),
    fc.record({ cpus: fc.constantFrom(null, '1', '1.5'), memory: fc.constantFrom(null, 1024 ** 3, 512 * 1024 ** 2), pids: fc.constantFrom(null, 64, 100) }),
  ])('two specs that differ only in limits hash alike iff their limits are the same', (a, b) => {
    const ha = specHash(recordOf({ ...base, limits: a }, 'node:22'))
    const hb = specHash(recordOf({ ...base, limits: b }, 'node:22'))
    expect(ha === hb).toBe(JSON.stringify(a) === JSON.stringify(b))
  })

  it('a bottle with no limits keeps the hash of the record format without them', () => {
    const r = recordOf(base, 'node:22')
    expect(r.limits).toBeNull()
    expect(limitsText({ cpus: '2', memory: 512 * 1024 ** 2, pids: null })).toBe('cpus=2 memory=512m')
    // The canonical JSON of the same record, as it was written before limits existed.
    const { limits: _, provision: __, auth: ___, workspace: ____, ...older } = r
    const olderJson = JSON.stringify({ ...older, env: r.env, secrets: r.secrets })
    expect(specHash(r)).toBe(createHash('sha256').update(olderJson).digest('hex').slice(0, 12))
  })
})
