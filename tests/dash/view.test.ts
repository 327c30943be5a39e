/**
 * The dashboard's frames (golden, at two sizes), its width arithmetic, and what it does with
 * strings a container's creator chose: nothing but printing characters reaches the screen.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { type Row, type State, declaredRow, initialState, rowKey, update } from '../../src/dash/model.js'
import { charColumns, columns, fit, safeText } from '../../src/dash/text.js'
import { view } from '../../src/dash/view.js'
import type { BackendName, Plan } from '../../src/plan/types.js'
import { docker } from '../../src/backends/docker.js'
import { fixedHost } from '../arbitraries.js'
import { demo, planFor } from '../backends/fixtures.js'

const now = Date.UTC(2026, 10, 30, 4, 0, 0)
const row = (name: string, backend: BackendName, state: string, ageMin: number, image: string | null, drift: string): Row => ({
  key: rowKey(backend, name), name, backend, state, createdAt: now - ageMin * 60_000, image, drift, declared: false,
})

/** Real plans of the demo bottle on docker, as compile makes them. */
const webSpec = { ...demo, name: 'web', prompt: null }
const plan: Plan = planFor(docker, { _tag: 'agent', args: [], tty: true }, webSpec, fixedHost(webSpec, { _tag: 'down' }, true))
const downPlan: Plan = planFor(docker, { _tag: 'down' }, webSpec, fixedHost(webSpec, { _tag: 'down' }))

/** Two backends listed (one with a hostile name), one failing, a declared bottle, a pane opened. */
const busy = (): State => {
  let s = initialState({ backends: ['docker', 'podman', 'smolvm'], declared: [declaredRow('later', 'podman')], inTmux: true, now })
  const events = [
    { _tag: 'listed', backend: 'docker', rows: [row('web', 'docker', 'running', 3, 'node:22', 'no'), row('日本語の名前', 'docker', 'exited', 125, 'ghcr.io/acme/agent-image:2026-11-30', 'image')] },
    { _tag: 'listed', backend: 'podman', rows: [row('api\x1b]0;pwned\x07', 'podman', 'running', 3000, null, 'unknown')] },
    { _tag: 'listFailed', backend: 'smolvm', reason: 'smolvm: not found on PATH' },
    { _tag: 'panes', panes: [{ id: '%1', dead: false }] },
    { _tag: 'finished', action: 'split', row: 'docker/web', code: 0 },
    { _tag: 'panes', panes: [{ id: '%1', dead: false }, { id: '%4', dead: false }] },
  ] as const
  for (const e of events) s = update(s, e)[0]
  // The selection up to web, the first row.
  for (let i = 0; i < 3; i++) s = update(s, { _tag: 'key', key: 'up' })[0]
  return { ...s, message: null }
}

