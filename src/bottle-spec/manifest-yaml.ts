/**
 * The YAML that a bottle manifest needs, and nothing more: block mappings and sequences, flow
 * `[a, b]` and `{ a: b }`, plain, 'single' and "double" quoted scalars, literal `|` and folded `>`
 * block scalars, comments, and one optional `---`. Plain scalars resolve as YAML 1.2's core schema
 * does (null, true/false, integers, floats, else a string), so a manifest means what any YAML tool
 * says it means. The rest of YAML is refused with its line and column: anchors and aliases (and so
 * no "billion laughs"), tags, directives, complex keys, several documents, tabs as indentation,
 * duplicate keys. Loading the full `yaml` package cost a fifth of bottle's start-up; this is a few
 * KiB.
 *
 *   parseYaml('a: [1, "x"]\n')  // right({ value: { a: [1, 'x'] }, numberText })
 *   parseYaml('a: &x 1\n')      // left({ line: 1, col: 4, message: 'anchors (&) are not supported' })
 *
 * Input is hostile (the agent in a bottle can write the manifest): the work is linear in the text,
 * and nesting deeper than `maxDepth` is refused rather than run into the stack's limit.
 */
import * as E from 'fp-ts/lib/Either.js'

export interface YamlError {
  readonly line: number
  readonly col: number
  readonly message: string
}

export interface YamlDoc {
  readonly value: unknown
  /** The text a number was written as (`1.10`, not 1.1), by its container and key. */
  readonly numberText: (container: object, key: string | number) => string | undefined
}

export const maxDepth = 64

class Refused extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message)
  }
}

// Core schema (YAML 1.2.2, 10.3.2): what a plain scalar resolves to.
const nullRe = /^(?:~|[Nn]ull|NULL)?$/
const boolRe = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/
const octRe = /^0o[0-7]+$/
const intRe = /^[-+]?[0-9]+$/
const hexRe = /^0x[0-9a-fA-F]+$/
const specialFloatRe = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/
const floatRe = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/

const resolvePlain = (s: string): unknown => {
  if (nullRe.test(s)) return null
  if (boolRe.test(s)) return s[0] === 't' || s[0] === 'T'
  if (octRe.test(s)) return parseInt(s.slice(2), 8)
  if (intRe.test(s)) return parseInt(s, 10)
  if (hexRe.test(s)) return parseInt(s.slice(2), 16)
  if (specialFloatRe.test(s)) return s.endsWith('nan') || s.endsWith('NaN') || s.endsWith('NAN') ? NaN : s.startsWith('-') ? -Infinity : Infinity
  if (floatRe.test(s)) return parseFloat(s)
  return s
}

// A mapping key becomes an object key the way YAML tools make it one: null is "", the rest String().
const keyText = (v: unknown): string => (v === null ? '' : String(v))

const escapes: Readonly<Record<string, string>> = {
  0: '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r',
  e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029',
}
const hexDigits: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 }

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t'
const isBreakOrEnd = (c: string | undefined): boolean => c === undefined || c === '\n' || c === '\r'
const isSpaceOrEnd = (c: string | undefined): boolean => isBlank(c) || isBreakOrEnd(c)
const isFlowIndicator = (c: string | undefined): boolean => c === ',' || c === '[' || c === ']' || c === '{' || c === '}'

/** One parse: the text, a cursor, and what numbers were written as. */
class Parser {
  private pos = 0
  private readonly numbers = new WeakMap<object, Map<string | number, string>>()

  constructor(private readonly src: string) {}

  // -- positions ----------------------------------------------------------------------------------

  private peek(ahead = 0): string | undefined {
    return this.src[this.pos + ahead]
  }

  private fail(message: string, at = this.pos): never {
    throw new Refused(at, message)
  }

  private column(at = this.pos): number {
    return at - (this.src.lastIndexOf('\n', at - 1) + 1)
  }

  lineCol(at: number): { line: number; col: number } {
    let line = 1
    for (let i = this.src.indexOf('\n'); i !== -1 && i < at; i = this.src.indexOf('\n', i + 1)) line++
    return { line, col: this.column(at) + 1 }
  }

  private skipBlanks(): void {
    while (isBlank(this.peek())) this.pos++
  }

  /** After a node on its line: blanks, then a comment or the line's end. */
  private endOfLine(): void {
    const before = this.pos
    this.skipBlanks()
    if (this.peek() === '#' && (this.pos > before || this.column() === 0)) this.skipComment()
    if (!isBreakOrEnd(this.peek())) this.fail(`unexpected ${describe(this.peek())} after a value`)
  }

