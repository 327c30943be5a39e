/**
 * argv → what the user asked for: a Request, help, the version, or one line saying why the
 * argv is invalid. Pure: it reads nothing but argv, and the ops table (ops.ts) is its only
 * grammar. words.ts splits the words as node:util's parseArgs would (`--flag=value`, `-bdocker`,
 * short groups, `--`); this module decides what each word means, so that every refusal is bottle's
 * own line.
 *
 *   parseRequest(['plan', 'agent', 'demo', '-b', 'docker', '--', '-p', 'hi'])
 *   // { _tag: 'request', request: { mode: 'plan', op: 'agent', positional: ['demo', '-p', 'hi'], flags: { backend: 'docker', … } } }
 *   parseRequest(['run', 'ls', '--workdir', '.'])
 *   // { _tag: 'invalid', message: "unknown option '--workdir': run ls does not take it (bottle run ls --help)" }
 */
import { oneLine, show } from '../plan/errors.js'
import type { OpName } from '../plan/types.js'
import { type OptionKinds, tokenize } from './words.js'
import { type FlagDoc, type FlagName, type Mode, argsUsage, flagDocs, flagsOf, isOpName, modes, opList, ops } from './ops.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** allow-root → allowRoot: a flag's field in Flags. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S
/** A flag with a value gives a string (every one given, for a repeatable flag); a switch a boolean. */
type ValueOf<D> = D extends { readonly value: string } ? (D extends { readonly multiple: true } ? string[] : string) : boolean

/**
 * The flags given, one field per flag of the table (absent when not given), and the defaults of
 * the repeatable flags and of --format and --pane.
 */
export type Flags = { -readonly [K in FlagName as Camel<K>]?: ValueOf<(typeof flagDocs)[K]> } & {
  env: string[]
  secret: string[]
  format: string
  pane: string
}

export interface Request {
  readonly mode: Mode
  readonly op: OpName
  /** The operation's arguments in order: the bottle's name first, then the rest (the agent's own after `--`). */
  readonly positional: readonly string[]
  readonly flags: Flags
}

/** What help to print: bottle's own, a mode's (its operations), or one operation's. */
export type HelpTopic =
  | { readonly _tag: 'bottle' }
  | { readonly _tag: 'mode'; readonly mode: Mode }
  /** `ls`: `bottle ls`, the same as `bottle run ls`. */
  | { readonly _tag: 'op'; readonly mode: Mode; readonly op: OpName; readonly ls?: true }

export type Parsed =
  | { readonly _tag: 'request'; readonly request: Request }
  | { readonly _tag: 'help'; readonly topic: HelpTopic }
  | { readonly _tag: 'version' }
  /** `bottle run --plan FILE [-q]`: a saved plan, run as it is (src/saved-plan.ts). */
  | { readonly _tag: 'savedPlan'; readonly file: string; readonly quiet: boolean }
  /** `bottle dash [-b BACKEND] [-f FILE]`: the dashboard (src/dash.ts, its own bundle) reads its own words. */
  | { readonly _tag: 'dash'; readonly words: readonly string[] }
  /** One line, without the `bottle: ` prefix; exit 2, nothing run. */
  | { readonly _tag: 'invalid'; readonly message: string }

const invalid = (message: string): Parsed => ({ _tag: 'invalid', message: oneLine(message) })
const help = (topic: HelpTopic): Parsed => ({ _tag: 'help', topic })

/** A word the user typed, quoted as commander did ('--bogus') and made one line. */
const typed = (s: string): string => `'${oneLine(s)}'`

const isHelpWord = (s: string | undefined): boolean => s === '--help' || s === '-h'
const isMode = (s: string | undefined): s is Mode => (modes as readonly (string | undefined)[]).includes(s)

// -------------------------------------------------------------------------------------------------
// bottle, bottle plan, bottle run
// -------------------------------------------------------------------------------------------------

