/**
 * The dashboard's pure core: `update(state, event) → [state, effects]`. Events and effects are
 * plain data; the terminal shell (terminal.ts) performs the effects and feeds back their results.
 *
 *   const [s1, fx] = update(s0, { _tag: 'key', key: 'enter' })
 *   // fx: [{ _tag: 'compile', request: { action: 'agent', words: ['agent', 'web', '-b', 'docker'] } }]
 *   const [s2, run] = update(s1, { _tag: 'planned', request, result: { _tag: 'plan', plan } })
 *   // run: [{ _tag: 'foreground', plan, row: 'docker/web' }]
 *
 * Every action runs a plan that `bottle plan WORDS` prints: an action is the words of a CLI
 * command, the shell compiles them the way the CLI does, and the effect that runs carries that
 * plan. Nothing runs without its plan; `down` runs only after `y` to the confirm line.
 */
import type { BottleRow } from '../backends/backend.js'
import type { BackendName, Plan } from '../plan/types.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** What a key does to the selected bottle. */
export type Action =
  | 'agent' | 'resume' | 'shell' | 'launch' | 'down'
  | 'split' | 'respawn' | 'window' | 'splitResume' | 'respawnResume' | 'windowResume'

/** One row: a listed bottle, or one the manifest declares and no listing shows (dimmed). */
export interface Row {
  readonly key: string
  readonly name: string
  /** null: a declared bottle whose backend the manifest leaves to detection. */
  readonly backend: BackendName | null
  readonly state: string
  readonly createdAt: number | null
  readonly image: string | null
  /** Short drift word: same, drifted (fields), undeclared, unknown. */
  readonly drift: string
  readonly declared: boolean
}

/** Where a bottle's agent is, as far as this dashboard knows. */
export type Place =
  | { readonly _tag: 'pane'; readonly id: string; readonly running: boolean }
  | { readonly _tag: 'foreground' }
  | { readonly _tag: 'none' }

/** The words of the CLI command an action runs (without `plan`/`run`), and which action it is. */
export interface PlanRequest {
  readonly action: Action
  readonly row: string
  readonly words: readonly string[]
}

export type PlanResult = { readonly _tag: 'plan'; readonly plan: Plan } | { readonly _tag: 'refused'; readonly message: string }

export interface Pane {
  readonly id: string
  readonly dead: boolean
}

export interface State {
  readonly backends: readonly BackendName[]
  /** Each backend's last good listing: a failed listing leaves it as it was. */
  readonly listed: Readonly<Partial<Record<BackendName, readonly Row[]>>>
  /** Why a backend's last listing failed (cleared by the next good one). */
  readonly failed: Readonly<Partial<Record<BackendName, string>>>
  /** Listings asked for and not answered yet: a tick asks each backend at most once at a time. */
  readonly listing: readonly BackendName[]
  readonly declared: readonly Row[]
  readonly selected: string | null
  readonly filter: string
  readonly mode: 'list' | 'filter' | 'help' | 'confirm'
  /** The plan pane is open; it shows the plan of `paneAction` on the selected row. */
  readonly planPane: boolean
  readonly paneAction: Action
  /** Compiled plans by `action row`; cleared for a row after anything runs on it. */
  readonly plans: Readonly<Record<string, PlanResult>>
  /** An action waiting for its plan. */
  readonly pending: PlanRequest | null
  /** The down plan the confirm line asks about. */
  readonly confirm: { readonly row: string; readonly plan: Plan } | null
  readonly inTmux: boolean
  /** Panes this dashboard opened, by row; `known` are the pane ids tmux listed last. */
  readonly panes: Readonly<Record<string, Pane>>
  readonly knownPanes: readonly string[] | null
  readonly awaitingPane: string | null
  readonly foreground: string | null
  readonly message: string | null
  readonly now: number
  /** Ticks in a row after which nothing listed changed: the tick slows down. */
  readonly quietTicks: number
}

export type Key =
  | 'up' | 'down' | 'enter' | 'escape' | 'backspace'
  | { readonly char: string }

export type Event =
  | { readonly _tag: 'key'; readonly key: Key }
  | { readonly _tag: 'tick'; readonly now: number }
  | { readonly _tag: 'listed'; readonly backend: BackendName; readonly rows: readonly Row[] }
  | { readonly _tag: 'listFailed'; readonly backend: BackendName; readonly reason: string }
  | { readonly _tag: 'panes'; readonly panes: readonly Pane[] }
  | { readonly _tag: 'planned'; readonly request: PlanRequest; readonly result: PlanResult }
  | { readonly _tag: 'finished'; readonly action: Action; readonly row: string; readonly code: number }
  | { readonly _tag: 'resize' }