  private skipComment(): void {
    while (!isBreakOrEnd(this.peek())) this.pos++
  }

  private skipBreak(): void {
    if (this.peek() === '\r') this.pos++
    if (this.peek() === '\n') this.pos++
  }

  /**
   * From the end of a line to the first character of the next line with content (blank and
   * comment-only lines skipped); its column, or -1 at the end of the text.
   */
  private nextContentLine(): number {
    if (this.pos >= this.src.length) return -1
    this.skipBreak()
    return this.lineScan()
  }

  /** From a line's start, as nextContentLine. Indentation is spaces: a tab before text is refused. */
  private lineScan(): number {
    for (;;) {
      const start = this.pos
      while (this.peek() === ' ') this.pos++
      if (this.peek() === '\t') {
        const tab = this.pos
        this.skipBlanks()
        if (!isBreakOrEnd(this.peek()) && this.peek() !== '#') this.fail('a tab in indentation (indent with spaces)', tab)
      }
      if (this.peek() === '#') this.skipComment()
      if (!isBreakOrEnd(this.peek())) return this.pos - start
      if (this.pos >= this.src.length) return -1
      this.skipBreak()
    }
  }

  // -- the document -------------------------------------------------------------------------------

  document(): YamlDoc {
    if (this.src.startsWith('\ufeff')) this.pos = 1
    let col = this.lineScan()
    if (col === 0 && this.peek() === '%') this.fail('YAML directives (%) are not supported')
    let value: unknown = null
    if (col === 0 && this.marker('---')) {
      this.pos += 3
      this.skipBlanks()
      if (!isBreakOrEnd(this.peek()) && this.peek() !== '#') this.fail('text on the --- line is not supported (start it on the next line)')
      this.endOfLine()
      col = this.nextContentLine()
    }
    if (col >= 0 && !this.atDocumentMarker(col)) {
      value = this.blockNode(col, -1, 0)
      col = this.nextContentLine()
    }
    if (col === 0 && this.marker('...')) {
      this.pos += 3
      this.endOfLine()
      col = this.nextContentLine()
    }
    if (col === 0 && this.marker('---')) this.fail('several documents in one file are not supported')
    if (col >= 0) this.fail(col === 0 ? 'unexpected text after the document\'s value' : 'bad indentation: this line is indented more than the block it is in')
    return { value, numberText: (container, key) => this.numbers.get(container)?.get(key) }
  }

  private atDocumentMarker(col: number): boolean {
    return col === 0 && (this.marker('---') || this.marker('...'))
  }

  private marker(m: '---' | '...'): boolean {
    return this.src.startsWith(m, this.pos) && isSpaceOrEnd(this.peek(3))
  }

  // -- block nodes --------------------------------------------------------------------------------

  /**
   * A node whose first character is under the cursor, at column `col`, inside a block collection
   * at `parent` (-1 at the top). A sequence entry, a key, or else a value that ends on this line
   * (or, for a block scalar, on the lines indented under it).
   */
  private blockNode(col: number, parent: number, depth: number): unknown {
    if (depth > maxDepth) this.fail(`nested more than ${maxDepth} levels deep`)
    if (this.peek() === '-' && isSpaceOrEnd(this.peek(1))) return this.blockSequence(col, depth)
    if (this.atKey()) return this.blockMapping(col, depth)
    return this.inlineValue(parent, depth)
  }

  private blockSequence(col: number, depth: number): unknown[] {
    const out: unknown[] = []
    for (;;) {
      this.pos++ // the '-'
      out.push(this.entryValue(col, depth, out.length, out))
      const next = this.nextContentLine()
      if (next !== col || this.atDocumentMarker(next) || !(this.peek() === '-' && isSpaceOrEnd(this.peek(1)))) {
        if (next > col) this.fail('bad indentation: this line is indented more than the sequence it follows')
        this.backToLineStart()
        return out
      }
    }
  }

  /** What follows a `- `: on the same line, or on the lines indented under it, or null. */
  private entryValue(col: number, depth: number, key: number, container: object): unknown {
    if (this.peek() === '\t' || (this.peek() === ' ' && this.restHasTabBeforeContent())) this.fail('a tab after "-" (use spaces)')
    this.skipBlanks()
    if (this.peek() === '#' || isBreakOrEnd(this.peek())) {
      this.endOfLine()
      const next = this.nextContentLine()
      if (next > col) return this.remember(container, key, this.blockNode(next, col, depth + 1))
      this.backToLineStart()
      return null
    }
    return this.remember(container, key, this.blockNode(this.column(), col, depth + 1))
  }

