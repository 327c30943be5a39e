/**
 * Two runs of bottle on one bottle name against a stand-in kubectl (tests/standins/kubectl.mjs;
 * not a cluster): the loser of two same-name launches, interrupted while its create is in flight,
 * never deletes the winner's Pod or Secret; and a property over generated interleavings of launch
 * / interrupted launch / down: every object an undo deletes carries the launch id of the run that
 * deletes it (`down`, the user's explicit op, goes by name and is exempt).
 *
 * Each bottle process gets a HOME of its own (the stand-in's knobs, STANDIN_RUN_TAG among them,
 * travel in a file there: tests/standins/knobs.ts); XDG_STATE_HOME is shared, so the runs share
 * the launch records, and the stand-in's state file is shared, so they share one "cluster".
 */
import { fc } from '@fast-check/vitest'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bottleProcess, standinPath, until } from '../standins/harness.js'

interface Cluster {
  readonly root: string
  readonly env: (tag: string, more?: Record<string, string>) => Record<string, string>
  /** The objects in the stand-in's state: `Kind/namespace/name` → its labels. */
  readonly objects: () => Record<string, Record<string, string>>
  readonly removals: () => { by: string; kind: string; name: string; labels: Record<string, string> }[]
  /** The launch id in the JSON of the run's first create, if it got that far. */
  readonly idOf: (tag: string) => string | undefined
  readonly createSeen: (tag: string, kind: string) => boolean
  readonly dispose: () => void
}

const cluster = (): Cluster => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-k8s-two-runs-'))
  const state = join(root, 'state.json')
  const log = join(root, 'calls.jsonl')
  const removed = join(root, 'removed.jsonl')
  const homeOf = (tag: string): string => join(root, 'homes', tag)
  const jsonl = <T>(file: string): T[] =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T) : []
  type Call = { argv: string[]; env: Record<string, string>; stdin: string | null }
  const creates = (tag: string) =>
    jsonl<Call>(log)
      .filter((c) => c.env.HOME === homeOf(tag) && c.argv.includes('create') && c.stdin !== null)
      .map((c) => JSON.parse(c.stdin ?? '{}') as { kind: string; metadata: { labels?: Record<string, string> } })
  return {
    root,
    env: (tag, more = {}) => {
      mkdirSync(homeOf(tag), { recursive: true })
      return {
        PATH: standinPath,
        HOME: homeOf(tag),
        XDG_STATE_HOME: join(root, 'xdg-state'),
        BOTTLE_KUBECTL_STATE: state,
        BOTTLE_KUBECTL_LOG: log,
        BOTTLE_KUBECTL_REMOVED: removed,
        STANDIN_RUN_TAG: tag,
        ...more,
      }
    },
    objects: () =>
      existsSync(state)
        ? Object.fromEntries(Object.entries(JSON.parse(readFileSync(state, 'utf8')) as Record<string, { metadata: { labels?: Record<string, string> } }>).map(([k, o]) => [k, o.metadata.labels ?? {}]))
        : {},
    removals: () => jsonl(removed),
    idOf: (tag) => creates(tag)[0]?.metadata.labels?.['dev.bottle.launch-id'],
    createSeen: (tag, kind) => creates(tag).some((o) => o.kind === kind),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  }
}

// network open: the egress door's own objects are tested in tests/interpret/kubernetes.test.ts.
const launchArgs = ['run', 'launch', 'demo', '-b', 'kubernetes', '-q', '--workdir', '/src/app', '--network', 'open']
const downArgs = ['run', 'down', 'demo', '-b', 'kubernetes', '-q']

/** Forgets the winner's launch record, so that a second launch gets past that check to the cluster. */
const forgetRecord = (c: Cluster): void => rmSync(join(c.root, 'xdg-state', 'bottle', 'kubernetes', 'demo'), { recursive: true, force: true })