export type Effect =
  | { readonly _tag: 'list'; readonly backend: BackendName }
  | { readonly _tag: 'listPanes' }
  /** Compile the request's words as `bottle plan` would; the answer is a `planned` event. */
  | { readonly _tag: 'compile'; readonly request: PlanRequest }
  /** Leave the screen, run the plan on the real terminal, come back; then a `finished` event. */
  | { readonly _tag: 'foreground'; readonly action: Action; readonly row: string; readonly plan: Plan }
  /** Run an attach plan (tmux opens the pane; the screen stays); then a `finished` event. */
  | { readonly _tag: 'attach'; readonly action: Action; readonly row: string; readonly plan: Plan }
  | { readonly _tag: 'quit' }

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

export const rowKey = (backend: BackendName | null, name: string): string => `${backend ?? '?'}/${name}`

export const initialState = (o: { backends: readonly BackendName[]; declared: readonly Row[]; inTmux: boolean; now: number }): State => reselect({
  backends: o.backends,
  listed: {},
  failed: {},
  listing: [],
  declared: o.declared,
  selected: null,
  filter: '',
  mode: 'list',
  planPane: false,
  paneAction: 'agent',
  plans: {},
  pending: null,
  confirm: null,
  inTmux: o.inTmux,
  panes: {},
  knownPanes: null,
  awaitingPane: null,
  foreground: null,
  message: null,
  now: o.now,
  quietTicks: 0,
}, [])

/** The listed rows of every backend, then the declared bottles no listing shows. */
export const allRows = (s: State): Row[] => {
  const listed = s.backends.flatMap((b) => s.listed[b] ?? [])
  const names = new Set(listed.map((r) => r.name))
  return [...listed, ...s.declared.filter((d) => !names.has(d.name))]
}

/** The rows the filter lets through, in order. */
export const visibleRows = (s: State): Row[] => {
  const f = s.filter.toLowerCase()
  return allRows(s).filter((r) => f === '' || r.name.toLowerCase().includes(f))
}

export const selectedRow = (s: State): Row | null => visibleRows(s).find((r) => r.key === s.selected) ?? null

/** The CLI words of an action on a row: what `bottle plan` and `bottle run` are given. */
export const actionWords = (action: Action, row: Row): string[] => {
  const b = row.backend === null ? [] : ['-b', row.backend]
  const pane = (mode: string, resume: boolean): string[] => ['attach', row.name, ...b, '--pane', mode, ...(resume ? ['--resume'] : [])]
  switch (action) {
    case 'agent':
    case 'resume':
    case 'shell':
    case 'launch':
    case 'down':
      return [action, row.name, ...b]
    case 'split':
      return pane('split', false)
    case 'respawn':
      return pane('respawn', false)
    case 'window':
      return pane('window', false)
    case 'splitResume':
      return pane('split', true)
    case 'respawnResume':
      return pane('respawn', true)
    case 'windowResume':
      return pane('window', true)
  }
}

const planKey = (action: Action, row: string): string => `${action} ${row}`

const paneActions: Readonly<Record<string, Action>> = {
  s: 'split', r: 'respawn', w: 'window', S: 'splitResume', R: 'respawnResume', W: 'windowResume',
}
const isPaneAction = (a: Action): boolean => Object.values(paneActions).includes(a)

/** The action a key asks for, if any. */
const actionOfKey = (key: Key): Action | null => {
  if (key === 'enter') return 'agent'
  if (typeof key === 'string') return null
  switch (key.char) {
    case 'c':
      return 'resume'
    case 'x':
      return 'shell'
    case 'n':
      return 'launch'
    case 'd':
      return 'down'
    default:
      return paneActions[key.char] ?? null
  }
}

// -------------------------------------------------------------------------------------------------
// update
// -------------------------------------------------------------------------------------------------

type Step = readonly [State, readonly Effect[]]

/** The selection kept on a real row: the same one if still visible, else the nearest, else none. */
const reselect = (s: State, before: readonly Row[] = visibleRows(s)): State => {
  const rows = visibleRows(s)
  if (rows.some((r) => r.key === s.selected)) return s
  if (rows.length === 0) return { ...s, selected: null }
  const oldIndex = before.findIndex((r) => r.key === s.selected)
  const i = Math.min(Math.max(oldIndex, 0), rows.length - 1)
  return { ...s, selected: rows[i]?.key ?? null }
}

/** The action whose plan the plan pane shows for a row: launch for a declared bottle. */
export const paneActionFor = (s: State, row: Row): Action => (row.declared ? 'launch' : s.paneAction === 'launch' ? 'agent' : s.paneAction)

