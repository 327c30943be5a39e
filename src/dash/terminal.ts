/**
 * The dashboard's shell: the terminal (alternate screen, raw mode, keys, resize), the clock, and
 * the effects of update() performed with bottle's own parts: listings through the backends' list
 * plans, plans compiled as `bottle plan` compiles them, runs through the interpreter. Everything
 * it decides is in model.ts; everything it draws is view.ts.
 *
 *   await runTerminal(cli, { backends, declared, manifest })   // the exit code once q is pressed
 *
 * The terminal is put back as it was on every way out: q, an error, SIGINT, SIGTERM, SIGHUP.
 */
import * as readline from 'node:readline'
import type { Backend, ClusterScope } from '../backends/backend.js'
import type { Cli } from '../cli/io.js'
import { listOn, withRecord } from '../cli/listing.js'
import { exitCodeOf } from '../cli/exit.js'
import { runAndSay } from '../cli/run.js'
import type { Manifest } from '../bottle-spec/manifest.js'
import { driftCell, driftFor } from '../ls.js'
import { runWarnings } from '../plan/render.js'
import { type Plan, planVersion, step } from '../plan/types.js'
import { type Effect, type Event, type Key, type Pane, type Row, type State, initialState, rowOf, tickDelay, update } from './model.js'
import { compileWords } from './plans.js'
import { view } from './view.js'

export interface DashSetup {
  readonly backends: readonly Backend[]
  readonly declared: readonly Row[]
  readonly manifest: Manifest | null
  readonly cluster: ClusterScope
}

// The terminal's own sequences (xterm; tmux and every modern terminal take them).
const enterScreen = '\x1b[?1049h\x1b[?25l'
const leaveScreen = '\x1b[?25h\x1b[?1049l'
const home = '\x1b[H'
const clearLine = '\x1b[K'
const clearBelow = '\x1b[J'

/**
 * `tmux list-panes -a`, once per tick for every pane: which panes are there, and which have exited.
 * A plan names a backend; this one touches none, and carries the first one listed.
 */
const panesPlan = (backend: Backend): Plan => ({
  version: planVersion,
  op: 'ls',
  backend: backend.name,
  bottle: '',
  steps: [step('list the tmux panes', ['tmux', 'list-panes', '-a', '-F', '#{pane_id} #{pane_dead}'], { stdio: 'capture', timeoutMs: 5000 })],
  secrets: [],
  notes: [],
  exitCodeFrom: null,
})

const keyOf = (str: string | undefined, key: readline.Key | undefined): Key | 'interrupt' | null => {
  if (key?.ctrl === true && key.name === 'c') return 'interrupt'
  switch (key?.name) {
    case 'up':
    case 'down':
    case 'escape':
    case 'backspace':
      return key.name
    case 'return':
    case 'enter':
      return 'enter'
  }
  return str !== undefined && str.length > 0 && !/[\x00-\x1f\x7f]/.test(str) ? { char: str } : null
}

