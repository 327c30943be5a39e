/**
 * The host's temporary directory, read from the env handed to main (src/host.ts tmpdirOf) instead
 * of from node:os at every start: for generated TMPDIR, TMP and TEMP (unset, empty, with and
 * without trailing slashes), it is what os.tmpdir() answers with the same variables set.
 */
import { fc, test } from '@fast-check/vitest'
import { tmpdir } from 'node:os'
import { describe, expect } from 'vitest'
import { tmpdirOf } from '../../src/host.js'
import { runs } from '../runs.js'

const names = ['TMPDIR', 'TMP', 'TEMP'] as const

/** A value such a variable might hold, or none. */
const valueArb = fc.option(fc.oneof(fc.constantFrom('', '/', '//', '/tmp/', '/var/tmp', '/var/tmp//', 'relative/', ' '), fc.string({ maxLength: 8 }).map((s) => `/${s}`)), { nil: undefined })

describe('the temporary directory', () => {
  test.prop([fc.tuple(valueArb, valueArb, valueArb)], { numRuns: runs * 2 })('is os.tmpdir() for the same TMPDIR, TMP and TEMP', (values) => {
    const saved = names.map((n) => process.env[n])
    const env: Record<string, string | undefined> = {}
    try {
      for (const [i, n] of names.entries()) {
        const v = values[i]
        env[n] = v
        if (v === undefined) delete process.env[n]
        else process.env[n] = v
      }
      expect(tmpdirOf(env)).toBe(tmpdir())
    } finally {
      for (const [i, n] of names.entries()) {
        const v = saved[i]
        if (v === undefined) delete process.env[n]
        else process.env[n] = v
      }
    }
  })
})
