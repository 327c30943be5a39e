/**
 * The dashboard's row of `npm run bench` (BENCH_ROWS=dash): with 200 bottles listed, the median
 * time from a key press to a drawn frame (update + view, in-process: what the terminal shell does
 * between a keypress event and its one write), and how many processes one refresh starts.
 */
import { type Event, type Row, type State, initialState, rowKey, update } from '../src/dash/model.js'
import { view } from '../src/dash/view.js'
import type { BackendName } from '../src/plan/types.js'

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

export const dashFigures = (presses = 2000): void => {
  const backends: BackendName[] = ['docker', 'podman', 'bwrap']
  const now = Date.now()
  let s: State = initialState({ backends, declared: [], inTmux: true, now })
  for (const [i, b] of backends.entries()) {
    const rows: Row[] = Array.from({ length: i === 0 ? 68 : 66 }, (_, n) => ({
      key: rowKey(b, `agent-${b}-${n}`), name: `agent-${b}-${n}`, backend: b, state: n % 3 === 0 ? 'exited' : 'running',
      createdAt: now - n * 60_000, image: `ghcr.io/acme/agent:${n}`, drift: n % 5 === 0 ? 'image' : 'no', declared: false,
    }))
    s = update(s, { _tag: 'listed', backend: b, rows })[0]
  }
  const size = { columns: 120, rows: 40 }
  const keys: Event[] = [{ _tag: 'key', key: 'down' }, { _tag: 'key', key: { char: 'j' } }, { _tag: 'key', key: 'up' }, { _tag: 'key', key: { char: '/' } }, { _tag: 'key', key: { char: 'a' } }, { _tag: 'key', key: 'escape' }]
  const times: number[] = []
  for (let i = 0; i < presses; i++) {
    const t = process.hrtime.bigint()
    s = update(s, keys[i % keys.length] as Event)[0]
    view(s, size, { color: true })
    times.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  const [, fx] = update(s, { _tag: 'tick', now: now + 2000 })
  const spawns = fx.filter((e) => e._tag === 'list' || e._tag === 'listPanes').length
  console.log(`dashboard, ${s.backends.map((b) => s.listed[b]?.length ?? 0).reduce((a, b) => a + b, 0)} bottles on ${backends.length} backends, ${size.columns}x${size.rows}:`)
  console.log(`  key press → drawn frame (update + view), median of ${presses}: ${median(times).toFixed(3)} ms`)
  console.log(`  processes one refresh starts: ${spawns} (backends + 1: one listing each, one tmux list-panes -a)`)
}
