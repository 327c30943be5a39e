/**
 * `view(state, size, style) → lines`: the dashboard's frame, one string per terminal line, never
 * wider than the terminal (a narrow one drops columns, then cuts, and never wraps).
 *
 *   view(state, { columns: 80, rows: 24 }, { color: false })
 *   // ['bottle dash: 2 bottles on docker, bwrap  (? help, q quit)', '  NAME  BACKEND  STATE …', '> web   docker   running …', …]
 *
 * Whatever came from a listing (names, images, states, a backend's error) is passed through
 * safeText first: the engine's strings are chosen by whoever made the container.
 */
import { ageText } from '../ls.js'
import { renderText } from '../plan/render.js'
import { type Action, type Row, type State, actionWords, allRows, paneActionFor, placeOf, selectedRow, visibleRows } from './model.js'
import { columns, fit, pad, safeText } from './text.js'

export interface Size {
  readonly columns: number
  readonly rows: number
}

export interface Style {
  /** SGR colours and attributes; false under NO_COLOR. */
  readonly color: boolean
}

// -------------------------------------------------------------------------------------------------
// columns
// -------------------------------------------------------------------------------------------------

interface Column {
  readonly title: string
  readonly cell: (r: Row, s: State) => string
  /** The widest it grows to. */
  readonly max: number
  /** Dropped first when the terminal is narrow: higher goes first. */
  readonly drop: number
}

const placeText = (s: State, r: Row): string => {
  const p = placeOf(s, r)
  switch (p._tag) {
    case 'pane':
      return `${p.id} ${p.running ? 'running' : 'exited'}`
    case 'foreground':
      return 'foreground'
    case 'none':
      return r.declared ? '' : 'not running'
  }
}

const table: readonly Column[] = [
  { title: 'NAME', cell: (r) => r.name, max: 24, drop: 0 },
  { title: 'BACKEND', cell: (r) => r.backend ?? '-', max: 10, drop: 4 },
  { title: 'STATE', cell: (r) => (r.declared ? 'declared' : r.state), max: 12, drop: 1 },
  { title: 'AGE', cell: (r, s) => (r.declared ? '' : ageText(r.createdAt, s.now)), max: 4, drop: 3 },
  { title: 'IMAGE', cell: (r) => (r.declared ? '' : (r.image ?? '-')), max: 24, drop: 6 },
  { title: 'DRIFT', cell: (r) => (r.declared ? '' : r.drift), max: 14, drop: 5 },
  { title: 'AGENT', cell: (r, s) => placeText(s, r), max: 16, drop: 2 },
]

/** The marker column (`> ` on the selection) and the gap between columns. */
const marker = 2
const gap = 2

/** Each kept column's width: as wide as its content (up to its max), columns dropped until they fit. */
const layout = (rows: readonly Row[], s: State, width: number): { col: Column; width: number }[] => {
  let kept = table.map((col) => ({
    col,
    width: Math.min(col.max, Math.max(columns(col.title), ...rows.map((r) => columns(safeText(col.cell(r, s)))))),
  }))
  const total = (): number => marker + kept.reduce((n, k) => n + k.width, 0) + gap * (kept.length - 1)
  while (total() > width && kept.length > 1) {
    const worst = kept.reduce((a, b) => (b.col.drop > a.col.drop ? b : a))
    kept = kept.filter((k) => k !== worst)
  }
  // What is left still too wide (one column on a tiny terminal): the name shrinks to fit.
  if (total() > width) kept = kept.map((k) => ({ ...k, width: Math.max(1, width - marker) }))
  return kept
}

const line = (cells: readonly string[], widths: readonly number[]): string =>
  cells.map((c, i) => pad(c, widths[i] ?? 0)).join(' '.repeat(gap)).trimEnd()

// -------------------------------------------------------------------------------------------------
// style
// -------------------------------------------------------------------------------------------------

const sgr = (style: Style, code: string, text: string): string => (style.color && text !== '' ? `\x1b[${code}m${text}\x1b[0m` : text)

// -------------------------------------------------------------------------------------------------
// the frame
// -------------------------------------------------------------------------------------------------

const keysLine = 'enter agent  c resume  s/r/w pane  x shell  n launch  d down  p plan  / filter  ? help  q quit'

