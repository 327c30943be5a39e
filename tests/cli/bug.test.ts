/**
 * A throw that reaches the top of `bottle` is a bug: one line (and exit 1, set by src/main.ts),
 * never node's dump of the bundled source around it.
 */
import { describe, expect, it } from 'vitest'
import { bugReport, exitBug } from '../../src/cli.js'

describe('bugReport', () => {
  it('is one line naming it a bug, and says how to see where; the stack only with BOTTLE_DEBUG=1', () => {
    const e = new Error('bug: bwrap compiled without bwrap host facts')
    expect(bugReport(e, false)).toStrictEqual([
      'bottle: internal error (a bug in bottle, please report it): bug: bwrap compiled without bwrap host facts (BOTTLE_DEBUG=1 shows where)',
    ])
    const debug = bugReport(e, true)
    expect(debug[0]).toBe('bottle: internal error (a bug in bottle, please report it): bug: bwrap compiled without bwrap host facts')
    expect(debug.slice(1).some((l) => l.includes('bug.test.ts'))).toBe(true)
    expect(exitBug).toBe(1)
  })

  it('cuts a long message short and shows control characters as escapes', () => {
    const [line, ...rest] = bugReport(new Error(`first\nsecond ${'x'.repeat(5000)}`), false)
    expect(rest).toStrictEqual([])
    expect(line).toContain('first\\x0asecond')
    expect((line ?? '').length).toBeLessThan(400)
    expect(bugReport('a string thrown', false)).toHaveLength(1)
  })
})