/** What the plan pane needs compiled for the selection. */
const panePlanEffects = (s: State): Effect[] => {
  const row = selectedRow(s)
  if (!s.planPane || row === null) return []
  const action = paneActionFor(s, row)
  return s.plans[planKey(action, row.key)] === undefined ? [{ _tag: 'compile', request: request(action, row) }] : []
}

const request = (action: Action, row: Row): PlanRequest => ({ action, row: row.key, words: actionWords(action, row) })

/** Why an action cannot be taken on this row, or null. */
const refusal = (s: State, action: Action, row: Row): string | null => {
  if (isPaneAction(action) && !s.inTmux) return 'not inside tmux: s, r and w open a tmux pane; run bottle dash in tmux, or press Enter'
  if (row.declared && action !== 'launch') return `${row.name} is not launched: press n to launch it`
  if (!row.declared && action === 'launch') return `${row.name} is launched already`
  return null
}

/** Runs what a compiled plan is for: a refusal is a message, down asks first. */
const act = (s: State, req: PlanRequest, result: PlanResult): Step => {
  if (result._tag === 'refused') return [{ ...s, message: result.message }, []]
  const plan = result.plan
  if (req.action === 'down') return [{ ...s, mode: 'confirm', confirm: { row: req.row, plan }, message: null }, []]
  if (isPaneAction(req.action)) return [{ ...s, message: null }, [{ _tag: 'attach', action: req.action, row: req.row, plan }]]
  return [{ ...s, foreground: req.row, message: null }, [{ _tag: 'foreground', action: req.action, row: req.row, plan }]]
}

/** Asks for the action's plan, or acts on it at once when it is compiled already. */
const ask = (s: State, action: Action): Step => {
  const row = selectedRow(s)
  if (row === null) return [s, []]
  const why = refusal(s, action, row)
  if (why !== null) return [{ ...s, message: why }, []]
  const req = request(action, row)
  const known = s.plans[planKey(action, row.key)]
  const next = { ...s, paneAction: action }
  if (known !== undefined) return act({ ...next, pending: null }, req, known)
  return [{ ...next, pending: req, message: `compiling ${actionWords(action, row).join(' ')}…` }, [{ _tag: 'compile', request: req }]]
}

const move = (s: State, by: number): Step => {
  const rows = visibleRows(s)
  if (rows.length === 0) return [{ ...s, selected: null }, []]
  const i = rows.findIndex((r) => r.key === s.selected)
  const next = rows[Math.min(Math.max((i < 0 ? 0 : i) + by, 0), rows.length - 1)]
  const moved = { ...s, selected: next?.key ?? null }
  return [moved, panePlanEffects(moved)]
}

const onKey = (s: State, key: Key): Step => {
  const ch = typeof key === 'string' ? null : key.char
  if (s.mode === 'confirm') {
    const c = s.confirm
    if (ch === 'y' && c !== null)
      return [{ ...s, mode: 'list', confirm: null, foreground: c.row, message: null }, [{ _tag: 'foreground', action: 'down', row: c.row, plan: c.plan }]]
    return [{ ...s, mode: 'list', confirm: null, message: 'down cancelled' }, []]
  }
  if (s.mode === 'help') return [{ ...s, mode: 'list' }, []]
  if (s.mode === 'filter') {
    const before = visibleRows(s)
    if (key === 'enter' || key === 'escape') return [{ ...s, mode: 'list' }, []]
    const filter = key === 'backspace' ? s.filter.slice(0, -1) : ch !== null ? s.filter + ch : s.filter
    const next = reselect({ ...s, filter }, before)
    return [next, panePlanEffects(next)]
  }
  if (key === 'up' || ch === 'k') return move(s, -1)
  if (key === 'down' || ch === 'j') return move(s, 1)
  if (key === 'escape') return [{ ...s, message: null }, []]
  switch (ch) {
    case 'q':
      return [s, [{ _tag: 'quit' }]]
    case '?':
      return [{ ...s, mode: 'help' }, []]
    case '/':
      return [{ ...s, mode: 'filter' }, []]
    case 'p': {
      const next = { ...s, planPane: !s.planPane }
      return [next, panePlanEffects(next)]
    }
    default: {
      const action = actionOfKey(key)
      return action === null ? [s, []] : ask(s, action)
    }
  }
}

/** True when two listings show the same bottles in the same states (the tick may slow down). */
const sameRows = (a: readonly Row[] | undefined, b: readonly Row[]): boolean =>
  a !== undefined && a.length === b.length && a.every((r, i) => JSON.stringify(r) === JSON.stringify(b[i]))

