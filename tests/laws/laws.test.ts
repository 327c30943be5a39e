/**
 * The law suite: DESIGN.md's invariants 1, 2 and 4-8, checked the same way for every backend in
 * src/backends/index.ts (invariant 3, the `sh -c` round trip, is in shell-roundtrip.test.ts).
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { type Operation, compile } from '../../src/compile.js'
import { renderJson, renderSh, renderText } from '../../src/plan/render.js'
import type { BackendName, Plan, Step } from '../../src/plan/types.js'
import { type BottleSpec, resolveSpec } from '../../src/spec/spec.js'
import { type Scenario, fitSpec, hostFor, nastyString, nastyStringArb, scenarioArb, specArb } from '../arbitraries.js'
import { runs } from '../runs.js'
import { decoders } from './decode.js'

const allBackends = Object.values(backends)

/** Every valid scenario compiles: a Left here is a bug in compile or in the generators. */
const compiled = (backend: Backend, { spec, op, host }: Scenario): Plan => {
  const plan = compile(backend, fitSpec[backend.name](spec), op, host)
  if (E.isLeft(plan)) throw new Error(`valid input rejected: ${plan.left.message}`)
  return plan.right
}

/** The launch plan of the scenario's bottle: what the decoders read the bottle's own env from. */
const launchOf = (backend: Backend, s: Scenario): Plan =>
  compiled(backend, { ...s, op: { _tag: 'launch' }, host: hostFor(s.spec, { _tag: 'launch' }, { ...s.host, sourceKind: 'file' }) })

/** Steps and their undo steps, depth first. */
const everyStep = (steps: readonly Step[]): Step[] => steps.flatMap((s) => [s, ...everyStep(s.undo)])

const guestSteps = (plan: Plan): (Step & { guest: NonNullable<Step['guest']> })[] =>
  everyStep(plan.steps).flatMap((s) => (s.guest === undefined ? [] : [{ ...s, guest: s.guest }]))

const count = <A>(xs: readonly A[], x: A): number => xs.filter((y) => y === x).length

