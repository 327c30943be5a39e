/**
 * A model test of the interpreter's rollback, in memory: no subprocess runs. The spawn primitive
 * handed to `interpret` is a model of a backend's world (objects, each with a name and the launch
 * id of the run that created it) and of the processes that change it; fc.commands drives
 * sequences of runs over one world, with other actors' objects in it, a failure injected at every
 * kind of step (a create refused because its name is taken, a client that cannot be started, a
 * step that hangs past its time limit, an undo that fails) and interrupts (one, or a second that
 * forces) at every point: between steps, as a process starts, after its effect, during the undo.
 *
 * The world's law, the one the interpreter relies on (src/interpret.ts, mayHaveCreated): a client
 * that exits 1…128 on its own created nothing; one ended by a signal, or exiting 128+n, may have.
 * Undo steps remove an object only if it carries their run's launch id, as every backend's do.
 *
 * After every run:
 *   left     nothing the run created is left, unless the run completed (every step ran, or the
 *            guest command was reached), or a `left` event named it (its undo failed, or a second
 *            interrupt stopped the rollback)
 *   others   every object the run did not create is still there, as it was
 *   undo     an undo runs only for a step that created its object or may have (signalled), each
 *            once, newest first
 *   secrets  a failed step's output in the outcome holds no secret value
 * The end-to-end proof against stand-in executables stays in tests/interpret/model.test.ts,
 * rollback.test.ts and signals.test.ts.
 */
import { fc } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import {
  type Exit,
  type InterruptSignal,
  type Outcome,
  type RunEvent,
  type Spawn,
  interpret,
} from '../../src/interpret.js'
import { type Plan, type Step, plain, secret, step } from '../../src/plan/types.js'

// -------------------------------------------------------------------------------------------------
// the plans: creates of named objects (each with its undo), optionally ending in a guest command
// -------------------------------------------------------------------------------------------------

const names = ['a', 'b', 'c', 'd'] as const
type Name = (typeof names)[number]

/** The secret a step hands its client; a hostile client quotes it back on a failure. */
const secretName = 'MODEL_TOKEN'

const undoOf = (name: string): Step =>
  step(`remove ${name} if this run created it`, ['world', 'remove', name, ''], { launchId: [3] })

const createStep = (name: string, limited: boolean): Step =>
  step(`create ${name}`, ['world', 'create', name, ''], {
    launchId: [3],
    env: { inheritHost: false, vars: [secret(secretName), plain('MODE', 'create')] },
    undo: [undoOf(name)],
    ...(limited ? { timeoutMs: 5 } : {}),
  })

const guestStep = (code: number): Step => step('run the guest command', ['world', 'guest', String(code)], { stdio: 'passthrough' })

/** A create that fails the way the fault says, at its nth create (0-based), or an undo that fails. */
type Fault =
  | { readonly _tag: 'none' }
  /** The client cannot be started (ENOENT). */
  | { readonly _tag: 'notStarted'; readonly at: number }
  /** The client exits 1 on its own: created nothing (the world's law). */
  | { readonly _tag: 'refused'; readonly at: number }
  /** The client exits 130 as a signalled client does, having created its object or not. */
  | { readonly _tag: 'exit130'; readonly at: number; readonly effect: boolean }
  /** The client never answers (its step has a time limit), having created its object or not. */
  | { readonly _tag: 'hang'; readonly at: number; readonly effect: boolean }
  /** The nth undo step exits 1 and removes nothing. */
  | { readonly _tag: 'undoFails'; readonly at: number }

interface Interrupts {
  /** The tick (see World.tick) at which the first signal arrives; past the run's last: never. */
  readonly first: number
  /** How many ticks later a second one arrives (forcing), or null. */
  readonly second: number | null
  readonly signal: InterruptSignal
}

interface RunSpec {
  readonly creates: readonly Name[]
  /** Which creates have a time limit (a `hang` needs one, or it would hang the test). */
  readonly limited: readonly boolean[]
  readonly guest: number | null
  readonly fault: Fault
  readonly interrupts: Interrupts | null
}