  private restHasTabBeforeContent(): boolean {
    for (let i = this.pos; ; i++) {
      const c = this.src[i]
      if (c === '\t') return true
      if (c !== ' ') return false
    }
  }

  private blockMapping(col: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const seen = new Set<string>()
    for (;;) {
      const at = this.pos
      const key = keyText(this.scalarKey())
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, at)
      seen.add(key)
      this.pos++ // the ':'
      define(out, key, this.mappingValue(col, depth, key, out))
      const next = this.nextContentLine()
      if (next !== col || this.atDocumentMarker(next)) {
        if (next > col) this.fail('bad indentation: this line is indented more than the mapping it follows')
        this.backToLineStart()
        return out
      }
      if (this.peek() === '-' && isSpaceOrEnd(this.peek(1))) this.fail('a sequence entry where a key was expected')
      if (!this.atKey()) this.fail('expected a key (key: value) in this mapping')
    }
  }

  /** What follows `key:`: a value on the same line, or a block on the lines after (a sequence may sit at the key's column). */
  private mappingValue(col: number, depth: number, key: string, container: object): unknown {
    this.skipBlanks()
    if (this.peek() === '#' || isBreakOrEnd(this.peek())) {
      this.endOfLine()
      const next = this.nextContentLine()
      if (next > col || (next === col && this.peek() === '-' && isSpaceOrEnd(this.peek(1))))
        return this.remember(container, key, this.blockNode(next, col, depth + 1))
      this.backToLineStart()
      return null
    }
    if (this.peek() === '-' && isSpaceOrEnd(this.peek(1))) this.fail('a sequence cannot start on the line of its key (put it on the next line)')
    if (this.atKey()) this.fail('a mapping cannot start on the line of its key (put it on the next line, or write { … })')
    return this.remember(container, key, this.inlineValue(col, depth + 1))
  }

  /** Back to the end of the previous line, so the enclosing block reads this line itself. */
  private backToLineStart(): void {
    if (this.pos >= this.src.length) return
    this.pos = this.src.lastIndexOf('\n', this.pos - 1)
    if (this.pos > 0 && this.src[this.pos - 1] === '\r') this.pos--
  }

  /** Whether a block key (`key:` then a space or the line's end) starts under the cursor. */
  private atKey(): boolean {
    const save = this.pos
    try {
      this.scalarKey()
      return true
    } catch (e) {
      if (e instanceof Refused) return false
      throw e
    } finally {
      this.pos = save
    }
  }

  /** A block mapping key: a plain or quoted scalar on one line, then ':' (left under the cursor). */
  private scalarKey(): unknown {
    const c = this.peek()
    if (c === '[' || c === '{') this.fail('not a key')
    this.refuseProperties()
    const line = this.src.indexOf('\n', this.pos)
    const key = c === '"' || c === "'" ? this.quoted(-1) : this.plain(false, null)
    if (line !== -1 && this.pos > line) this.fail('a key must be on one line')
    this.skipBlanks()
    if (this.peek() !== ':' || !isSpaceOrEnd(this.peek(1))) this.fail('expected ":" after a key')
    return key
  }

  /** A value that is not a block collection: a flow collection, a quoted or plain scalar, a block scalar. */
  private inlineValue(parent: number, depth: number): unknown {
    const c = this.peek()
    if (c === '[' || c === '{') {
      const v = this.flowCollection(parent, depth)
      this.endOfLine()
      return v
    }
    if (c === '|' || c === '>') return this.blockScalar(parent)
    this.refuseProperties()
    if (c === '"' || c === "'") {
      const v = this.quoted(parent)
      this.endOfLine()
      return v
    }
    const v = this.plain(false, parent)
    this.endOfLine()
    return v
  }

  private refuseProperties(): void {
    const c = this.peek()
    if (c === '?' && isSpaceOrEnd(this.peek(1))) this.fail('complex keys (?) are not supported')
    if (c === '&') this.fail('anchors (&) are not supported')
    if (c === '*') this.fail('aliases (*) are not supported')
    if (c === '!') this.fail('tags (!) are not supported')
    if (c === '@' || c === '`') this.fail(`a plain value cannot start with ${c} (quote it)`)
    if (c === '%') this.fail('a plain value cannot start with % (quote it)')
  }

  // -- scalars ------------------------------------------------------------------------------------

  /**
   * A plain scalar; in flow context it also ends at , [ ] { }. A value (not a key) may go on over
   * the lines indented more than `parent`, folded: a line break is a space, an empty line a break.
   */
  private plain(inFlow: boolean, parent: number | null): unknown {
    const c = this.peek()
    if (c === undefined || isSpaceOrEnd(c) || c === '#' || (inFlow && isFlowIndicator(c))) this.fail('expected a value')
    if ((c === '-' || c === '?' || c === ':') && (isSpaceOrEnd(this.peek(1)) || (inFlow && isFlowIndicator(this.peek(1)))))
      this.fail(`a plain value cannot start with "${c} " (quote it)`)
    if (!inFlow && isFlowIndicator(c)) this.fail(`a plain value cannot start with ${c} (quote it)`)
    let text = this.plainLine(inFlow)
    while (parent !== null) {
      const save = this.pos
      this.skipBlanks()
      if (this.pos >= this.src.length || !isBreakOrEnd(this.peek())) {
        this.pos = save
        break
      }
      let breaks = 0
      let indent = 0
      do {
        this.skipBreak()
        breaks++
        const start = this.pos
        while (this.peek() === ' ') this.pos++
        indent = this.pos - start
        this.skipBlanks()
      } while (this.pos < this.src.length && isBreakOrEnd(this.peek()))
      const next = this.peek()
      const continues =
        next !== undefined &&
        indent > parent &&
        next !== '#' &&
        !(inFlow && isFlowIndicator(next)) &&
        !(next === ':' && (isSpaceOrEnd(this.peek(1)) || (inFlow && isFlowIndicator(this.peek(1))))) &&
        !(indent === 0 && (this.marker('---') || this.marker('...')))
      if (!continues) {
        this.pos = save
        break
      }
      text += (breaks === 1 ? ' ' : '\n'.repeat(breaks - 1)) + this.plainLine(inFlow)
    }
    this.lastPlain = text
    return resolvePlain(text)
  }

  /** One line's part of a plain scalar, without its trailing blanks (the cursor stops after it). */
  private plainLine(inFlow: boolean): string {
    const start = this.pos
    let end = this.pos
    for (;;) {
      const ch = this.peek()
      if (isBreakOrEnd(ch)) break
      if (ch === ':' && (isSpaceOrEnd(this.peek(1)) || (inFlow && isFlowIndicator(this.peek(1))))) break
      if (ch === '#' && isBlank(this.src[this.pos - 1])) break
      if (inFlow && isFlowIndicator(ch)) break
      this.pos++
      if (!isBlank(ch)) end = this.pos
    }
    this.pos = end
    return this.src.slice(start, end)
  }

  /** The source of the last plain scalar read (for numbers' text). */
  private lastPlain: string | null = null

  private remember(container: object, key: string | number, v: unknown): unknown {
    if (typeof v === 'number' && this.lastPlain !== null) {
      let m = this.numbers.get(container)
      if (m === undefined) this.numbers.set(container, (m = new Map()))
      m.set(key, this.lastPlain)
    }
    return v
  }

  /**
   * A 'single' or "double" quoted scalar; it may run over lines (folded: a line break is a space,
   * an empty line a line break). Continuation lines must be indented more than `parent`.
   */
  private quoted(parent: number): string {
    const open = this.pos
    const q = this.peek() as '"' | "'"
    this.pos++
    let out = ''
    for (;;) {
      const c = this.peek()
      if (c === undefined) this.fail(`an unterminated ${q === '"' ? 'double' : 'single'}-quoted string`, open)
      if (c === q) {
        if (q === "'" && this.peek(1) === "'") {
          out += "'"
          this.pos += 2
          continue
        }
        this.pos++
        return out
      }
      if (c === '\n' || c === '\r') {
        out = out.replace(/[ \t]+$/, '') + folded(this.lineBreaks(parent, open, q))
        continue
      }
      if (q === '"' && c === '\\') {
        const e = this.peek(1)
        if (e === '\n' || e === '\r') {
          // An escaped line break vanishes with the next line's indentation; empty lines after it
          // fold as they would after text (as the yaml package reads them).
          this.pos++
          out += folded(this.lineBreaks(parent, open, q) - 1)
          continue
        }
        const width = e === undefined ? undefined : hexDigits[e]
        if (width !== undefined) {
          const hex = this.src.slice(this.pos + 2, this.pos + 2 + width)
          if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) this.fail(`a bad escape \\${e} (it takes ${width} hex digits)`)
          const code = parseInt(hex, 16)
          if (code > 0x10ffff) this.fail(`a bad escape \\${e}${hex} (not a code point)`)
          out += String.fromCodePoint(code)
          this.pos += 2 + width
          continue
        }
        const ch = e === undefined ? undefined : escapes[e]
        if (ch === undefined) this.fail(`an unknown escape \\${e === undefined ? '' : describeChar(e)} in a double-quoted string`)
        out += ch
        this.pos += 2
        continue
      }
      out += c
      this.pos++
    }
  }

  /** At a line break inside a quoted scalar: consumes the breaks and indentation; how many breaks. */
  private lineBreaks(parent: number, open: number, q: string): number {
    let breaks = 0
    for (;;) {
      this.skipBreak()
      breaks++
      const start = this.pos
      this.skipBlanks()
      if (this.pos >= this.src.length) this.fail(`an unterminated ${q === '"' ? 'double' : 'single'}-quoted string`, open)
      if (isBreakOrEnd(this.peek())) continue
      if (this.column(start) === 0 && (this.marker('---') || this.marker('...'))) this.fail('a document marker inside a quoted string', this.pos)
      let indent = 0
      while (this.src[start + indent] === ' ') indent++
      if (indent <= parent) this.fail(`an unterminated ${q === '"' ? 'double' : 'single'}-quoted string (or its next line is not indented more than its block)`, open)
      return breaks
    }
  }

  /** `|` or `>` with an optional indentation digit and chomping (`-`, `+`), then the lines under it. */
  private blockScalar(parent: number): string {
    const folded = this.peek() === '>'
    this.pos++
    let chomp: 'clip' | 'strip' | 'keep' = 'clip'
    let explicit = 0
    for (let i = 0; i < 2; i++) {
      const c = this.peek()
      if ((c === '-' || c === '+') && chomp === 'clip') {
        chomp = c === '-' ? 'strip' : 'keep'
        this.pos++
      } else if (c !== undefined && c >= '1' && c <= '9' && explicit === 0) {
        explicit = Number(c)
        this.pos++
      }
    }
    if (!isSpaceOrEnd(this.peek())) this.fail(`unexpected ${describe(this.peek())} in a block scalar header`)
    this.endOfLine()
    // The content lines: their indentation is given, or that of the first line with text.
    const lines: string[] = []
    let indent = explicit > 0 ? Math.max(parent, 0) + explicit : -1
    let leadingEmpty = 0
    while (this.pos < this.src.length) {
      const lineStart = this.pos + (this.peek() === '\r' ? 2 : 1)
      if (lineStart >= this.src.length) break
      let eol = this.src.indexOf('\n', lineStart)
      if (eol === -1) eol = this.src.length
      const raw = this.src.slice(lineStart, eol).replace(/\r$/, '')
      let spaces = 0
      while (raw[spaces] === ' ') spaces++
      if (spaces < raw.length) {
        if (indent < 0) {
          if (spaces <= parent) break
          if (spaces < leadingEmpty) this.fail('a leading empty line is indented more than the block scalar\'s text (give an indentation digit)', lineStart)
          indent = spaces
        }
        if (spaces < indent) break
        lines.push(raw.slice(indent))
      } else if (indent < 0) {
        leadingEmpty = Math.max(leadingEmpty, spaces)
        lines.push('')
      } else lines.push(raw.slice(indent))
      this.pos = eol
    }
    // Trailing empty lines belong to the chomping, not the text.
    let last = lines.length
    while (last > 0 && lines[last - 1] === '') last--
    const body = lines.slice(0, last)
    const trailing = lines.length - last
    const text = folded ? foldLines(body) : body.join('\n')
    if (body.length === 0) return chomp === 'keep' ? '\n'.repeat(trailing) : ''
    return text + (chomp === 'strip' ? '' : chomp === 'clip' ? '\n' : '\n'.repeat(trailing + 1))
  }

  // -- flow collections ---------------------------------------------------------------------------

  /** `[ … ]` or `{ … }`, possibly over several lines, each indented more than `parent`. */
  private flowCollection(parent: number, depth: number): unknown {
    if (depth > maxDepth) this.fail(`nested more than ${maxDepth} levels deep`)
    const open = this.pos
    const isMap = this.peek() === '{'
    const close = isMap ? '}' : ']'
    this.pos++
    const seq: unknown[] = []
    const map: Record<string, unknown> = {}
    const seen = new Set<string>()
    for (;;) {
      this.flowSpace(parent, open)
      if (this.peek() === close) {
        this.pos++
        return isMap ? map : seq
      }
      const at = this.pos
      const item = this.flowItem(parent, depth)
      this.flowSpace(parent, open)
      if (isMap) {
        let value: unknown = null
        if (this.peek() === ':') {
          this.pos++
          this.flowSpace(parent, open)
          value = this.peek() === ',' || this.peek() === '}' ? null : this.flowItem(parent, depth).value
          this.flowSpace(parent, open)
        }
        const key = keyText(item.value)
        if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, at)
        seen.add(key)
        define(map, key, this.remember(map, key, value))
      } else {
        if (this.peek() === ':') this.fail('a key: value pair inside [ ] is not supported (write { key: value })')
        seq.push(this.remember(seq, seq.length, item.value))
      }
      if (this.peek() === ',') this.pos++
      else if (this.peek() !== close) this.fail(this.peek() === undefined ? `an unterminated ${isMap ? '{' : '['}` : `expected "," or "${close}", not ${describe(this.peek())}`, this.peek() === undefined ? open : this.pos)
    }
  }

  private flowItem(parent: number, depth: number): { value: unknown } {
    const c = this.peek()
    if (c === '[' || c === '{') return { value: this.flowCollection(parent, depth + 1) }
    this.refuseProperties()
    if (c === '"' || c === "'") {
      this.lastPlain = null
      return { value: this.quoted(parent) }
    }
    return { value: this.plain(true, parent) }
  }

  /** Blanks, comments and line breaks inside a flow collection. */
  private flowSpace(parent: number, open: number): void {
    for (;;) {
      const before = this.pos
      this.skipBlanks()
      const c = this.peek()
      if (c === '#') {
        if (this.pos === before && !isBreakOrEnd(this.src[this.pos - 1])) this.fail('a comment must be separated by a space')
        this.skipComment()
      } else if (c === '\n' || c === '\r') {
        this.skipBreak()
        let spaces = 0
        while (this.peek() === ' ') {
          this.pos++
          spaces++
        }
        // Content is indented more than its block; a closing bracket may sit at the block's column.
        const c = this.peek()
        if (!isSpaceOrEnd(c) && c !== '#' && (c === ']' || c === '}' ? spaces < parent : spaces <= parent))
          this.fail('bad indentation: a [ ] or { } continued on a line must be indented more than its block')
        if (spaces === 0 && (this.marker('---') || this.marker('...'))) this.fail(`an unterminated ${this.src[open]}`, open)
      } else return
    }
  }
}