/** Where each backend puts the user switch: it must come before the tail, whatever the tail says. */
const userSwitchPrecedesTail: Record<BackendName, (framing: readonly string[], user: string, bottle: string) => boolean> = {
  // Flags stop at the container name, so `-u USER` must be a flag pair before it, and the name last.
  docker: (framing, user, bottle) =>
    framing.at(-1) === bottle && framing.slice(0, -1).some((w, i) => w === '-u' && framing[i + 1] === user && i + 1 < framing.length - 1),
  smolvm: (framing, user) => JSON.stringify(framing.slice(-4)) === JSON.stringify(['runuser', '-u', user, '--']),
  // The guest command (after kubectl's `--`) opens with the user switch; after it come only env's
  // words (`-u NAME`, `K=V`) and the cd wrapper, which runs what follows it.
  kubernetes: (framing, user) => {
    const guest = framing.slice(framing.indexOf('--') + 1)
    const envWords = guest.slice(5, -5)
    return (
      JSON.stringify(guest.slice(0, 5)) === JSON.stringify(['runuser', '-u', user, '--', 'env']) &&
      JSON.stringify(guest.slice(-5, -1)) === JSON.stringify(['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'bottle']) &&
      envWords.every((w, i) => w.includes('=') || w === '-u' || envWords[i - 1] === '-u')
    )
  },
}

/**
 * How a guest command gets the host's secrets: forwarded by name from the backend process's env
 * on every exec, or already in the bottle's own env (kubernetes: the Pod's, by secretKeyRef).
 */
const secretsReachGuestVia: Record<BackendName, 'process env' | 'bottle env'> = {
  smolvm: 'process env',
  docker: 'process env',
  kubernetes: 'bottle env',
}

/** The words after the binary and kubectl's cluster flags: `run …`, `machine create …`, `apply -f -`. */
const verbWords = (argv: readonly string[]): readonly string[] => {
  const rest = argv.slice(1)
  while (rest[0]?.startsWith('--context=') || rest[0]?.startsWith('--namespace=')) rest.shift()
  return rest.slice(0, 2)
}

/** A step whose own flag makes "already gone" a success, so it needs no tolerated exit code. */
const goneIsSuccess = (st: Step): boolean =>
  (st.argv[0] === 'docker' && st.argv[1] === 'rm' && st.argv.includes('-f')) ||
  (st.argv[0] === 'kubectl' && verbWords(st.argv)[0] === 'delete' && st.argv.includes('--ignore-not-found'))

/** Whether a step creates something that outlives it: the bottle, or a scratch file on the host. */
const createsSomething = (backend: Backend, s: Step): boolean =>
  s.guest === undefined &&
  (s.argv[0] === backend.binary
    ? ['run', 'create', 'start', 'apply'].some((verb) => verbWords(s.argv).includes(verb))
    : s.argv[0] === 'cp' || s.argv[0] === 'tar')

describe.each(allBackends.map((b) => [b.name, b] as const))('laws for %s', (_name, backend) => {
  // ----------------------------------------------------------------------------------------------
  // 1. determinism and plain data
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('1: compile is deterministic and its plan survives JSON', (s) => {
    const plan = compiled(backend, s)
    expect(compiled(backend, s)).toStrictEqual(plan)
    expect(JSON.parse(JSON.stringify(plan))).toStrictEqual(plan)
  })

  // ----------------------------------------------------------------------------------------------
  // 2. argv is separate strings without NUL; NUL in the input is a one-line CompileError
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('2: every argv element is a string without NUL', (s) => {
    const words = everyStep(compiled(backend, s).steps).flatMap((st) => st.argv)
    expect(words.every((w) => typeof w === 'string' && !w.includes('\0'))).toBe(true)
  })

  test.prop([nulInputArb], { numRuns: runs })('2: input containing NUL is rejected with a one-line message', (attempt) => {
    const result = attempt(backend)
    expect(E.isLeft(result)).toBe(true)
    if (E.isLeft(result)) {
      expect(result.left._tag).toBe('CompileError')
      expect(result.left.message).not.toMatch(/[\u0000-\u001f\u007f]/)
    }
  })

  // ----------------------------------------------------------------------------------------------
  // 4. the user switch precedes the tail
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('4: argv is framing + tail, and the user switch is in the framing', (s) => {
    const plan = compiled(backend, s)
    for (const st of guestSteps(plan)) {
      expect(st.argv).toStrictEqual([...st.guest.framing, ...st.guest.tail])
      expect(st.guest.tail).toStrictEqual(st.guest.intent.argv)
      expect(userSwitchPrecedesTail[backend.name](st.guest.framing, st.guest.intent.user, s.spec.name)).toBe(true)
    }
    // agent and resume always run a guest command as the spec's user.
    if (s.op._tag === 'agent' || s.op._tag === 'resume')
      expect(guestSteps(plan).map((st) => st.guest.intent.user)).toStrictEqual([s.spec.user])
  })

  // ----------------------------------------------------------------------------------------------
  // 5. env once, in the framing; a TTY iff interactive
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('5: each env entry is in the framing exactly once; -t iff tty', (s) => {
    const plan = compiled(backend, s)
    for (const st of guestSteps(plan)) {
      const { framing, intent } = st.guest
      for (const [k, v] of intent.env) expect(count(framing, `${k}=${v}`)).toBe(1)
      expect(count(framing, '-t')).toBe(intent.tty ? 1 : 0)
    }
    // agent, resume and exec run one guest command, with the spec's env (on every exec, not only at create).
    if (s.op._tag === 'agent' || s.op._tag === 'resume' || s.op._tag === 'exec') {
      const tty = s.op._tag === 'exec' ? false : (s.op.tty ?? s.host.stdinIsTTY)
      expect(guestSteps(plan).map((st) => [st.guest.intent.tty, st.guest.intent.env])).toStrictEqual([[tty, s.spec.env]])
    }
    if (s.op._tag === 'exec') expect(everyStep(plan.steps).some((st) => st.argv.includes('-t'))).toBe(false)
  })

  // ----------------------------------------------------------------------------------------------
  // 6. no secret value anywhere
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb, fc.array(nastyString({ minLength: 8 }), { minLength: 8, maxLength: 8 })], { numRuns: runs })(
    '6: no secret value appears in the plan or any rendering',
    (s, values) => {
      // The host env the values would come from: one value per secret name.
      const hostSecrets = s.spec.secrets.map((name, i) => [name, values[i % values.length] ?? ''] as const)
      // A value that is also part of the input (a path, an arg) may show up as that: not a leak.
      const input = JSON.stringify([s.spec, s.op, s.host])
      fc.pre(hostSecrets.every(([, v]) => !input.includes(v)))
      const plan = compiled(backend, s)
      const outputs = [JSON.stringify(plan), renderText(plan), renderSh(plan), renderJson(plan)]
      expect(hostSecrets.filter(([, v]) => outputs.some((o) => o.includes(v)))).toStrictEqual([])
    },
  )

  // ----------------------------------------------------------------------------------------------
  // 7. decoding gives back the intent
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('7: decoding each guest step gives back its intent', (s) => {
    const launch = launchOf(backend, s)
    for (const st of guestSteps(compiled(backend, s))) {
      expect(decoders[backend.name](st.argv, launch)).toStrictEqual(st.guest.intent)
      // Forwarded secrets are read from the backend process's env: the step must put them there.
      // Secrets already in the bottle's env need not, and so must not, go to the backend process.
      const secretVars = st.env.vars.flatMap((v) => (v._tag === 'secret' ? [v.name] : []))
      expect(secretVars).toStrictEqual(secretsReachGuestVia[backend.name] === 'process env' ? [...st.guest.intent.secrets] : [])
    }
  })

  // ----------------------------------------------------------------------------------------------
  // 8. launch undoes in reverse; down is idempotent
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('8: launch undo deletes, in reverse, what it created', (s) => {
    const launch = compiled(backend, { ...s, op: { _tag: 'launch' } })
    const down = compiled(backend, { ...s, op: { _tag: 'down' } })
    expect(launch.steps.filter((st) => createsSomething(backend, st) && st.undo.length === 0)).toStrictEqual([])
    // The interpreter runs undo lists last-created first: the very last undo removes the bottle,
    // exactly as `down`'s final step does.
    const undoRunOrder = launch.steps.flatMap((st) => st.undo).reverse()
    expect(undoRunOrder.at(-1)?.argv).toStrictEqual(down.steps.at(-1)?.argv)
    // Host scratch files are removed by an undo naming the same path.
    for (const st of launch.steps.filter((x) => x.argv[0] === 'cp' || x.argv[0] === 'tar')) {
      const made = st.argv[0] === 'cp' ? st.argv.at(-1) : st.argv[st.argv.indexOf('-cf') + 1]
      expect(st.undo.map((u) => u.argv)).toContainEqual(['rm', '-f', '--', made])
    }
  })

  test.prop([scenarioArb], { numRuns: runs })('8: down tolerates a missing bottle at every step', (s) => {
    const down = compiled(backend, { ...s, op: { _tag: 'down' } })
    expect(down.steps.filter((st) => st.tolerate.length === 0 && !goneIsSuccess(st))).toStrictEqual([])
    expect(down.steps.length).toBeGreaterThan(0)
  })
})