const planOf = (r: RunSpec): Plan => {
  const steps = [
    ...r.creates.map((n, i) => createStep(n, r.limited[i] === true || (r.fault._tag === 'hang' && r.fault.at === i))),
    ...(r.guest === null ? [] : [guestStep(r.guest)]),
  ]
  return {
    version: 1,
    op: r.guest === null ? 'launch' : 'exec',
    backend: 'docker',
    bottle: 'demo',
    steps,
    secrets: [secretName],
    notes: [],
    exitCodeFrom: r.guest === null ? null : steps.length - 1,
  }
}

// -------------------------------------------------------------------------------------------------
// the world: objects by name, and the processes of one run
// -------------------------------------------------------------------------------------------------

type Effect = 'created' | 'none'
/** How a create ended, as the world saw it. */
interface CreateCall {
  readonly name: string
  readonly effect: Effect
  /** Exit 0, or ended so that it may have created (signalled, or 128+n): its undo may run. */
  readonly mayHave: boolean
}

class World {
  /** name → the launch id of the run that created it. */
  readonly objects = new Map<string, string>()
  // this run's account
  creates: CreateCall[] = []
  undos: string[] = []
  /** Points where an interrupt can arrive, counted through the run. */
  ticks = 0
  private handler: ((s: InterruptSignal) => void) | null = null
  private spec: RunSpec | null = null
  private createsSeen = 0
  private undosSeen = 0

  begin(spec: RunSpec): void {
    this.spec = spec
    this.creates = []
    this.undos = []
    this.ticks = 0
    this.createsSeen = 0
    this.undosSeen = 0
  }

  subscribe = (h: (s: InterruptSignal) => void): (() => void) => {
    this.handler = h
    return () => {
      this.handler = null
    }
  }

  /** One point of the run: an interrupt scheduled for it arrives now. */
  tick(): void {
    const i = this.spec?.interrupts
    const t = this.ticks++
    if (i === undefined || i === null || this.handler === null) return
    if (t === i.first || (i.second !== null && t === i.first + 1 + i.second)) this.handler(i.signal)
  }

  spawn: Spawn = (req) => {
    const spec = this.spec
    if (spec === null) throw new Error('spawn outside a run')
    let killedBy: string | null = null
    let wake: () => void = () => {}
    const killed = new Promise<void>((resolve) => {
      wake = resolve
    })
    const kill = (sig: NodeJS.Signals): void => {
      killedBy ??= sig
      wake()
    }
    const [, verb, name = '', id = ''] = [req.file, ...req.args]
    const run = async (): Promise<Exit> => {
      await Promise.resolve()
      this.tick()
      if (killedBy !== null) return { _tag: 'signalled', signal: killedBy, stdout: '', stderr: '' }
      switch (verb) {
        case 'create': {
          const k = this.createsSeen++
          const f = spec.fault
          const at = 'at' in f && f._tag !== 'undoFails' && f.at === k ? f : null
          if (at?._tag === 'notStarted') {
            this.creates.push({ name, effect: 'none', mayHave: false })
            return { _tag: 'notStarted', error: 'ENOENT' }
          }
          const taken = this.objects.has(name)
          if (taken || at?._tag === 'refused') {
            this.creates.push({ name, effect: 'none', mayHave: false })
            // A hostile client quotes its environment back in its complaint.
            return { _tag: 'exited', code: 1, stdout: '', stderr: `create ${name}: refused (env ${JSON.stringify(req.env)})\n` }
          }
          const effect = at?._tag === 'exit130' || at?._tag === 'hang' ? at.effect : true
          if (effect) this.objects.set(name, id)
          this.tick()
          if (at?._tag === 'hang') {
            // Answers nothing until its group is stopped (the step's time limit).
            await killed
            this.creates.push({ name, effect: effect ? 'created' : 'none', mayHave: true })
            return { _tag: 'signalled', signal: killedBy ?? 'SIGTERM', stdout: '', stderr: '' }
          }
          const signalled = killedBy !== null
          const code = at?._tag === 'exit130' ? 130 : 0
          this.creates.push({ name, effect: effect ? 'created' : 'none', mayHave: true })
          return signalled
            ? { _tag: 'signalled', signal: killedBy ?? 'SIGTERM', stdout: '', stderr: '' }
            : { _tag: 'exited', code, stdout: '', stderr: '' }
        }
        case 'remove': {
          const k = this.undosSeen++
          this.undos.push(name)
          if (spec.fault._tag === 'undoFails' && spec.fault.at === k) return { _tag: 'exited', code: 1, stdout: '', stderr: 'remove: failed\n' }
          if (this.objects.get(name) === id) this.objects.delete(name)
          this.tick()
          return { _tag: 'exited', code: 0, stdout: '', stderr: '' }
        }
        case 'guest': {
          this.tick()
          return killedBy !== null ? { _tag: 'signalled', signal: killedBy, stdout: '', stderr: '' } : { _tag: 'exited', code: Number(name), stdout: '', stderr: '' }
        }
        default:
          throw new Error(`the world has no verb ${String(verb)}`)
      }
    }
    return { exit: run(), kill, killGroup: kill }
  }
}