describe('frames', () => {
  it('100x12: every column', () => {
    expect(view(busy(), { columns: 100, rows: 12 }, { color: false }).join('\n')).toMatchInlineSnapshot(`
      "bottle dash: 4 bottles on docker, podman, smolvm  (? help, q quit)
      smolvm: not listed: smolvm: not found on PATH
        NAME          BACKEND  STATE     AGE  IMAGE                     DRIFT    AGENT
      > web           docker   running   3m   node:22                   no       %4 running
        日本語の名前  docker   exited    2h   ghcr.io/acme/agent-imag…  image    not running
        api           podman   running   2d   -                         unknown  not running
        later         podman   declared
      enter agent  c resume  s/r/w pane  x shell  n launch  d down  p plan  / filter  ? help  q quit"
    `)
  })

  it('40x8: columns dropped, nothing wraps', () => {
    expect(view(busy(), { columns: 40, rows: 8 }, { color: false }).join('\n')).toMatchInlineSnapshot(`
      "bottle dash: 4 bottles on docker, podma…
      smolvm: not listed: smolvm: not found o…
        NAME          STATE     AGENT
      > web           running   %4 running
        日本語の名前  exited    not running
        api           running   not running
        later         declared
      enter agent  c resume  s/r/w pane  x sh…"
    `)
  })

  it('80x16 with the plan pane open on the selection', () => {
    const s = { ...busy(), planPane: true, plans: { 'agent docker/web': { _tag: 'plan' as const, plan } } }
    expect(view(s, { columns: 80, rows: 16 }, { color: false }).join('\n')).toMatchInlineSnapshot(`
      "bottle dash: 4 bottles on docker, podman, smolvm  (? help, q quit)
      smolvm: not listed: smolvm: not found on PATH
        NAME          BACKEND  STATE     AGE  DRIFT    AGENT
      > web           docker   running   3m   no       %4 running
        日本語の名前  docker   exited    2h   image    not running
        api           podman   running   2d   unknown  not running
        later         podman   declared
      plan: bottle run agent web -b docker
      agent web on docker: 1 step
      secrets, by name, from the host env: CLAUDE_CODE_OAUTH_TOKEN
      [1/1] run claude as node
          docker exec -i -t -u node -e HOME=/home/node -e USER=node -e CI=1 -e CLAUDE…
          env: host env, with CLAUDE_CODE_OAUTH_TOKEN (secret, from the host env)
          in the bottle: as node (HOME=/home/node) in /src/app, with a TTY: claude
          if interrupted: stop the command this run started in web
      enter agent  c resume  s/r/w pane  x shell  n launch  d down  p plan  / filter …"
    `)
  })

  it('down: the confirm line, under the down plan', () => {
    const s: State = { ...busy(), mode: 'confirm', confirm: { row: 'docker/web', plan: downPlan } }
    expect(view(s, { columns: 60, rows: 14 }, { color: false }).join('\n')).toMatchInlineSnapshot(`
      "bottle dash: 4 bottles on docker, podman, smolvm  (? help, …
      smolvm: not listed: smolvm: not found on PATH
        NAME          BACKEND  STATE     AGE  DRIFT    AGENT
      > web           docker   running   3m   no       %4 running
        日本語の名前  docker   exited    2h   image    not running
        api           podman   running   2d   unknown  not running
        later         podman   declared
      plan: the down this asks about
      down web on docker: 2 steps
      [1/2] remove the container web
          docker rm -f web
      [2/2] forget the launch record /home/me/.local/state/bottle…
          /bin/sh -c 'rm -f -- "$1/record.json" && { rmdir -- "$1…
      take web down on docker? y: yes (the 2 steps above); any ot…"
    `)
  })

  it('NO_COLOR: no escape sequence at all; with colour, the selection is inverse and a declared bottle dim', () => {
    expect(view(busy(), { columns: 80, rows: 12 }, { color: false }).join('\n')).not.toContain('\x1b')
    const coloured = view(busy(), { columns: 80, rows: 12 }, { color: true })
    expect(coloured.filter((l) => l.startsWith('\x1b[7m'))).toHaveLength(1)
    expect(coloured.filter((l) => l.startsWith('\x1b[2m'))).toHaveLength(1)
  })
})

describe('width', () => {
  it.each([
    ['web', 3], ['日本語', 6], ['\u{1f600}', 2], ['e\u0301', 1], ['한국어', 6], ['ｆｕｌｌ', 8], ['a\u200db', 2], ['\u2705ok', 4],
  ])('%s is %i columns', (s, n) => {
    expect(columns(s)).toBe(n)
  })

  test.prop([fc.string({ unit: 'grapheme', maxLength: 30 }), fc.integer({ min: 0, max: 40 })])('fit never exceeds the width, and keeps what fits', (s, w) => {
    const f = fit(s, w)
    expect(columns(f)).toBeLessThanOrEqual(w)
    if (columns(s) <= w) expect(f).toBe(s)
  })
})

/** ESC, CSI, OSC, DCS, C1 controls and bidi overrides, among ordinary and wide text. */
const hostilePart = fc.oneof(
  fc.constantFrom('\x1b[2J', '\x1b[31m', '\x1b]0;title\x07', '\x1b]52;c;ZXZpbA==\x1b\\', '\x1bP1$r\x1b\\', '\x9b31m', '\x9d8;;http://x\x9c', '\x1bc', '\x1b(0', '\x07', '\x08', '\r', '\n', '\x7f', '\u202e', '\u2066'),
  fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
)
const hostileArb = fc.array(hostilePart, { maxLength: 12 }).map((parts) => parts.join(''))

describe('strings from the engine', () => {
  test.prop([hostileArb], { numRuns: 300 })('safeText leaves no control character, no ESC and no bidi override', (s) => {
    expect(safeText(s)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/)
  })

  test.prop([hostileArb, hostileArb, hostileArb, fc.integer({ min: 1, max: 120 })], { numRuns: 200 })(
    'a frame of hostile names, images, states and reasons holds only printing characters, none past the edge',
    (name, image, reason, width) => {
      let s = initialState({ backends: ['docker', 'podman'], declared: [], inTmux: false, now })
      s = update(s, { _tag: 'listed', backend: 'docker', rows: [row(name, 'docker', image, 1, image, name)] })[0]
      s = update(s, { _tag: 'listFailed', backend: 'podman', reason })[0]
      const frame = view(s, { columns: width, rows: 20 }, { color: false })
      for (const l of frame) {
        expect(l).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
        expect(columns(l)).toBeLessThanOrEqual(width)
      }
    },
  )

  it('keeps the printable text of a name', () => {
    expect(safeText('web\x1b]0;pwned\x07-1\x1b[31m')).toBe('web-1')
    expect(charColumns('a')).toBe(1)
  })
})