/** argv without node and the script: `process.argv.slice(2)`. */
export const parseRequest = (argv: readonly string[]): Parsed => {
  const [first, ...rest] = argv
  if (first === undefined) return invalid('say plan or run, then an operation (bottle --help)')
  if (isHelpWord(first)) return help({ _tag: 'bottle' })
  if (first === '--version' || first === '-V') return { _tag: 'version' }
  if (first === 'help') return helpCommand(rest)
  // `bottle ls` is `bottle run ls`: listing is read-only, so there is nothing to preview first.
  if (first === 'ls') return parseOp('run', 'ls', rest, true)
  if (first === 'dash') return { _tag: 'dash', words: rest }
  if (isMode(first)) return parseMode(first, rest)
  if (isOpName(first)) return invalid(`say plan or run before ${show(first)}: bottle plan ${first} …, bottle run ${first} … (bottle --help)`)
  if (first.startsWith('-')) return invalid(`unknown option ${typed(first)}: say plan or run, then an operation (bottle --help)`)
  return invalid(`unknown command ${show(first)}: say plan or run, then an operation (bottle --help)`)
}

/** `bottle help`, `bottle help run`, `bottle help run exec`, `bottle help ls`. */
const helpCommand = (words: readonly string[]): Parsed => {
  const [mode, op] = words
  if (mode === undefined) return help({ _tag: 'bottle' })
  if (mode === 'ls') return help({ _tag: 'op', mode: 'run', op: 'ls', ls: true })
  if (!isMode(mode)) return invalid(`unknown command ${show(mode)}: say plan or run (bottle --help)`)
  if (op === undefined) return help({ _tag: 'mode', mode })
  return isOpName(op) ? help({ _tag: 'op', mode, op }) : unknownOp(mode, op)
}

const unknownOp = (mode: Mode, op: string): Parsed =>
  invalid(`unknown operation ${show(op)}: choose one of ${opList.join(', ')} (bottle ${mode} --help)`)

const parseMode = (mode: Mode, words: readonly string[]): Parsed => {
  const [op, ...rest] = words
  if (op === undefined) return invalid(`say which operation to ${mode}: ${opList.join(', ')} (bottle ${mode} --help)`)
  if (isHelpWord(op)) return help({ _tag: 'mode', mode })
  // `bottle run help exec`; after an operation, `help` is a bottle's name.
  if (op === 'help') {
    const [about] = rest
    return about === undefined ? help({ _tag: 'mode', mode }) : isOpName(about) ? help({ _tag: 'op', mode, op: about }) : unknownOp(mode, about)
  }
  if (isOpName(op)) return parseOp(mode, op, rest, false)
  if (mode === 'run' && (op === '--plan' || op.startsWith('--plan='))) return parseSavedPlan(words)
  if (op.startsWith('-')) return invalid(`unknown option ${typed(op)}: say which operation to ${mode} first (bottle ${mode} --help)`)
  return unknownOp(mode, op)
}

// -------------------------------------------------------------------------------------------------
// one operation
// -------------------------------------------------------------------------------------------------

/**
 * What the words are read against: every flag of the table, whichever operation this is, so that
 * a value is taken as the value of its flag even where the flag is then refused (`ls --workdir .`
 * is one unknown option, not also a stray argument). `--no-tty` is a switch of its own.
 */
export const optionKinds: OptionKinds = Object.fromEntries([
  ...Object.entries(flagDocs as Record<string, FlagDoc>).flatMap(([name, d]) => [
    [name, { type: d.value === undefined ? 'boolean' : 'string', ...(d.short === undefined ? {} : { short: d.short }) }],
    ...(d.negatable === true ? [[`no-${name}`, { type: 'boolean' }]] : []),
  ]),
  ['help', { type: 'boolean', short: 'h' }],
])

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

const isFlagName = (s: string): s is FlagName => Object.hasOwn(flagDocs, s)