export const runTerminal = async (cli: Cli, setup: DashSetup): Promise<number> => {
  const stdin = process.stdin
  const stdout = process.stdout
  const color = cli.env.NO_COLOR === undefined || cli.env.NO_COLOR === ''
  // What listings and compiles say on stderr would scribble over the screen: kept, not printed.
  const quiet: Cli = { ...cli, err: () => {} }
  let state: State = initialState({
    backends: setup.backends.map((b) => b.name),
    declared: setup.declared,
    inTmux: (cli.env.TMUX ?? '') !== '',
    now: Date.now(),
  })
  /** A plan runs on the real terminal: nothing is drawn, and keys go to that program. */
  let away = false
  let done: ((code: number) => void) | null = null
  let tickTimer: NodeJS.Timeout | null = null
  /** The dashboard has the terminal: its screen is up and the tty is raw. */
  let onScreen = false

  const draw = (): void => {
    // Off the screen (a plan runs on the terminal, or the dashboard has ended while a listing
    // was still out): nothing is drawn over what is there.
    if (!onScreen) return
    const size = { columns: stdout.columns || 80, rows: stdout.rows || 24 }
    stdout.write(home + view(state, size, { color }).map((l) => l + clearLine).join('\r\n') + clearBelow)
  }

  const takeTerminal = (): void => {
    if (stdin.isTTY) stdin.setRawMode(true)
    stdin.resume()
    stdout.write(enterScreen)
    onScreen = true
  }
  const giveBackTerminal = (): void => {
    if (!onScreen) return
    onScreen = false
    stdout.write(leaveScreen)
    if (stdin.isTTY) stdin.setRawMode(false)
    stdin.pause()
  }

  /** A bug in the dashboard ends it, with the terminal put back first and then the error said. */
  let failure: unknown = null
  const fail = (e: unknown): void => {
    failure ??= e
    done?.(1)
  }

  const dispatch = (e: Event): void => {
    try {
      const [next, effects] = update(state, e)
      state = next
      draw()
      for (const effect of effects) perform(effect).catch(fail)
    } catch (err) {
      fail(err)
    }
  }

  const listBackend = async (backend: Backend): Promise<void> => {
    try {
      const listed = await listOn(backend, quiet, setup.cluster)
      if (listed._tag === 'failed') dispatch({ _tag: 'listFailed', backend: backend.name, reason: listed.reason })
      else
        dispatch({
          _tag: 'listed',
          backend: backend.name,
          rows: listed.rows.map((r) => withRecord(r, cli.host)).map((r) => rowOf(r, driftCell(driftFor(r, setup.manifest, cli.host.cwd)))),
        })
    } catch (e) {
      dispatch({ _tag: 'listFailed', backend: backend.name, reason: e instanceof Error ? e.message : String(e) })
    }
  }

  const listPanes = async (): Promise<void> => {
    const first = setup.backends[0]
    // No backend listed: no bottle, so no pane of one to find.
    if (first === undefined) return
    const { runPlan } = await import('../spawn.js')
    const outcome = await runPlan(panesPlan(first), { hostEnv: cli.env, onEvent: () => {} })
    if (outcome._tag !== 'exited' || outcome.code !== 0) return
    const panes: Pane[] = (outcome.captured?.at(-1) ?? '').split('\n').flatMap((l) => {
      const [id, dead] = l.trim().split(' ')
      return id === undefined || id === '' ? [] : [{ id, dead: dead === '1' }]
    })
    dispatch({ _tag: 'panes', panes })
  }

  /** Leaves the screen, runs the plan on the real terminal as `bottle run` would, comes back. */
  const foreground = async (e: Extract<Effect, { _tag: 'foreground' }>): Promise<void> => {
    away = true
    giveBackTerminal()
    let code: number
    try {
      for (const line of runWarnings(e.plan)) cli.err(line)
      code = await runAndSay(e.plan, false, cli)
    } catch (err) {
      cli.err(`bottle: ${err instanceof Error ? err.message : String(err)}`)
      code = 1
    }
    away = false
    // SIGTERM or SIGHUP while the plan ran: it has ended (the interpreter saw to that); now the dashboard does.
    if (endAfterRun !== null) {
      done?.(endAfterRun)
      return
    }
    takeTerminal()
    dispatch({ _tag: 'finished', action: e.action, row: e.row, code })
  }

  /** An attach plan: tmux opens the pane, this screen stays; a failure is the status line. */
  const attach = async (e: Extract<Effect, { _tag: 'attach' }>): Promise<void> => {
    const { runPlan } = await import('../spawn.js')
    const said: string[] = []
    const outcome = await runPlan(e.plan, { hostEnv: cli.env, onEvent: () => {} })
    const code = exitCodeOf(outcome, { ...cli, err: (l) => said.push(l) })
    dispatch({ _tag: 'finished', action: e.action, row: e.row, code })
    if (said.length > 0) state = { ...state, message: said.join(' ') }
    draw()
  }

  const perform = async (effect: Effect): Promise<void> => {
    switch (effect._tag) {
      case 'list': {
        const b = setup.backends.find((x) => x.name === effect.backend)
        if (b !== undefined) await listBackend(b)
        return
      }
      case 'listPanes':
        return listPanes()
      case 'compile':
        dispatch({ _tag: 'planned', request: effect.request, result: await compileWords(effect.request.words, quiet) })
        return
      case 'foreground':
        return foreground(effect)
      case 'attach':
        return attach(effect)
      case 'quit':
        done?.(0)
    }
  }

  const tick = (): void => {
    if (!away) dispatch({ _tag: 'tick', now: Date.now() })
    tickTimer = setTimeout(tick, tickDelay(state))
  }

  const onKeypress = (str: string | undefined, key: readline.Key | undefined): void => {
    if (away) return
    const k = keyOf(str, key)
    if (k === 'interrupt') done?.(130)
    else if (k !== null) dispatch({ _tag: 'key', key: k })
  }
  const onResize = (): void => dispatch({ _tag: 'resize' })
  // While a plan runs on the terminal, Ctrl-C is the program's (the interpreter passes it on and
  // the dashboard comes back after); SIGTERM and SIGHUP end the dashboard once the run has ended.
  let endAfterRun: number | null = null
  const onSignal = (code: number) => () => {
    if (!away) done?.(code)
    else if (code !== 130) endAfterRun = code
  }
  const onInt = onSignal(130)
  const onTerm = onSignal(143)
  const onHup = onSignal(129)

  readline.emitKeypressEvents(stdin)
  takeTerminal()
  stdin.on('keypress', onKeypress)
  stdout.on('resize', onResize)
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  process.on('SIGHUP', onHup)
  try {
    const code = await new Promise<number>((resolve) => {
      done = resolve
      draw()
      tick()
    })
    return code
  } catch (err) {
    failure ??= err
    return 1
  } finally {
    if (tickTimer !== null) clearTimeout(tickTimer)
    stdin.off('keypress', onKeypress)
    stdout.off('resize', onResize)
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
    process.off('SIGHUP', onHup)
    giveBackTerminal()
    if (failure !== null) cli.err(`bottle: dash: ${failure instanceof Error ? failure.message : String(failure)}`)
  }
}

/** The dashboard's rows before any listing: every bottle the manifest declares, with its backend if it names one. */
export const declaredRowsOf = (m: Manifest | null): { name: string; backend: Backend['name'] | null }[] =>
  m === null ? [] : Object.keys(m.bottles).map((name) => ({ name, backend: m.bottles[name]?.backend ?? m.backend ?? null }))
