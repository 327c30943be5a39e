/**
 * quoteSh / quoteShArgv round-trip under real dash and bash: `printf '%s\0' WORDS…` must print
 * exactly the words we quoted. Each run quotes one word list both ways in one script, once per shell.
 */
import { fc, test } from '@fast-check/vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { quoteSh, quoteShArgv } from '../../src/plan/quote.js'
import { nastyStringArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const shells = ['/usr/bin/dash', '/usr/bin/bash'] as const

// Node's pipes are socketpairs; bash with a socket on stdin thinks sshd started it and reads ~/.bashrc.
const quietStdin: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe']

/** What `sh -c SCRIPT` prints, split at NUL (the last field is the empty rest after the final NUL). */
const printed = (shell: string, script: string): string[] =>
  execFileSync(shell, ['-c', script], { env: {}, stdio: quietStdin }).toString('utf8').split('\0').slice(0, -1)

/**
 * Whether a line uses only plain POSIX quoting: bare characters (and, between words, spaces),
 * `'…'` spans, and `\'`. A `$` outside single quotes would be an expansion, or bash's `$'…'`,
 * which dash does not know.
 */
const isPosixQuoting = (line: string, { oneWord }: { oneWord: boolean }): boolean => {
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quoted) quoted = c !== "'"
    else if (c === "'") quoted = true
    else if (c === '\\' && line[i + 1] === "'") i++
    else if (!(oneWord ? /[A-Za-z0-9_@%+:,./=-]/ : /[A-Za-z0-9_@%+:,./= -]/).test(c)) return false
  }
  return !quoted
}

describe.each(shells)('quoting under %s', (shell) => {
  test.prop([fc.array(nastyStringArb, { minLength: 1, maxLength: 8 })], { numRuns: runs })(
    'quoted words come back exactly',
    (words) => {
      const byWord = `printf '%s\\0' ${words.map(quoteSh).join(' ')}`
      const byArgv = quoteShArgv(['printf', '%s\\0', ...words])
      expect(printed(shell, `${byWord}; ${byArgv}`)).toStrictEqual([...words, ...words])
    },
  )

  // Reserved words that pass the spec's agent rule (src/bottle-spec/validate.ts): as quoteShArgv's first
  // word they must stay a command name. With nothing on PATH, sh must say that command is missing.
  it('a first word that is a reserved word runs as a command', () => {
    const misread = ['time', 'if', 'case', 'while', 'select', 'function', 'done'].filter((word) => {
      const run = spawnSync(shell, ['-c', quoteShArgv([word, 'x'])], { env: { PATH: '/nonexistent' }, stdio: quietStdin })
      return !(run.status === 127 && run.stderr.toString().includes(`${word}: `))
    })
    expect(misread).toStrictEqual([])
  })

  it('a first word with "=" runs as a command, not an assignment', () => {
    // A command named `A=b` does not exist: sh says so (127) instead of setting A.
    const script = `${quoteShArgv(['A=b', 'x'])}; printf '%s' "$? \${A-unset}"`
    expect(execFileSync(shell, ['-c', script], { env: { PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toBe(
      '127 unset',
    )
  })
})

describe('quoting is POSIX only', () => {
  test.prop([nastyStringArb], { numRuns: runs })('quoteSh uses only bare words, single quotes and \\\'', (word) => {
    expect(isPosixQuoting(quoteSh(word), { oneWord: true })).toBe(true)
  })

  test.prop([fc.array(nastyStringArb, { minLength: 1, maxLength: 6 })], { numRuns: runs })(
    'quoteShArgv never writes bash\'s $\'…\'',
    // Spaces outside quotes only separate words, so the whole line follows the same grammar.
    (words) => {
      expect(isPosixQuoting(quoteShArgv(words), { oneWord: false })).toBe(true)
    },
  )

  it.each([['A=b'], ['PATH=/x'], ['=']])('the first word %j is quoted', (word) => {
    expect(quoteSh(word)).toBe(`'${word}'`)
    expect(quoteShArgv([word, 'x']).startsWith(`'${word}'`)).toBe(true)
  })
})
