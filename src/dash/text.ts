/**
 * Text the dashboard draws: made safe, measured in terminal columns, and cut to fit.
 *
 *   safeText('web\x1b]0;pwned\x07')   // 'web'   (an OSC title sequence, gone)
 *   columns('名前')                    // 4       (East Asian wide: two columns each)
 *   fit('日本語の名前', 7)             // '日本語…'
 *
 * Names, images and states come from the engine's listing, and whoever made the container chose
 * them: an escape sequence in one would move the cursor, retitle the terminal or worse. Every
 * such string goes through safeText before it reaches the screen.
 */

// -------------------------------------------------------------------------------------------------
// control characters and escape sequences
// -------------------------------------------------------------------------------------------------

/**
 * ESC sequences (CSI `ESC [ … final`, OSC/DCS/SOS/PM/APC strings up to BEL or ST, two-byte ones),
 * their 8-bit C1 forms (U+009B CSI, U+009D OSC, …), then any C0 or C1 control left, DEL, and the
 * bidi controls that reorder what is drawn after them.
 */
const sequences = new RegExp(
  [
    '\\x1b\\[[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?', // CSI
    '\\x1b[\\]PX^_][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?', // OSC, DCS, SOS, PM, APC
    '\\x9b[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?', // 8-bit CSI
    '[\\x9d\\x90\\x98\\x9e\\x9f][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?', // 8-bit strings
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?', // any other ESC sequence
    '[\\x00-\\x1f\\x7f-\\x9f]', // any control left
    '[\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]', // bidi overrides and isolates
  ].join('|'),
  'g',
)

/** The string with every control character and escape sequence removed: what is left only prints. */
export const safeText = (s: string): string => s.replace(sequences, '')

// -------------------------------------------------------------------------------------------------
// width
// -------------------------------------------------------------------------------------------------

/** [first, last] code point ranges that terminals draw two columns wide (East Asian Wide/Fullwidth, emoji). */
const wide: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0], [0x23f3, 0x23f3],
  [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea],
  [0x26f2, 0x26f3], [0x26f5, 0x26f5], [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55],
  [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f],
  [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4], [0x17000, 0x18cff], [0x1b000, 0x1b2ff], [0x1f004, 0x1f004], [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e], [0x1f191, 0x1f19a], [0x1f200, 0x1f202], [0x1f210, 0x1f23b], [0x1f240, 0x1f248],
  [0x1f250, 0x1f251], [0x1f260, 0x1f265], [0x1f300, 0x1f64f], [0x1f680, 0x1f6ff], [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff], [0x1fa70, 0x1faff], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
]

/** Zero columns: combining marks, variation selectors, zero-width joiners and spaces. */
const zero = /^[\p{Mn}\p{Me}\u200b-\u200d\u2060\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u

const inRanges = (cp: number): boolean => {
  let lo = 0
  let hi = wide.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const [a, b] = wide[mid] as readonly [number, number]
    if (cp < a) hi = mid - 1
    else if (cp > b) lo = mid + 1
    else return true
  }
  return false
}

/** The columns one code point takes (after safeText: no controls). */
export const charColumns = (ch: string): number => {
  if (zero.test(ch)) return 0
  return inRanges(ch.codePointAt(0) ?? 0) ? 2 : 1
}

/** The columns a string takes on a terminal. */
export const columns = (s: string): number => {
  let n = 0
  for (const ch of s) n += charColumns(ch)
  return n
}

/** At most `width` columns of `s`: cut with `…` when it is longer (a wide char never half drawn). */
export const fit = (s: string, width: number): string => {
  if (width <= 0) return ''
  if (columns(s) <= width) return s
  let out = ''
  let used = 0
  for (const ch of s) {
    const w = charColumns(ch)
    if (used + w > width - 1) break
    out += ch
    used += w
  }
  return `${out}…`
}

/** `s` cut or padded with spaces to exactly `width` columns. */
export const pad = (s: string, width: number): string => {
  const f = fit(s, width)
  return f + ' '.repeat(Math.max(0, width - columns(f)))
}
