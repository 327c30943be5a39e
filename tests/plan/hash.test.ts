/** sha256 (src/plan/hash.ts) against node's createHash, and a published test vector. */
import { fc, test } from '@fast-check/vitest'
import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { sha256 } from '../../src/plan/hash.js'
import { runs } from '../runs.js'

it('matches the FIPS 180-2 vector for "abc"', () => {
  expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test.prop([fc.string({ unit: 'binary' })], { numRuns: runs })('equals createHash over UTF-8, for any text', (text) => {
  expect(sha256(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
})