// -------------------------------------------------------------------------------------------------
// the commands
// -------------------------------------------------------------------------------------------------

interface Model {
  /** The objects other actors made, and what runs left: the world before the next run. */
  objects: Map<string, string>
  runs: number
}

type Cmd = fc.AsyncCommand<Model, World>

const secretValue = (n: number): string => `tok-${n}-<&>\u2028"quoted"`

class Run implements Cmd {
  constructor(readonly spec: RunSpec) {}
  check = () => true
  async run(model: Model, world: World) {
    model.runs += 1
    const launchId = model.runs.toString(16).padStart(16, '0')
    const value = secretValue(model.runs)
    const before = new Map(world.objects)
    const events: RunEvent[] = []
    world.begin(this.spec)
    const outcome = await interpret(
      planOf(this.spec),
      {
        hostEnv: { [secretName]: value },
        launchId,
        interrupts: world.subscribe,
        onEvent: (e) => {
          events.push(e)
          if (e._tag === 'stepStarted' || e._tag === 'undoStarted') world.tick()
        },
      },
      world.spawn,
    )
    // An interrupted run ends 128+n, never 0; one that reached the guest command keeps its bottle.
    const completed = (outcome._tag === 'exited' && outcome.code === 0) || reachedGuest(events, this.spec)

    // others: nothing this run did not create was removed or replaced.
    for (const [name, owner] of before) expect(world.objects.get(name), `${name} of ${owner}`).toBe(owner)

    // left: what this run created is gone, unless the run completed or said it may be left.
    const leftNamed = new Set(events.flatMap((e) => (e._tag === 'left' ? e.steps.map((s) => s.argv[2] ?? '') : [])))
    const ours = [...world.objects].filter(([, owner]) => owner === launchId).map(([n]) => n)
    if (completed) expect(ours.sort()).toEqual(world.creates.filter((c) => c.effect === 'created').map((c) => c.name).sort())
    else for (const n of ours) expect(leftNamed, `${n} left unsaid`).toContain(n)

    // undo: each undo is for a create that may have made its object, newest first, each once.
    const mayHave = world.creates.filter((c) => c.mayHave).map((c) => c.name).reverse()
    expect(world.undos).toEqual(mayHave.slice(0, world.undos.length))
    if (!completed && !events.some((e) => e._tag === 'forced')) expect(world.undos).toEqual(mayHave)

    // secrets: a failed step's output comes back with the value's name, never the value.
    if (outcome._tag === 'stepFailed') {
      expect(JSON.stringify(outcome)).not.toContain('tok-')
      expect(outcome.argv).toEqual(['world', 'create', outcome.argv[2], '<launch id>'])
      if (outcome.stderr !== '') expect(outcome.stderr).toContain(`<secret ${secretName}>`)
    }
    expectOutcomeFits(outcome, this.spec, events)
    model.objects = new Map(world.objects)
  }

  toString = () => `run ${JSON.stringify(this.spec)}`
}

/** The guest command was started (the run's result step was reached). */
const reachedGuest = (events: readonly RunEvent[], spec: RunSpec): boolean =>
  spec.guest !== null && events.some((e) => e._tag === 'stepStarted' && e.index === spec.creates.length)

