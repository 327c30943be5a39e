/** sha256 (src/plan/hash.ts) against node's createHash, and a published test vector. */
import { fc, test } from '@fast-check/vitest'
import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { initialHash, nodeCryptoAfter, roundConstants, sha256, sha256Written } from '../../src/plan/hash.js'
import { runs } from '../runs.js'

it('matches the FIPS 180-2 vector for "abc"', () => {
  expect(sha256Written('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

const firstPrimes = (n: number): number[] => {
  const out: number[] = []
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c)
  return out
}
/** The first 32 bits of the fractional part of x. */
const fraction32 = (x: number): number => ((x - Math.floor(x)) * 2 ** 32) >>> 0

it('holds the constants FIPS 180-4 derives: cube roots of the first 64 primes, square roots of the first 8', () => {
  const primes = firstPrimes(64)
  expect([...roundConstants]).toStrictEqual(primes.map((p) => fraction32(Math.cbrt(p))))
  expect([...initialHash]).toStrictEqual(primes.slice(0, 8).map((p) => fraction32(Math.sqrt(p))))
  // And the standard's own first and last: the derivation above is the right one.
  expect([roundConstants[0], roundConstants[1], roundConstants[62], roundConstants[63]]).toEqual([0x428a2f98, 0x71374491, 0xbef9a3f7, 0xc67178f2])
  expect(initialHash[0]).toBe(0x6a09e667)
})

// Padding changes at 55/56 bytes (the length no longer fits in the block) and at block edges.
it.each([0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000])('equals createHash on %i bytes', (n) => {
  const text = 'a'.repeat(n)
  expect(sha256Written(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
})

test.prop([fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', minLength: 50, maxLength: 300 }))], { numRuns: runs })('equals createHash over UTF-8, for any text', (text) => {
  expect(sha256Written(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
})

// sha256 hands over to node:crypto after nodeCryptoAfter calls in a process: the same digests
// before, at and after the hand-over.
it('sha256 gives the same digests before and after it hands over to node:crypto', () => {
  for (let i = 0; i < nodeCryptoAfter * 2; i++) {
    const text = `entry ${i} ${'é'.repeat(i)}`
    expect(sha256(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
  }
  // After it: crypto.hash where node has it. A lone surrogate (a manifest can hold one) is
  // encoded as U+FFFD by both, and an astral character as its four bytes.
  for (const text of ['', 'a\ud800b', '\udfff', '🍾 bottle', 'x'.repeat(70_000)]) expect(sha256(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
})
