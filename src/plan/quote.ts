/**
 * The only place that joins words into a shell string: POSIX sh quoting, for dash as much as bash.
 *
 *   quoteSh("it's")                 // 'it'\''s'   (never bash's $'…', which dash rejects)
 *   quoteShArgv(['echo', 'a b'])    // echo 'a b'
 *
 * Round-trip tested: `sh -c 'printf "%s\0" ' + quoteShArgv(words)` prints `words` under dash and bash.
 */

// Words made only of these need no quotes. `=` is left out (a first word `A=b` would be an
// assignment), and so are `~` (tilde expansion), glob characters and everything else.
const bareWord = /^[A-Za-z0-9_@%+:,./-]+$/

/** Quotes one word so that sh reads it back as exactly that word. */
export const quoteSh = (word: string): string => {
  // A NUL cannot be in an argv element at all; input validation rejects it long before here.
  if (word.includes('\0')) throw new Error('quoteSh: a word cannot contain NUL')
  if (bareWord.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

// After the command word an `=` is an ordinary character: `-e HOME=/root` reads better bare.
const bareArgument = /^[A-Za-z0-9_@%+:,./=-]+$/

// Reserved words of POSIX sh and bash. As the first word of a command a bare `time` or `if` would
// be grammar, not a program name; quoted ('if') it is an ordinary command word again.
const reservedWords = new Set([
  'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in',
  'time', 'select', 'function', 'coproc', '!', '{', '}', '[[', ']]',
])

const quoteCommandWord = (word: string): string => (reservedWords.has(word) ? `'${word}'` : quoteSh(word))

/** Quotes a word that follows the command word. */
export const quoteShArgument = (w: string): string => (bareArgument.test(w) ? w : quoteSh(w))

/** Each word quoted as quoteShArgv would: the command word apart from its arguments. */
export const quoteShWords = (words: readonly string[]): string[] =>
  words.map((w, i) => (i === 0 ? quoteCommandWord(w) : quoteShArgument(w)))

/** Quotes each word and joins them with spaces: one simple command for `sh -c`. */
export const quoteShArgv = (words: readonly string[]): string => quoteShWords(words).join(' ')