/** With nothing injected, the outcome is the plain one: 0, the guest's code, or a refused create. */
const expectOutcomeFits = (outcome: Outcome, spec: RunSpec, events: readonly RunEvent[]): void => {
  if (spec.interrupts !== null || spec.fault._tag !== 'none') return
  if (outcome._tag === 'stepFailed') {
    expect(outcome.code).toBe(1)
    expect(outcome.title).toBe(`create ${spec.creates[outcome.index]}`)
  } else expect(outcome).toEqual({ _tag: 'exited', code: spec.guest ?? 0 })
  expect(events.filter((e) => e._tag === 'stepStarted').length).toBe(
    outcome._tag === 'stepFailed' ? outcome.index + 1 : spec.creates.length + (spec.guest === null ? 0 : 1),
  )
}

/** Another actor makes an object (another run, the user's own container): a run must not touch it. */
class Foreign implements Cmd {
  constructor(readonly name: Name) {}
  check = (m: Readonly<Model>) => !m.objects.has(this.name)
  async run(model: Model, world: World) {
    world.objects.set(this.name, `other-${this.name}`)
    model.objects = new Map(world.objects)
  }

  toString = () => `foreign ${this.name}`
}

/** `down`: the object goes, whoever made it. */
class Down implements Cmd {
  constructor(readonly name: Name) {}
  check = () => true
  async run(model: Model, world: World) {
    world.objects.delete(this.name)
    model.objects = new Map(world.objects)
  }

  toString = () => `down ${this.name}`
}

const faultArb = (creates: number): fc.Arbitrary<Fault> => {
  const at = fc.nat({ max: Math.max(0, creates - 1) })
  return fc.oneof(
    { arbitrary: fc.constant<Fault>({ _tag: 'none' }), weight: 3 },
    at.map((k): Fault => ({ _tag: 'notStarted', at: k })),
    at.map((k): Fault => ({ _tag: 'refused', at: k })),
    fc.tuple(at, fc.boolean()).map(([k, effect]): Fault => ({ _tag: 'exit130', at: k, effect })),
    fc.tuple(at, fc.boolean()).map(([k, effect]): Fault => ({ _tag: 'hang', at: k, effect })),
    fc.nat({ max: 4 }).map((k): Fault => ({ _tag: 'undoFails', at: k })),
  )
}

const interruptsArb: fc.Arbitrary<Interrupts | null> = fc.option(
  fc.record({
    first: fc.nat({ max: 24 }),
    second: fc.option(fc.nat({ max: 8 })),
    signal: fc.constantFrom<InterruptSignal>('SIGINT', 'SIGTERM', 'SIGHUP'),
  }),
  { freq: 2 },
)

const runSpecArb: fc.Arbitrary<RunSpec> = fc
  .array(fc.constantFrom(...names), { minLength: 1, maxLength: 4 })
  .chain((creates) =>
    fc.record({
      creates: fc.constant(creates),
      limited: fc.array(fc.boolean(), { minLength: creates.length, maxLength: creates.length }),
      guest: fc.option(fc.constantFrom(0, 1, 3, 125), { freq: 3 }),
      fault: faultArb(creates.length),
      interrupts: interruptsArb,
    }),
  )

const nameArb = fc.constantFrom(...names)

const commandsArb = fc.commands(
  [
    runSpecArb.map((s) => new Run(s)),
    nameArb.map((n) => new Foreign(n)),
    nameArb.map((n) => new Down(n)),
  ],
  { maxCommands: 8 },
)

// In memory, a run costs well under a millisecond (a `hang` waits for its 5 ms limit).
const numRuns = process.env.CI ? 1000 : 500

describe('the interpreter against an in-memory model of a backend world (no subprocess)', () => {
  it('leaves nothing a failed or interrupted run created, and never undoes what it did not create', async () => {
    await fc.assert(
      fc.asyncProperty(commandsArb, async (cmds) => {
        await fc.asyncModelRun(() => ({ model: { objects: new Map<string, string>(), runs: 0 }, real: new World() }), cmds)
      }),
      { numRuns },
    )
  }, 120_000)
})