/** What `breaks` line breaks in a quoted scalar fold to: one is a space, each more a line break. */
const folded = (breaks: number): string => (breaks === 0 ? '' : breaks === 1 ? ' ' : '\n'.repeat(breaks - 1))

/** Folded block scalar lines (YAML 1.2.2, 8.1.3): a break between two text lines is a space. */
const foldLines = (lines: readonly string[]): string => {
  let out = ''
  let prevText: string | null = null
  let empties = 0
  for (const line of lines) {
    if (line === '') {
      empties++
      continue
    }
    if (prevText === null) out += '\n'.repeat(empties)
    else {
      const keep = isBlank(prevText[0]) || isBlank(line[0])
      out += keep ? '\n'.repeat(empties + 1) : empties > 0 ? '\n'.repeat(empties) : ' '
    }
    out += line
    prevText = line
    empties = 0
  }
  return out
}

// A key that is also an Object.prototype name (`__proto__`) stays an own key.
const define = (o: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}

const describeChar = (c: string): string => (/^[\x21-\x7e]$/.test(c) ? c : `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`)

const describe = (c: string | undefined): string => (c === undefined ? 'end of text' : `"${describeChar(c)}"`)

/** Parses the manifest's YAML subset; an error has the 1-based line and column of its cause. */
export const parseYaml = (text: string): E.Either<YamlError, YamlDoc> => {
  const p = new Parser(text)
  try {
    return E.right(p.document())
  } catch (e) {
    if (!(e instanceof Refused)) throw e
    return E.left({ ...p.lineCol(e.at), message: e.message })
  }
}