const helpLines = [
  'keys',
  '  up/down, j/k   select a bottle',
  '  enter          run the agent here, on this terminal (the screen comes back after)',
  '  c              the same, resuming the last session (or a fresh one)',
  '  s / r / w      the agent in a tmux pane: split, respawn, new window',
  '  S / R / W      the same with the resume fallback',
  '  x              a shell in the bottle, as its user',
  '  n              launch the selected declared bottle',
  '  d              down: asks y first',
  '  p              the plan pane: the exact plan the last key runs on the selection',
  '  /              filter by name (enter or esc to stop)',
  '  q              quit',
  '',
  'every key runs a plan that bottle plan prints: p shows it before you press it',
  'press any key to go back',
]

const paneTitle = (action: Action, row: Row): string => `plan: bottle run ${actionWords(action, row).join(' ')}`

/** The plan pane's lines: the text rendering of the plan (or the refusal) of `paneAction` on the selection. */
const planLines = (s: State): string[] => {
  if (s.mode === 'confirm' && s.confirm !== null) return ['plan: the down this asks about', ...renderText(s.confirm.plan).replace(/\n$/, '').split('\n')]
  const row = selectedRow(s)
  if (row === null) return ['plan: no bottle selected']
  const action = paneActionFor(s, row)
  const result = s.plans[`${action} ${row.key}`]
  const title = paneTitle(action, row)
  if (result === undefined) return [title, '  compiling…']
  if (result._tag === 'refused') return [title, `  refused: ${result.message}`]
  return [title, ...renderText(result.plan).replace(/\n$/, '').split('\n')]
}

/** The frame: at most size.rows lines, each at most size.columns columns (SGR codes take none). */
export const view = (s: State, size: Size, style: Style): string[] => {
  const width = Math.max(1, size.columns)
  const height = Math.max(1, size.rows)
  const cut = (text: string): string => fit(safeText(text), width)
  if (s.mode === 'help') return helpLines.slice(0, height).map(cut)

  const rows = visibleRows(s)
  const backendsShown = s.backends.join(', ')
  const count = allRows(s).length
  const head = cut(`bottle dash: ${count} bottle${count === 1 ? '' : 's'} on ${backendsShown || 'no backend'}${s.filter === '' ? '' : `, filter "${s.filter}"`}  (? help, q quit)`)
  const failures = s.backends.flatMap((b) => {
    const why = s.failed[b]
    return why === undefined ? [] : [sgr(style, '33', cut(`${b}: not listed: ${why}`))]
  })
  const cols = layout(rows, s, width)
  const widths = cols.map((k) => k.width)
  const header = fit(' '.repeat(marker) + line(cols.map((k) => k.col.title), widths), width)

  const footer: string[] = []
  if (s.mode === 'confirm' && s.confirm !== null) {
    const n = s.confirm.plan.steps.length
    footer.push(sgr(style, '1', cut(`take ${s.confirm.plan.bottle} down on ${s.confirm.plan.backend}? y: yes (the ${n} step${n === 1 ? '' : 's'} above); any other key: no`)))
  } else if (s.mode === 'filter') footer.push(cut(`/${s.filter}`))
  else footer.push(cut(s.message ?? keysLine))

  const pane = s.planPane || s.mode === 'confirm' ? planLines(s).map(cut) : []
  // The list gets what the head, header, failures and footer leave, and at most half the screen
  // when the plan pane is open; the selection is always in view.
  const fixed = 2 + failures.length + footer.length
  const room = Math.max(0, height - fixed)
  const listRoom = pane.length === 0 ? room : Math.max(Math.min(rows.length, 1), Math.min(rows.length, Math.floor(room / 2)))
  const at = Math.max(0, rows.findIndex((r) => r.key === s.selected))
  const first = Math.min(Math.max(0, at - listRoom + 1), Math.max(0, rows.length - listRoom))
  const body = rows.slice(first, first + listRoom).map((r) => {
    const selected = r.key === s.selected
    const text = fit((selected ? '> ' : '  ') + line(cols.map((k) => safeText(k.col.cell(r, s))), widths), width)
    return selected ? sgr(style, '7', text) : r.declared ? sgr(style, '2', text) : text
  })
  const empty = rows.length === 0 ? [cut(count === 0 ? '  no bottles yet (declare some in bottle.yaml, or bottle run launch NAME)' : '  no bottle matches the filter')] : []
  const paneRoom = Math.max(0, height - fixed - body.length - empty.length)
  return [head, ...failures, header, ...body, ...empty, ...pane.slice(0, paneRoom), ...footer].slice(0, height)
}
