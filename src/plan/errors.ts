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

/**
 * Control characters (a newline in a user's name, say) would split the one-line message, or drive
 * the terminal it is shown on: C0 and DEL, the C1 controls (U+009B is a one-byte CSI, U+0085 a
 * next-line), and the Unicode line and paragraph separators. Each is shown as an escape.
 */
export const oneLine = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0)
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`
  })

/**
 * Shows user input inside a message: quoted, with control characters visible (JSON escapes C0;
 * oneLine the C1 controls and line separators JSON leaves as they are).
 */
export const show = (s: string): string => oneLine(JSON.stringify(s))