const forgetPlans = (plans: State['plans'], row: string): State['plans'] =>
  Object.fromEntries(Object.entries(plans).filter(([k]) => !k.endsWith(` ${row}`)))

export const update = (s: State, e: Event): Step => {
  switch (e._tag) {
    case 'key':
      return onKey(s, e.key)
    case 'tick': {
      const ask = s.backends.filter((b) => !s.listing.includes(b))
      const fx: Effect[] = [...ask.map((backend): Effect => ({ _tag: 'list', backend })), ...(s.inTmux ? [{ _tag: 'listPanes' } as const] : [])]
      return [{ ...s, now: e.now, listing: [...s.listing, ...ask] }, fx]
    }
    case 'listed': {
      const before = visibleRows(s)
      const changed = !sameRows(s.listed[e.backend], e.rows)
      const { [e.backend]: _gone, ...failed } = s.failed
      const listed = { ...s.listed, [e.backend]: e.rows }
      const next = reselect({
        ...s, listed, failed, listing: s.listing.filter((b) => b !== e.backend),
        quietTicks: changed ? 0 : s.quietTicks + 1,
      }, before)
      return [next, next.selected === s.selected ? [] : panePlanEffects(next)]
    }
    case 'listFailed':
      // The backend's rows stay as last listed, and every other backend's are untouched.
      return [{ ...s, failed: { ...s.failed, [e.backend]: e.reason }, listing: s.listing.filter((b) => b !== e.backend) }, []]
    case 'panes': {
      const ids = e.panes.map((p) => p.id)
      const byId = new Map(e.panes.map((p) => [p.id, p]))
      // A pane this dashboard opened, found as the one new pane since the attach.
      const fresh = s.knownPanes === null ? [] : ids.filter((id) => !(s.knownPanes ?? []).includes(id))
      const opened = s.awaitingPane !== null && fresh.length === 1 ? { [s.awaitingPane]: { id: fresh[0] as string, dead: false } } : {}
      const panes = Object.fromEntries(
        Object.entries({ ...s.panes, ...opened }).flatMap(([row, p]) => {
          const now = byId.get(p.id)
          return now === undefined ? [] : [[row, now]]
        }),
      )
      return [{ ...s, panes, knownPanes: ids, awaitingPane: s.awaitingPane !== null && fresh.length === 1 ? null : s.awaitingPane }, []]
    }
    case 'planned': {
      const plans = { ...s.plans, [planKey(e.request.action, e.request.row)]: e.result }
      const pending = s.pending
      const next = { ...s, plans }
      if (pending === null || pending.action !== e.request.action || pending.row !== e.request.row) return [next, []]
      return act({ ...next, pending: null }, pending, e.result)
    }
    case 'finished': {
      const next: State = {
        ...s,
        foreground: s.foreground === e.row ? null : s.foreground,
        plans: forgetPlans(s.plans, e.row),
        awaitingPane: isPaneAction(e.action) && e.code === 0 ? e.row : s.awaitingPane,
        message: `${e.action} ${e.row.replace(/^[^/]*\//, '')}: exit code ${e.code}`,
        quietTicks: 0,
      }
      // The plans of the row were forgotten (what ran may have changed its record): the pane's again.
      return [next, panePlanEffects(next)]
    }
    case 'resize':
      return [s, []]
  }
}

/** Where a row's agent is. */
export const placeOf = (s: State, row: Row): Place => {
  if (s.foreground === row.key) return { _tag: 'foreground' }
  const p = s.panes[row.key]
  return p === undefined ? { _tag: 'none' } : { _tag: 'pane', id: p.id, running: !p.dead }
}

/** Milliseconds to the next tick: 2 s, slower (up to 10 s) while nothing listed changes. */
export const tickDelay = (s: State): number => 2000 * Math.min(5, 1 + Math.floor(s.quietTicks / Math.max(1, s.backends.length) / 5))

/** The listed rows a backend listing gives, as dashboard rows. */
export const rowOf = (r: BottleRow, drift: string): Row => ({
  key: rowKey(r.backend, r.name),
  name: r.name,
  backend: r.backend,
  state: r.state,
  createdAt: r.createdAt,
  image: r.image,
  drift,
  declared: false,
})

/** A bottle the manifest declares, before any listing shows it. */
export const declaredRow = (name: string, backend: BackendName | null): Row => ({
  key: rowKey(backend, name),
  name,
  backend,
  state: 'declared',
  createdAt: null,
  image: null,
  drift: '',
  declared: true,
})
