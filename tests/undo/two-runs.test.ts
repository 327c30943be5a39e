/**
 * A property over generated interleavings of two runs of bottle against a stand-in docker
 * (tests/standins; not the real tool): two sequences of launch / interrupted launch / launch
 * whose create client exits 130 while the engine finishes later / down, on the same bottle name,
 * run at the same time as real processes. Whatever the interleaving, a run never removes what
 * another run created: every container an undo removes carries the launch id of the run that
 * removes it (`down`, the user's explicit op, is by name and exempt).
 *
 * The stand-in records each removal with the remover's STANDIN_RUN_TAG (one per bottle process)
 * and the removed container's labels. bottle hands docker only allow-listed host variables, so the
 * tag travels in the stand-in knob file of a HOME of the process's own (tests/standins/knobs.ts);
 * XDG_STATE_HOME keeps one state root, so the runs still share the launch records.
 */
import { fc } from '@fast-check/vitest'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bottleProcess, sandbox } from '../standins/harness.js'

type Op =
  | { readonly kind: 'launch' }
  | { readonly kind: 'interrupted'; readonly afterMs: number; readonly signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP' }
  | { readonly kind: 'late' }
  | { readonly kind: 'down' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'launch' } as const),
  fc.record({ kind: fc.constant('interrupted' as const), afterMs: fc.integer({ min: 0, max: 700 }), signal: fc.constantFrom('SIGINT', 'SIGTERM', 'SIGHUP') }),
  fc.constant({ kind: 'late' } as const),
  fc.constant({ kind: 'down' } as const),
)

const runArb = fc.array(opArb, { minLength: 1, maxLength: 3 })

describe('two runs on one bottle name, interleaved, against a stand-in docker', () => {
  it('a run never removes what another run created', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, runArb, fc.integer({ min: 0, max: 300 }), async (runA, runB, stagger) => {
        const sb = sandbox()
        try {
          const homeOf = (tag: string): string => {
            const home = join(sb.root, 'homes', tag)
            mkdirSync(home, { recursive: true })
            return home
          }
          const play = async (who: string, ops: readonly Op[]): Promise<void> => {
            for (const [i, op] of ops.entries()) {
              const tag = `${who}${i}-${op.kind}`
              const env = { ...sb.env, HOME: homeOf(tag), XDG_STATE_HOME: join(sb.root, '.local', 'state'), STANDIN_RUN_TAG: tag, STANDIN_LATE_MS: '800', ...(op.kind === 'late' ? { STANDIN_LATE_CREATE: '1' } : {}) }
              const args = op.kind === 'down' ? ['run', 'down', 'demo', '-b', 'docker', '-q'] : ['run', 'launch', 'demo', '-b', 'docker', '-q', '--workdir', sb.workdir]
              const child = bottleProcess(args, env, { detached: true })
              if (op.kind === 'interrupted') {
                await new Promise((r) => setTimeout(r, op.afterMs))
                try {
                  process.kill(-(child.pid ?? 0), op.signal)
                } catch {
                  // It had finished already.
                }
              }
              await child
            }
          }
          await Promise.all([play('A', runA), new Promise((r) => setTimeout(r, stagger)).then(() => play('B', runB))])
          // Let any late engine create land, then look at every removal.
          await new Promise((r) => setTimeout(r, 1000))
          const removedFile = join(sb.root, 'state', 'removed.jsonl')
          const removals = existsSync(removedFile)
            ? readFileSync(removedFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { by: string; labels: string[] })
            : []
          const idOf = (tag: string): string | undefined =>
            sb.log().find((inv) => inv.env.HOME === join(sb.root, 'homes', tag) && inv.argv[0] === 'create')?.argv.find((a) => a.startsWith('dev.bottle.launch-id='))
          for (const r of removals) {
            if (r.by.endsWith('-down')) continue
            expect(r.labels).toContain(idOf(r.by))
          }
        } finally {
          // Whatever the runs left (a launched bottle and its egress proxy) goes down before the sandbox does.
          await bottleProcess(['run', 'down', 'demo', '-b', 'docker', '-q'], { ...sb.env, XDG_STATE_HOME: join(sb.root, '.local', 'state') })
          sb.dispose()
        }
      }),
      { numRuns: process.env.CI ? 10 : 6 },
    )
  }, 300_000)
})
