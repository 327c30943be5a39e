/**
 * update() cases the model test reaches only by chance: what one refresh asks for, the tick
 * slowing down, the pane keys outside tmux, a confirm answered with anything but y, and the pane
 * a split opened found in tmux's next pane list.
 */
import { describe, expect, it } from 'vitest'
import { type Row, type State, initialState, rowKey, tickDelay, update } from '../../src/dash/model.js'
import type { BackendName } from '../../src/plan/types.js'

const row = (name: string, backend: BackendName): Row => ({
  key: rowKey(backend, name), name, backend, state: 'running', createdAt: 0, image: 'node:22', drift: 'no', declared: false,
})
const start = (inTmux: boolean): State => {
  const s = initialState({ backends: ['docker', 'podman', 'bwrap'], declared: [], inTmux, now: 0 })
  return update(s, { _tag: 'listed', backend: 'docker', rows: [row('web', 'docker')] })[0]
}

describe('refresh', () => {
  it('a tick lists each backend once and the panes once (in tmux): backends + 1; none again while in flight', () => {
    const [s1, fx] = update(start(true), { _tag: 'tick', now: 2000 })
    expect(fx).toStrictEqual([{ _tag: 'list', backend: 'docker' }, { _tag: 'list', backend: 'podman' }, { _tag: 'list', backend: 'bwrap' }, { _tag: 'listPanes' }])
    const [s2, again] = update(s1, { _tag: 'tick', now: 4000 })
    expect(again).toStrictEqual([{ _tag: 'listPanes' }])
    const [, afterOne] = update(update(s2, { _tag: 'listFailed', backend: 'podman', reason: 'x' })[0], { _tag: 'tick', now: 6000 })
    expect(afterOne).toStrictEqual([{ _tag: 'list', backend: 'podman' }, { _tag: 'listPanes' }])
    // Outside tmux there is no pane list.
    expect(update(start(false), { _tag: 'tick', now: 2000 })[1]).toHaveLength(3)
  })

  it('the tick is 2 s, and slows to 10 s while the listings do not change', () => {
    let s = start(false)
    expect(tickDelay(s)).toBe(2000)
    for (let i = 0; i < 100; i++) s = update(s, { _tag: 'listed', backend: 'docker', rows: [row('web', 'docker')] })[0]
    expect(tickDelay(s)).toBe(10_000)
    s = update(s, { _tag: 'listed', backend: 'docker', rows: [row('web', 'docker'), row('api', 'docker')] })[0]
    expect(tickDelay(s)).toBe(2000)
  })
})

describe('keys', () => {
  it('s, r and w outside tmux say why not, and run nothing', () => {
    for (const char of ['s', 'r', 'w', 'S', 'R', 'W']) {
      const [s, fx] = update(start(false), { _tag: 'key', key: { char } })
      expect(fx).toStrictEqual([])
      expect(s.message).toMatch(/^not inside tmux/)
    }
  })

  it('d asks for the plan, shows the confirm line; n keeps the bottle', () => {
    const [s1, fx] = update(start(true), { _tag: 'key', key: { char: 'd' } })
    expect(fx).toStrictEqual([{ _tag: 'compile', request: { action: 'down', row: 'docker/web', words: ['down', 'web', '-b', 'docker'] } }])
    const plan = { op: 'down' } as never
    const [s2, none] = update(s1, { _tag: 'planned', request: { action: 'down', row: 'docker/web', words: ['down', 'web', '-b', 'docker'] }, result: { _tag: 'plan', plan } })
    expect([s2.mode, none]).toStrictEqual(['confirm', []])
    const [s3, kept] = update(s2, { _tag: 'key', key: { char: 'n' } })
    expect([s3.mode, kept, s3.message]).toStrictEqual(['list', [], 'down cancelled'])
  })

  it('the pane a split opened is the one new pane in the next list, running, then exited', () => {
    let s = update(start(true), { _tag: 'panes', panes: [{ id: '%0', dead: false }] })[0]
    s = update(s, { _tag: 'finished', action: 'split', row: 'docker/web', code: 0 })[0]
    s = update(s, { _tag: 'panes', panes: [{ id: '%0', dead: false }, { id: '%3', dead: false }] })[0]
    expect(s.panes).toStrictEqual({ 'docker/web': { id: '%3', dead: false } })
    s = update(s, { _tag: 'panes', panes: [{ id: '%0', dead: false }, { id: '%3', dead: true }] })[0]
    expect(s.panes).toStrictEqual({ 'docker/web': { id: '%3', dead: true } })
    s = update(s, { _tag: 'panes', panes: [{ id: '%0', dead: false }] })[0]
    expect(s.panes).toStrictEqual({})
  })
})
