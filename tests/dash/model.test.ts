/**
 * The dashboard's update/view as a model: random sequences of keys and events (listings, failed
 * listings, ticks, tmux panes, resizes), with every effect performed the way the terminal shell
 * performs it (a compile is the dashboard's own compileWords; a run is answered by `finished`).
 * After each step: the selection is a real row; no frame line is wider than the terminal; a failed
 * listing leaves every other backend's rows alone; `down` runs only right after `y` on its confirm
 * line; and every plan an effect runs is the one the BUILT CLI prints for the same words
 * (`node dist/bottle.js plan WORDS --format json`, in a subprocess, cached per distinct words).
 *
 * The bottles: docker, podman and smolvm ones with launch records (so their plans compile), names
 * with escape sequences and wide characters from a listing (their plans are refused, as the CLI
 * refuses them), and bottles the manifest declares but no listing shows.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fc } from '@fast-check/vitest'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readSurroundings } from '../../src/host.js'
import type { Cli } from '../../src/cli/io.js'
import { type Effect, type Event, type Key, type Row, type State, allRows, declaredRow, initialState, rowKey, update, visibleRows } from '../../src/dash/model.js'
import { compileWords } from '../../src/dash/plans.js'
import { columns } from '../../src/dash/text.js'
import { view } from '../../src/dash/view.js'
import type { BackendName, Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const cliPath = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const dir = mkdtempSync(join(tmpdir(), 'bottle-dash-model-'))
const ws = join(dir, 'ws')
const env: Record<string, string> = Object.fromEntries(
  Object.entries({ ...process.env, XDG_STATE_HOME: join(dir, 'state') }).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'TMUX' && e[0] !== 'TMUX_PANE'),
)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const backendsListed: readonly BackendName[] = ['docker', 'podman', 'smolvm']
/** Launched (records written): their plans compile. */
const launched: readonly (readonly [string, BackendName])[] = [['web', 'docker'], ['api', 'podman'], ['web', 'smolvm'], ['db', 'docker']]
/** Declared in the manifest, never listed. */
const declared: readonly (readonly [string, BackendName])[] = [['fresh', 'docker'], ['later', 'podman']]
/** The launched names with no backend (web is on two), the unlaunched ones with theirs. */
const manifest = `bottles:\n${[...new Set(launched.map(([n]) => n))].map((n) => `  ${n}: {}\n`).join('')}${declared.map(([n, b]) => `  ${n}:\n    backend: ${b}\n`).join('')}`
/** The rows the manifest gives before any listing, as the shell makes them. */
const declaredRows = [...[...new Set(launched.map(([n]) => n))].map((n) => declaredRow(n, null)), ...declared.map(([n, b]) => declaredRow(n, b))]
/** Names only a listing brings: escape sequences, wide characters, C1 controls. */
const hostileNames = ['web\x1b]0;pwned\x07', '日本語の名前', 'e\u0301\u{1f600}\x9b31m', 'x\x1b[2J\x1b[H']