// ------------------------------------------------------------------------------------------------
// 7, across backends: an agent op means the same thing everywhere
// ------------------------------------------------------------------------------------------------

describe('laws across backends', () => {
  test.prop([specArb, fc.array(nastyStringArb, { maxLength: 5 }), fc.option(fc.boolean(), { nil: null }), fc.boolean(), fc.constantFrom('agent' as const, 'resume' as const)], { numRuns: runs })(
    '7: an agent or resume op has the same intent on every backend',
    (spec, args, tty, stdinIsTTY, tag) => {
      const s: Scenario = { spec, op: { _tag: tag, args, tty }, host: hostFacts(stdinIsTTY) }
      // Decoded from each backend's argv, not read from the plan: compile.ts builds the recorded
      // intent in shared code, so only the argv can differ between backends.
      const decoded = allBackends.map((b) => guestSteps(compiled(b, s)).map((st) => decoders[b.name](st.argv, launchOf(b, s))))
      for (const d of decoded) expect(d).toStrictEqual(decoded[0])
      expect(decoded[0]?.length).toBe(1)
    },
  )
})

// ------------------------------------------------------------------------------------------------
// NUL-bearing inputs, each reaching a different validator
// ------------------------------------------------------------------------------------------------

const hostFacts = (stdinIsTTY: boolean): HostFacts => ({ cwd: '/src/app', stdinIsTTY, pathKinds: { '/src/x': 'file' }, tmpdir: '/tmp' })

const withNul = (s: string, at: number): string => {
  const k = at % (s.length + 1)
  return `${s.slice(0, k)}\0${s.slice(k)}`
}

/** resolveSpec then compile, as the CLI does: a Left from either is the rejection. */
const throughSpec =
  (layer: Parameters<typeof resolveSpec>[0]['fromFlags'], op: Operation = { _tag: 'agent', args: [], tty: null }) =>
  (backend: Backend) => {
    const spec = resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: layer, cwd: '/src/app' })
    return E.isLeft(spec) ? spec : compile(backend, spec.right, op, hostFacts(false))
  }

const throughOp = (spec: BottleSpec, op: Operation) => (backend: Backend) => compile(backend, fitSpec[backend.name](spec), op, hostFacts(false))

const nulInputArb = fc
  .record({ spec: specArb, nasty: nastyStringArb, at: fc.nat(), where: fc.nat() })
  .map(({ spec, nasty, at, where }) => {
    const bad = withNul(nasty, at)
    const attempts = [
      throughSpec({ env: [['CI', bad]] }),
      throughSpec({ user: withNul('node', at) }),
      throughSpec({ context: withNul('lab', at) }),
      throughSpec({ namespace: withNul('agents', at) }),
      throughSpec({ workdir: `/src/${bad}` }),
      throughSpec({ prompt: `/src/${bad}` }, { _tag: 'launch' }),
      throughOp(spec, { _tag: 'agent', args: ['-p', bad], tty: null }),
      throughOp(spec, { _tag: 'resume', args: [bad], tty: true }),
      throughOp(spec, { _tag: 'exec', script: bad, user: null }),
      throughOp(spec, { _tag: 'exec', script: 'true', user: withNul('node', at) }),
      throughOp(spec, { _tag: 'cp', source: `/src/${bad}`, dest: '/home/node/x' }),
      throughOp(spec, { _tag: 'cp', source: '/src/x', dest: `/home/${bad}` }),
    ]
    return attempts[where % attempts.length] as (typeof attempts)[number]
  })
