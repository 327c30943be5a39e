/**
 * Errors as values. A CompileError is invalid input: one line, exit 2, nothing run.
 *
 *   compileError('env key "1X" must match [A-Za-z_][A-Za-z0-9_]*')
 *   // { _tag: 'CompileError', message: 'env key "1X" must match …' }
 *
 * Messages never carry a secret's value: callers pass names only.
 */

export interface CompileError {
  readonly _tag: 'CompileError'
  readonly message: string
}

export const compileError = (message: string): CompileError => ({
  _tag: 'CompileError',
  message: oneLine(message),
})

/** Control characters (a newline in a user's name, say) would split the one-line message. */
export const oneLine = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)

/** Shows user input inside a message: quoted, with control characters visible. */
export const show = (s: string): string => JSON.stringify(s)