/** What the built CLI prints for `plan WORDS --format json`: the plan, or the one-line refusal. */
const cliAnswers = new Map<string, { plan: unknown } | { refused: string }>()
const cliAnswer = (words: readonly string[]): { plan: unknown } | { refused: string } => {
  const key = words.join('\0')
  const known = cliAnswers.get(key)
  if (known !== undefined) return known
  const r = spawnSync(process.execPath, [cliPath, 'plan', ...words, '--format', 'json'], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const answer = r.status === 0 ? { plan: JSON.parse(r.stdout) as unknown } : { refused: r.stderr }
  if (r.status !== 0) expect(r.status).toBe(2)
  cliAnswers.set(key, answer)
  return answer
}

const cli: Cli = {
  out: () => {},
  err: () => {},
  env,
  get host() {
    return { ...readSurroundings(env), cwd: ws, stdinIsTTY: false, stderrIsTTY: false }
  },
}
/** How often each kind of run happened over all runs: the runs exercise what they claim to. */
const tally: Record<string, number> = {}
const compiled = new Map<string, Awaited<ReturnType<typeof compileWords>>>()

beforeAll(() => {
  mkdirSync(ws)
  writeFileSync(join(ws, 'bottle.yaml'), manifest)
  for (const [name, backend] of launched) {
    const r = spawnSync(process.execPath, [cliPath, 'plan', 'launch', name, '-b', backend, '--format', 'json'], { cwd: ws, env, encoding: 'utf8' })
    expect(r.status).toBe(0)
    writeRecordOf(JSON.parse(r.stdout) as Plan)
  }
})

const listedRow = (name: string, backend: BackendName, state: string): Row => ({
  key: rowKey(backend, name), name, backend, state, createdAt: 1_700_000_000_000, image: state === 'exited' ? null : 'node:22\x1b[31m', drift: 'no', declared: false,
})

// -------------------------------------------------------------------------------------------------
// the system under test: the state, with every effect performed as the shell performs it
// -------------------------------------------------------------------------------------------------

interface Real {
  state: State
  size: { columns: number; rows: number }
  /** Effects run so far, with the event that produced them and the mode before it. */
  ran: { effect: Effect; event: Event; modeBefore: State['mode'] }[]
}

const sgr = /\x1b\[[0-9;]*m/g

const checkFrame = (r: Real): void => {
  for (const l of view(r.state, r.size, { color: true })) expect(columns(l.replace(sgr, ''))).toBeLessThanOrEqual(r.size.columns)
  const plain = view(r.state, r.size, { color: false })
  expect(plain.length).toBeLessThanOrEqual(r.size.rows)
  // Nothing but printing characters reaches the screen (SGR only when colour is on).
  for (const l of plain) expect(l).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
  const rows = visibleRows(r.state)
  if (rows.length === 0) expect(r.state.selected).toBeNull()
  else expect(rows.map((x) => x.key)).toContain(r.state.selected)
}

/** Feeds an event and performs what follows from it, to quiescence. */
const feed = async (r: Real, event: Event): Promise<void> => {
  const queue: Event[] = [event]
  while (queue.length > 0) {
    const e = queue.shift() as Event
    const modeBefore = r.state.mode
    const [next, effects] = update(r.state, e)
    r.state = next
    for (const effect of effects) {
      r.ran.push({ effect, event: e, modeBefore })
      switch (effect._tag) {
        case 'compile': {
          const key = effect.request.words.join('\0')
          const result = compiled.get(key) ?? (await compileWords(effect.request.words, cli))
          compiled.set(key, result)
          queue.push({ _tag: 'planned', request: effect.request, result })
          break
        }
        case 'foreground':
        case 'attach': {
          // The plan run is what `bottle plan` prints for the same words.
          const words = wordsOf(r, effect)
          const answer = cliAnswer(words)
          tally[`${effect._tag} ${effect.action}`] = (tally[`${effect._tag} ${effect.action}`] ?? 0) + 1
          expect(answer).toStrictEqual({ plan: JSON.parse(JSON.stringify(effect.plan)) })
          if (effect.action === 'down') {
            expect(e).toStrictEqual({ _tag: 'key', key: { char: 'y' } })
            expect(modeBefore).toBe('confirm')
          }
          queue.push({ _tag: 'finished', action: effect.action, row: effect.row, code: 0 })
          break
        }
        case 'list':
        case 'listPanes':
        case 'quit':
          break
      }
    }
  }
}

/** The words the effect's row and action stand for (the row as listed or declared now). */
const wordsOf = (r: Real, effect: Extract<Effect, { _tag: 'foreground' | 'attach' }>): string[] => {
  const row = allRows(r.state).find((x) => x.key === effect.row)
  if (row === undefined) throw new Error(`the effect's row ${effect.row} is no row`)
  const b = row.backend === null ? [] : ['-b', row.backend]
  switch (effect.action) {
    case 'split': case 'respawn': case 'window':
      return ['attach', row.name, ...b, '--pane', effect.action]
    case 'splitResume':
      return ['attach', row.name, ...b, '--pane', 'split', '--resume']
    case 'respawnResume':
      return ['attach', row.name, ...b, '--pane', 'respawn', '--resume']
    case 'windowResume':
      return ['attach', row.name, ...b, '--pane', 'window', '--resume']
    default:
      return [effect.action, row.name, ...b]
  }
}

// -------------------------------------------------------------------------------------------------
// commands
// -------------------------------------------------------------------------------------------------

/** The model holds nothing: each check compares the state with itself before and after. */
type Model = object
type Cmd = fc.AsyncCommand<Model, Real>

const command = (label: string, run: (r: Real) => Promise<void>): Cmd => ({
  check: () => true,
  run: async (_m, r) => {
    await run(r)
    checkFrame(r)
  },
  toString: () => label,
})

const keyArb: fc.Arbitrary<Key> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Key>('up', 'down', 'enter', 'escape', 'backspace') },
  { weight: 6, arbitrary: fc.constantFrom(...'jkcsrwSRWxndyp/?qz'.split('')).map((char): Key => ({ char })) },
  { weight: 1, arbitrary: fc.constantFrom('e', 'w', '日', 'b').map((char): Key => ({ char })) },
)