describe('the loser of two same-name launches, against a stand-in kubectl', () => {
  /** The winner's bottle, launched; its record forgotten, so a second launch reaches the cluster. */
  const winnerLaunched = async (c: Cluster): Promise<void> => {
    expect((await bottleProcess(launchArgs, c.env('winner'))).exitCode).toBe(0)
    expect(Object.keys(c.objects())).toStrictEqual(['Secret/default/demo-secrets', 'Pod/default/demo'])
    forgetRecord(c)
  }

  it('its Secret create refused (AlreadyExists) but its client killed before saying so: its undo leaves the winner\'s Secret and Pod', async () => {
    const c = cluster()
    try {
      await winnerLaunched(c)
      const before = c.objects()
      // Killed by a signal, the create may have created something: its undo runs.
      const r = await bottleProcess(launchArgs, c.env('loser', { BOTTLE_KUBECTL_CREATE_DIES: '1' }))
      expect(r.exitCode).not.toBe(0)
      expect(r.stderr).toMatch(/^bottle: step 1\/\d failed/m)
      expect(c.removals()).toStrictEqual([])
      expect(c.objects()).toStrictEqual(before)
      expect(before['Secret/default/demo-secrets']?.['dev.bottle.launch-id']).toBe(c.idOf('winner'))
    } finally {
      c.dispose()
    }
  }, 60_000)

  it('its Pod create refused, client killed: it deletes its own Secret and leaves the winner\'s Pod', async () => {
    const c = cluster()
    try {
      await winnerLaunched(c)
      // The winner's Secret gone (a half-done down), its Pod still there.
      const state = join(c.root, 'state.json')
      const objects = JSON.parse(readFileSync(state, 'utf8')) as Record<string, unknown>
      delete objects['Secret/default/demo-secrets']
      writeFileSync(state, JSON.stringify(objects))
      const winnerPod = c.objects()['Pod/default/demo']
      const r = await bottleProcess(launchArgs, c.env('loser', { BOTTLE_KUBECTL_CREATE_DIES: '1', BOTTLE_KUBECTL_DIES_ON: 'Pod' }))
      expect(r.stderr).toMatch(/^bottle: step 2\/\d failed/m)
      expect(c.objects()).toStrictEqual({ 'Pod/default/demo': winnerPod })
      expect(c.removals().map((x) => [x.kind, x.labels['dev.bottle.launch-id']])).toStrictEqual([['Secret', c.idOf('loser')]])
    } finally {
      c.dispose()
    }
  }, 60_000)

  it('interrupted while its Secret create is in flight (SIGINT): exit 130, the winner\'s objects stay', async () => {
    const c = cluster()
    try {
      await winnerLaunched(c)
      const before = c.objects()
      const loser = bottleProcess(launchArgs, c.env('loser', { BOTTLE_KUBECTL_SLOW_MS: '1500' }), { detached: true })
      await until(() => c.createSeen('loser', 'Secret'))
      process.kill(-(loser.pid ?? 0), 'SIGINT')
      expect((await loser).exitCode).toBe(130)
      expect(c.removals()).toStrictEqual([])
      expect(c.objects()).toStrictEqual(before)
    } finally {
      c.dispose()
    }
  }, 60_000)

  it('a create the server finishes after its client was killed: the undo looks again, finds it and deletes it', async () => {
    const c = cluster()
    try {
      const r = await bottleProcess(launchArgs, c.env('alone', { BOTTLE_KUBECTL_CREATE_DIES: 'late' }))
      expect(r.exitCode).not.toBe(0)
      // Poll: nothing may turn up later either.
      const deadline = Date.now() + 3000
      while (Date.now() < deadline) {
        expect(c.objects()).toStrictEqual({})
        await new Promise((res) => setTimeout(res, 200))
      }
      expect(c.removals().map((x) => [x.kind, x.labels['dev.bottle.launch-id']])).toStrictEqual([['Secret', c.idOf('alone')]])
    } finally {
      c.dispose()
    }
  }, 60_000)
})

type Op =
  | { readonly kind: 'launch' }
  | { readonly kind: 'interrupted'; readonly afterMs: number; readonly signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP' }
  /** A launch whose create clients are killed once the server acted (created or refused). */
  | { readonly kind: 'killed' }
  /** A launch whose create client is killed at once, the server creating the object later. */
  | { readonly kind: 'late' }
  | { readonly kind: 'down' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'launch' } as const),
  fc.record({ kind: fc.constant('interrupted' as const), afterMs: fc.integer({ min: 0, max: 1500 }), signal: fc.constantFrom('SIGINT', 'SIGTERM', 'SIGHUP') }),
  fc.constant({ kind: 'killed' } as const),
  fc.constant({ kind: 'late' } as const),
  fc.constant({ kind: 'down' } as const),
)

describe('two runs on one bottle name, interleaved, against a stand-in kubectl', () => {
  it('a run never deletes what another run created', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 2 }), fc.array(opArb, { minLength: 1, maxLength: 2 }), fc.integer({ min: 0, max: 300 }), async (runA, runB, stagger) => {
        const c = cluster()
        try {
          const play = async (who: string, ops: readonly Op[]): Promise<void> => {
            for (const [i, op] of ops.entries()) {
              const tag = `${who}${i}-${op.kind}`
              // A slow server: an interrupt lands while a create is in flight, and the two runs overlap.
              const env = c.env(tag, {
                BOTTLE_KUBECTL_SLOW_MS: '300',
                ...(op.kind === 'killed' ? { BOTTLE_KUBECTL_CREATE_DIES: '1' } : op.kind === 'late' ? { BOTTLE_KUBECTL_CREATE_DIES: 'late' } : {}),
              })
              // Each launch has no record to stop it: the runs meet at the cluster, as two hosts would.
              if (op.kind !== 'down') forgetRecord(c)
              const child = bottleProcess(op.kind === 'down' ? downArgs : launchArgs, env, { detached: true })
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
          // Let a late create land.
          await new Promise((r) => setTimeout(r, 1200))
          for (const r of c.removals()) {
            if (r.by.endsWith('-down')) continue
            expect(r.labels['dev.bottle.launch-id']).toBe(c.idOf(r.by))
          }
        } finally {
          c.dispose()
        }
      }),
      { numRuns: process.env.CI ? 8 : 4 },
    )
  }, 400_000)
})
