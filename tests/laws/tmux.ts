/**
 * An independent reading of an attach step: what tmux 3.3a does with its argv, and what the
 * hand-off and the pane's loader do with theirs. Written from tmux's cmd-parse.y
 * (cmd_parse_from_arguments) and arguments.c (args_parse), not by calling src/attach.ts's encoder.
 *
 *   decodeAttach(['tmux','split-window','-t','%1','--','docker','exec',…,'a\\;'])
 *   // { subcommand: 'split-window', flags: { t: '%1' }, handoff: null, exact: false, names: [], command: ['docker',…,'a;'] }
 *
 * A decoder throws on argv tmux would split into two commands or reject.
 */
import { handoffScript, loaderScript } from '../../src/attach.js'

/** Each subcommand's getopt-style flags in tmux 3.3a: a letter followed by `:` takes a value. */
const templates: Record<string, string> = {
  'split-window': 'bc:de:fF:hIl:p:Pt:vZ',
  'respawn-pane': 'c:e:kt:',
  'new-window': 'abc:de:F:kn:PSt:',
}

export interface TmuxCommand {
  readonly subcommand: string
  readonly flags: Readonly<Record<string, string | true>>
  /** The words after the flags: what the pane execs (two or more) or hands to default-shell (one). */
  readonly words: readonly string[]
}

/** cmd_parse_from_arguments: a word ending in `;` ends the command, unless it ends in `\;`. */
const unescape = (argv: readonly string[]): string[] =>
  argv.map((w) => {
    if (!w.endsWith(';')) return w
    if (w.endsWith('\\;')) return `${w.slice(0, -2)};`
    throw new Error(`tmux would end the command at ${JSON.stringify(w)}`)
  })

export const decodeTmux = (argv: readonly string[]): TmuxCommand => {
  if (argv[0] !== 'tmux') throw new Error(`not tmux: ${JSON.stringify(argv[0])}`)
  const words = unescape(argv.slice(1))
  const [subcommand, ...rest] = words
  const template = templates[subcommand ?? '']
  if (subcommand === undefined || template === undefined) throw new Error(`unexpected tmux command ${JSON.stringify(subcommand)}`)
  const flags: Record<string, string | true> = {}
  let i = 0
  for (; i < rest.length; i++) {
    const a = rest[i] as string
    if (a === '--') { i++; break }
    if (!a.startsWith('-') || a === '-') break
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string
      const at = template.indexOf(c)
      if (at < 0 || c === ':') throw new Error(`tmux ${subcommand}: unknown flag -${c}`)
      if (template[at + 1] !== ':') { flags[c] = true; continue }
      const value = a.slice(j + 1) !== '' ? a.slice(j + 1) : rest[++i]
      if (value === undefined) throw new Error(`tmux ${subcommand}: -${c} needs a value`)
      flags[c] = value
      break
    }
  }
  return { subcommand, flags, words: rest.slice(i) }
}

export interface DecodedAttach extends TmuxCommand {
  /** The hand-off's arguments, when values go through a private directory. */
  readonly handoff: { readonly tmpdir: string; readonly count: number } | null
  /** The pane starts under `env -i`. */
  readonly exact: boolean
  /** The variables the loader exports, in order. */
  readonly names: readonly string[]
  /** What the pane finally execs. */
  readonly command: readonly string[]
}

/** Where the hand-off puts the private directory, for the decoder (any path would do). */
export const decodedDir = '/tmp/bottle-attach.DECODED'

export const decodeAttach = (argv: readonly string[]): DecodedAttach => {
  if (argv[0] === 'tmux') {
    const t = decodeTmux(argv)
    const exact = t.words[0] === 'env' && t.words[1] === '-i'
    return { ...t, handoff: null, exact, names: [], command: exact ? t.words.slice(2) : t.words }
  }
  const [sh, c, script, zero, tmpdir, count, position, ...tmux] = argv
  if (sh !== 'sh' || c !== '-c' || script !== handoffScript || zero !== 'bottle-attach' || tmpdir === undefined)
    throw new Error(`neither tmux nor the hand-off: ${JSON.stringify(argv.slice(0, 2))}`)
  const n = Number(count)
  const p = Number(position)
  if (!Number.isInteger(n) || !Number.isInteger(p) || p > tmux.length) throw new Error('hand-off: bad counts')
  const t = decodeTmux([...tmux.slice(0, p), decodedDir, ...tmux.slice(p)])
  const exact = t.words[0] === 'env' && t.words[1] === '-i'
  const [bin, dashC, loader, pane, dir, mode, ...rest] = exact ? t.words.slice(2) : t.words
  if (bin !== '/bin/sh' || dashC !== '-c' || loader !== loaderScript || pane !== 'bottle-pane' || dir !== decodedDir)
    throw new Error('the pane does not run the loader on the hand-off directory')
  if (mode !== (exact ? 'exact' : 'inherit')) throw new Error(`loader mode ${JSON.stringify(mode)} under ${exact ? 'env -i' : 'the server env'}`)
  const end = rest.indexOf('--')
  if (end < 0) throw new Error('loader: no -- after the names')
  return { ...t, handoff: { tmpdir, count: n }, exact, names: rest.slice(0, end), command: rest.slice(end + 1) }
}