/** What the words after the operation (or after `run`, for --plan) say: flag values and positionals. */
type Words = { readonly _tag: 'words'; readonly values: Record<string, string | boolean | string[]>; readonly positional: string[] }

/**
 * Every token is checked against the flags `taken`, in order, so that each refusal is one line of
 * bottle's own. `where` names the command in messages (`run exec`).
 */
const readWords = (words: readonly string[], taken: ReadonlySet<string>, where: string, onHelp: () => Parsed): Words | Parsed => {
  const tokens = tokenize(words, optionKinds)
  // Help wins over every other word before `--`, as `git` and commander have it.
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return onHelp()
  const values: Record<string, string | boolean | string[]> = {}
  const positional: string[] = []
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue
    if (t.kind === 'positional') {
      positional.push(t.value)
      continue
    }
    const negated = t.name.startsWith('no-') ? t.name.slice(3) : null
    const name = negated !== null && isFlagName(negated) && (flagDocs[negated] as FlagDoc).negatable === true ? negated : t.name
    if (!isFlagName(name)) return invalid(`unknown option ${typed(t.rawName)} (bottle ${where} --help)`)
    if (!taken.has(name)) return invalid(`unknown option ${typed(t.rawName)}: ${where} does not take it (bottle ${where} --help)`)
    const doc: FlagDoc = flagDocs[name]
    if (doc.value === undefined) {
      if (t.value !== undefined) return invalid(`option ${typed(t.rawName)} takes no value`)
      values[camel(name)] = negated === null
      continue
    }
    if (t.value === undefined) return invalid(`option ${typed(`${t.rawName} ${doc.value}`)} argument missing`)
    if (doc.choices !== undefined && !doc.choices.includes(t.value))
      return invalid(`--${name} ${show(t.value)} must be one of ${doc.choices.join(', ')}`)
    const field = camel(name)
    const before = values[field]
    values[field] = doc.multiple === true ? [...(Array.isArray(before) ? before : []), t.value] : t.value
  }
  return { _tag: 'words', values, positional }
}

/** The words after `bottle MODE OP`. */
const parseOp = (mode: Mode, op: OpName, words: readonly string[], ls: boolean): Parsed => {
  const where = ls ? 'ls' : `${mode} ${op}`
  const read = readWords(words, new Set<string>(flagsOf(mode, op)), where, () => help({ _tag: 'op', mode, op, ...(ls ? { ls: true as const } : {}) }))
  if (read._tag !== 'words') return read
  const { values, positional } = read
  const args = ops[op].args
  const required = args.filter((a) => a.required)
  const missing = required[positional.length]
  if (missing !== undefined) return invalid(`missing required argument ${typed(missing.name)} (bottle ${where} --help)`)
  if (!args.some((a) => a.variadic) && positional.length > args.length)
    return invalid(`too many arguments: ${where} takes ${args.length === 0 ? 'none' : argsUsage(args)} (bottle ${where} --help)`)
  return {
    _tag: 'request',
    request: { mode, op, positional, flags: { env: [], secret: [], format: 'text', pane: 'split', ...values } },
  }
}

/** `bottle run --plan FILE [-q]`: the plan says everything else, so nothing else is taken. */
const parseSavedPlan = (words: readonly string[]): Parsed => {
  const only = (detail: string): Parsed => invalid(`bottle run --plan FILE takes only -q besides (the plan says the rest): ${detail}; nothing was run`)
  const read = readWords(words, new Set(['plan', 'quiet']), 'run --plan', () => help({ _tag: 'mode', mode: 'run' }))
  if (read._tag === 'invalid') return only(read.message)
  if (read._tag !== 'words') return read
  if (read.positional.length > 0) return only(`not ${show(read.positional[0] ?? '')}`)
  const file = read.values.plan
  if (typeof file !== 'string' || file === '') return invalid('--plan needs a file: bottle run --plan FILE [-q]; nothing was run')
  return { _tag: 'savedPlan', file, quiet: read.values.quiet === true }
}
