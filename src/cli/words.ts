/**
 * argv words → option and positional tokens, exactly as node's `util.parseArgs({ strict: false,
 * allowPositionals: true, tokens: true })` splits them (Node.js docs, "util.parseArgs": long
 * options with `=` or the next word as value, short options alone, with their value attached, or
 * in groups; everything after `--` positional). Not parseArgs itself because loading it is over a
 * millisecond of every start-up on this project's build machine; tests/cli/words.test.ts holds
 * the two to the same tokens for generated words. What each token means is request.ts's business.
 *
 *   tokenize(['-qb', 'docker', '--env=A=1', '--', '-p'], options)
 *   // [{ kind: 'option', name: 'quiet', rawName: '-q', value: undefined },
 *   //  { kind: 'option', name: 'backend', rawName: '-b', value: 'docker' },
 *   //  { kind: 'option', name: 'env', rawName: '--env', value: 'A=1' },
 *   //  { kind: 'option-terminator' }, { kind: 'positional', value: '-p' }]
 */

export type Token =
  /** `value` is undefined for a switch, and for an option that takes a value but came last. */
  | { readonly kind: 'option'; readonly name: string; readonly rawName: string; readonly value: string | undefined }
  | { readonly kind: 'positional'; readonly value: string }
  | { readonly kind: 'option-terminator' }

/** The options the words are read against: parseArgs' `options` (a string option takes a value). */
export type OptionKinds = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>

export const tokenize = (words: readonly string[], options: OptionKinds): Token[] => {
  // Own properties only, as parseArgs reads them: a word like `--constructor` is no option's.
  const takesValue = (name: string): boolean => Object.hasOwn(options, name) && options[name]?.type === 'string'
  const longOf = (short: string): string => Object.keys(options).find((name) => options[name]?.short === short) ?? short
  const tokens: Token[] = []
  // A group of short options (-qy) is put back as its separate words (-q -y) and read again.
  const rest = [...words]
  for (let word = rest.shift(); word !== undefined; word = rest.shift()) {
    if (word === '--') {
      tokens.push({ kind: 'option-terminator' }, ...rest.map((value) => ({ kind: 'positional' as const, value })))
      break
    }
    // Characters as parseArgs counts them: UTF-16 code units (String.prototype.charAt).
    const short = word.length >= 2 && word.charAt(0) === '-' && word.charAt(1) !== '-' ? word.charAt(1) : null
    if (short !== null) {
      const name = longOf(short)
      if (word.length === 2) tokens.push({ kind: 'option', name, rawName: word, value: takesValue(name) ? rest.shift() : undefined })
      else if (takesValue(name)) tokens.push({ kind: 'option', name, rawName: `-${short}`, value: word.slice(2) })
      else rest.unshift(...shortGroup(word, takesValue, longOf))
      continue
    }
    if (word.length > 2 && word.startsWith('--')) {
      if (!word.includes('=', 3)) {
        const name = word.slice(2)
        tokens.push({ kind: 'option', name, rawName: word, value: takesValue(name) ? rest.shift() : undefined })
      } else {
        // parseArgs looks for an = from the third character on, then splits at the first one:
        // `--==` is the option named '' with the value '='.
        const equals = word.indexOf('=')
        const name = word.slice(2, equals)
        tokens.push({ kind: 'option', name, rawName: `--${name}`, value: word.slice(equals + 1) })
      }
      continue
    }
    tokens.push({ kind: 'positional', value: word })
  }
  return tokens
}

/** -qyb → -q -y -b; a short option that takes a value ends the group with the rest as its value (-qbdocker → -q -bdocker). */
const shortGroup = (word: string, takesValue: (name: string) => boolean, longOf: (short: string) => string): string[] => {
  const words: string[] = []
  for (let i = 1; i < word.length; i++) {
    const short = word.charAt(i)
    if (takesValue(longOf(short)) && i < word.length - 1) {
      words.push(`-${word.slice(i)}`)
      break
    }
    words.push(`-${short}`)
  }
  return words
}