const rowsArb = (backend: BackendName): fc.Arbitrary<Row[]> =>
  fc.subarray([
    ...launched.filter(([, b]) => b === backend).map(([n]) => n),
    ...(backend === 'docker' ? hostileNames : []),
    ...(backend === 'podman' ? ['fresh'] : []),
  ]).chain((names) =>
    fc.tuple(...names.map(() => fc.constantFrom('running', 'exited'))).map((states) => names.map((n, i) => listedRow(n, backend, states[i] ?? 'running'))),
  )

const commandsArb = fc.commands<Model, Real, false>([
  keyArb.map((key) => command(`key ${JSON.stringify(key)}`, (r) => feed(r, { _tag: 'key', key }))),
  // An action key, then the answer to a confirm line (if one comes): y, or anything else.
  fc.tuple(fc.constantFrom('d', 'x', 'n', 'c', 's'), fc.constantFrom('y', 'n', 'j')).map(([a, b]) =>
    command(`keys ${a} ${b}`, async (r) => {
      await feed(r, { _tag: 'key', key: { char: a } })
      await feed(r, { _tag: 'key', key: { char: b } })
    }),
  ),
  fc.constantFrom(...backendsListed).chain((b) => rowsArb(b).map((rows) => command(`listed ${b} ${rows.map((x) => x.name).join(',')}`, (r) => feed(r, { _tag: 'listed', backend: b, rows })))),
  fc.tuple(fc.constantFrom(...backendsListed), fc.constantFrom('Cannot connect to the Docker daemon', 'timed out\x1b[2J after 5 s', '日本語のエラー')).map(([b, reason]) =>
    command(`listFailed ${b}`, async (r) => {
      const others = (s: State) => backendsListed.filter((x) => x !== b).map((x) => s.listed[x])
      const before = others(r.state)
      await feed(r, { _tag: 'listFailed', backend: b, reason })
      expect(others(r.state)).toStrictEqual(before)
    }),
  ),
  fc.constant(command('tick', (r) => feed(r, { _tag: 'tick', now: r.state.now + 2000 }))),
  fc.subarray(['%1', '%2', '%7']).chain((ids) => fc.boolean().map((dead) => command(`panes ${ids.join(',')}`, (r) => feed(r, { _tag: 'panes', panes: ids.map((id, i) => ({ id, dead: dead && i === 0 })) })))),
  fc.record({ columns: fc.integer({ min: 1, max: 140 }), rows: fc.integer({ min: 1, max: 50 }) }).map((size) =>
    command(`resize ${size.columns}x${size.rows}`, async (r) => {
      r.size = size
      await feed(r, { _tag: 'resize' })
    }),
  ),
], { maxCommands: 40 })

it('keys and events keep the dashboard honest; every plan it runs is the one bottle plan prints', async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb, fc.boolean(), async (cmds, inTmux) => {
      const real: Real = {
        state: initialState({ backends: backendsListed, declared: declaredRows, inTmux, now: 1_700_000_100_000 }),
        size: { columns: 80, rows: 24 },
        ran: [],
      }
      checkFrame(real)
      await fc.asyncModelRun(() => ({ model: {}, real }), cmds)
    }),
    { numRuns: 200 },
  )
  // The runs exercised what they claim to: plans ran, downs were confirmed, panes attached.
  expect(cliAnswers.size).toBeGreaterThan(5)
  for (const kind of ['foreground agent', 'foreground resume', 'foreground shell', 'foreground down', 'foreground launch', 'attach split'])
    expect([kind, (tally[kind] ?? 0) > 0]).toStrictEqual([kind, true])
}, 600_000)
