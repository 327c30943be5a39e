/**
 * The law suite: the invariants 1, 2, 4-8 and 10 of docs/invariants.md, checked the same way for every backend in
 * src/backends/index.ts and every agent profile (tests/arbitraries.ts), plus what an attach step
 * must do with tmux (invariant 3, the `sh -c` round trip, is in shell-roundtrip.test.ts).
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { compile, shellScript } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { quoteShArgv } from '../../src/plan/quote.js'
import { renderJson, renderSh, renderText } from '../../src/plan/render.js'
import { type Plan, type Step, secretSource, stepUsesLaunchId } from '../../src/plan/types.js'
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'
import { bwrapProcessPath } from '../../src/backends/bwrap.js'
import { handoffVar } from '../../src/attach.js'
import { processEnv } from '../../src/interpret.js'
import { isClientVar } from '../../src/plan/client-env.js'
import { type Scenario, attachScenarioArb, fixedHost, withOp, nastyString, nastyStringArb, scenarioArb, specArb } from '../arbitraries.js'
import { runs } from '../runs.js'
import { commandWrapperScript, runIdWord } from './decode.js'
import { allKits, fitFor, kits } from '../backends/kits.js'
import { decodeAttach } from './tmux.js'
import { backendSteps, isDoorStep, isRecordStep, withoutDoor } from '../records.js'
import { doorOf, proxyEnv } from '../../src/backends/egress.js'

const allBackends = Object.values(backends)

/** Every valid scenario compiles: a Left here is a bug in compile or in the generators. */
const compiled = (backend: Backend, s: Scenario): Plan => {
  const { spec, op, host } = fitFor(backend.name, s)
  const plan = compile(backend, spec, op, host)
  if (E.isLeft(plan)) throw new Error(`valid input rejected: ${plan.left.message}`)
  return plan.right
}

/** The launch plan of the scenario's bottle: what the kubernetes decoder reads the Pod's env from. */
const launchOf = (backend: Backend, s: Scenario): Plan => compiled(backend, withOp(s, { _tag: 'launch' }))

/** Steps, the steps their panes run, and their undo steps, depth first. */
const everyStep = (steps: readonly Step[]): Step[] =>
  steps.flatMap((s) => [
    s,
    ...everyStep(s.pane === undefined ? [] : [s.pane]),
    ...everyStep(s.undo),
  ])

/** The steps bottle runs only when a step is interrupted, or after an ambiguous exit code. */
const sideSteps = (steps: readonly Step[]): Step[] =>
  everyStep(steps).flatMap((s) => [...(s.onInterrupt ?? []), ...(s.liveCheck === undefined ? [] : [s.liveCheck.step])])

/** A framing without bottle's command wrapper (tests/laws/decode.ts restates it), if it ends with one. */
const outerFraming = (framing: readonly string[]): readonly string[] =>
  framing.length >= 5 && framing.at(-3) === commandWrapperScript ? framing.slice(0, -5) : framing

/** The ops that run the agent as the spec's user. */
const runsAgent = (op: BottleOperation): boolean => op._tag === 'agent' || op._tag === 'resume' || op._tag === 'attach'

/** The agent's guest env: the spec's, and the profile's root env once root is allowed. */
const agentEnvOf = (spec: BottleSpec): BottleSpec['env'] =>
  spec.allowRoot ? [...spec.env, ...spec.agent.rootEnv.filter(([k]) => !spec.env.some(([e]) => e === k))] : spec.env

const guestSteps = (plan: Plan): (Step & { guest: NonNullable<Step['guest']> })[] =>
  everyStep(plan.steps).flatMap((s) => (s.guest === undefined ? [] : [{ ...s, guest: s.guest }]))

/** The guest steps but the door's plumbing (the relay's start in a long-lived guest). */
const ownGuestSteps = (plan: Plan): (Step & { guest: NonNullable<Step['guest']> })[] => guestSteps(plan).filter((s) => !isDoorStep(s))

/** The env a user-facing command gets: the spec's (or the agent's), and the proxy env of a bottle with a door. */
const withDoorEnv = (spec: BottleSpec, env: BottleSpec['env']): BottleSpec['env'] => (doorOf(spec) === null ? env : [...env, ...proxyEnv])

describe.each(allKits.map((k) => [k.backend.name, k] as const))('laws for %s', (_name, kit) => {
  const backend = kit.backend
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
      // Inside a wrapper (bwrap's pty), the same words as one `exec …` command for its sh -c.
      const { wrapper } = st.guest
      const words = [...st.guest.framing, ...st.guest.tail]
      expect(st.argv).toStrictEqual(wrapper === undefined ? words : [...wrapper.before, `${wrapper.prelude ?? ''}${quoteShArgv(['exec', ...words])}`, ...wrapper.after])
      expect(st.guest.tail).toStrictEqual(st.guest.intent.argv)
      expect(kit.userSwitchPrecedesTail(outerFraming(st.guest.framing), st.guest.intent.user, s.spec.name, s.host)).toBe(true)
    }
    // agent, resume and attach always run one guest command as the spec's user, with the
    // profile's command first (directly, or in the resume script).
    if (runsAgent(s.op)) {
      expect(ownGuestSteps(plan).map((st) => st.guest.intent.user)).toStrictEqual([s.spec.user])
      const tail = ownGuestSteps(plan)[0]?.guest.tail ?? []
      expect(tail[0] === s.spec.agent.command || (tail[0] === 'sh' && tail[1] === '-c')).toBe(true)
    }
    // shell: one guest command as the spec's user, the shell script as the whole tail.
    if (s.op._tag === 'shell')
      expect(ownGuestSteps(plan).map((st) => [st.guest.intent.user, st.guest.tail])).toStrictEqual([[s.spec.user, ['sh', '-c', shellScript, 'sh']]])
  })

  // ----------------------------------------------------------------------------------------------
  // 5. env once, in the framing; a TTY iff interactive
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('5: each env entry is in the framing exactly once; -t iff tty', (s) => {
    const plan = compiled(backend, s)
    for (const st of guestSteps(plan)) {
      const { intent } = st.guest
      const framing = outerFraming(st.guest.framing)
      for (const [k, v] of intent.env) expect(kit.envCount(framing, k, v)).toBe(1)
      expect(kit.ttyMarks(framing)).toBe(intent.tty ? 1 : 0)
    }
    // agent, resume, attach and exec run one guest command, with the spec's env (on every exec,
    // not only at create); the agent also gets its profile's root env once root is allowed. A pane
    // is a terminal, so attach always has a TTY.
    // shell, like agent, has a TTY iff stdin is a terminal (or as --tty says), with the spec's env.
    if (s.op._tag === 'agent' || s.op._tag === 'resume' || s.op._tag === 'attach' || s.op._tag === 'exec' || s.op._tag === 'shell') {
      const tty = s.op._tag === 'exec' ? false : s.op._tag === 'attach' ? true : (s.op.tty ?? s.host.stdinIsTTY)
      // (The spec as the backend takes it: kubernetes opens an allow-list it cannot enforce yet.)
      const env = withDoorEnv(fitFor(backend.name, s).spec, s.op._tag === 'exec' || s.op._tag === 'shell' ? s.spec.env : agentEnvOf(s.spec))
      expect(ownGuestSteps(plan).map((st) => [st.guest.intent.tty, st.guest.intent.env])).toStrictEqual([[tty, env]])
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
      expect(kit.decode(st, { host: s.host, launch })).toStrictEqual(st.guest.intent)
      // Forwarded secrets are read from the backend process's env: the step must put them there.
      // Secrets already in the bottle's env need not, and so must not, go to the backend process.
      const secretVars = st.env.vars.flatMap((v) => (v._tag === 'secret' ? [secretSource(v)] : []))
      expect(secretVars).toStrictEqual(kit.secretsReachGuestVia === 'process env' ? [...st.guest.intent.secrets] : [])
    }
  })

  test.prop([scenarioArb], { numRuns: runs })('7: a command step carries the run id; its stop step reaches the same user and place', (s) => {
    const plan = compiled(backend, s)
    const launch = launchOf(backend, s)
    for (const st of sideSteps(plan.steps))
      if (st.guest !== undefined) expect(kit.decode(st, { host: s.host, launch })).toStrictEqual(st.guest.intent)
    if (s.op._tag !== 'agent' && s.op._tag !== 'resume' && s.op._tag !== 'exec' && s.op._tag !== 'shell') return
    const cmd = plan.steps[plan.exitCodeFrom ?? -1]
    if (cmd?.guest === undefined) throw new Error('a command plan runs a guest step')
    // bwrap's pty wrapper holds the command as one sh string: no slot, and no stop step needed.
    if (cmd.guest.wrapper !== undefined) return
    // The wrapper holds the run id, right before the command: the id is the fifth word of it.
    expect(cmd.launchId).toStrictEqual([cmd.guest.framing.length - 1])
    expect(cmd.argv[cmd.guest.framing.length - 1]).toBe(runIdWord)
    expect(cmd.guest.framing.at(-3)).toBe(commandWrapperScript)
    const stops = cmd.onInterrupt ?? []
    expect(stops.length).toBe(backend.guestOutlivesClient === true ? 1 : 0)
    for (const stop of stops) {
      const intent = kit.decode(stop, { host: s.host, launch })
      const { user, home, cwd } = kit.decode(cmd, { host: s.host, launch })
      const got = { user: intent.user, home: intent.home, cwd: intent.cwd, tty: intent.tty, stdin: intent.stdin, secrets: intent.secrets }
      expect(got).toStrictEqual({ user, home, cwd, tty: false, stdin: false, secrets: [] })
      // The same id: the argument of the stop script.
      expect(intent.argv.slice(0, 2)).toStrictEqual(['/bin/sh', '-c'])
      expect(stop.launchId).toStrictEqual([stop.argv.length - 1])
      expect(stop.argv.at(-1)).toBe(runIdWord)
      expect(stop.stdio).toBe('quiet')
    }
  })

  // ----------------------------------------------------------------------------------------------
  // 10. no host process's environment holds a spec-derived value other than a named secret
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb, fc.uuid()], { numRuns: runs })('10: every host process env holds host variables, named secrets and bottle\'s constants only', (s, mark) => {
    const fit = fitFor(backend.name, s)
    const plan = compiled(backend, s)
    // The host env: client variables, what an attacker would want a host process to have, the
    // spec's env keys with host values of their own, and each secret with a value of its own.
    const hostEnv: Record<string, string> = {
      PATH: '/usr/bin:/bin', HOME: '/home/me', DOCKER_HOST: 'unix:///run/d.sock', KUBECONFIG: '/home/me/.kube/config',
      LD_PRELOAD: `/evil-${mark}.so`, BASH_ENV: `/evil-${mark}.sh`,
      ...Object.fromEntries(fit.spec.env.map(([k], i) => [k, `host-${i}-${mark}`])),
      ...Object.fromEntries(fit.spec.secrets.map((n, i) => [n, `secret-${i}-${mark}`])),
    }
    const secretValues = new Set(fit.spec.secrets.map((n) => hostEnv[n]))
    // What bottle itself sets on the host side, the same for every spec: a system PATH (bwrap, the
    // launch record's sh), script's shell, the C locale for messages bottle reads.
    const constant = (k: string, v: string): boolean =>
      (k === 'PATH' && v === bwrapProcessPath) || (k === 'SHELL' && v === '/bin/sh') || (k === 'LC_ALL' && v === 'C')
    const steps = [...everyStep(plan.steps), ...sideSteps(plan.steps)]
    for (const st of steps) {
      // A secret is only ever one the spec names.
      for (const v of st.env.vars) if (v._tag === 'secret') expect(fit.spec.secrets).toContain(secretSource(v))
      // Every variable is the host's own (a client's allow-listed one), a named secret's value, or
      // bottle's constant; the tmux hand-off carries a pane's under numbered names, judged by value.
      const env = processEnv(st, hostEnv)
      // The host's own variables reach a client only from the allow-list: never these.
      expect([env.LD_PRELOAD, env.BASH_ENV]).toStrictEqual([undefined, undefined])
      for (const [k, v] of Object.entries(env)) {
        const hostOwn = st.env.inheritHost && isClientVar(k) && hostEnv[k] === v
        const ok = hostOwn || secretValues.has(v) || constant(k, v) || (k.startsWith(handoffVar) && ['PATH', 'SHELL', 'LC_ALL'].some((c) => constant(c, v)))
        if (!ok) expect.fail(`step "${st.title}": ${k}=${JSON.stringify(v)} in a host process's env`)
      }
    }
  })

  // ----------------------------------------------------------------------------------------------
  // 8. launch undoes in reverse; down is idempotent
  // ----------------------------------------------------------------------------------------------

  test.prop([scenarioArb], { numRuns: runs })('8: launch undo deletes, in reverse, what it created', (s) => {
    const launch = compiled(backend, withOp(s, { _tag: 'launch' }))
    const down = compiled(backend, withOp(s, { _tag: 'down' }))
    expect(launch.steps.filter((st) => kit.createsSomething(st) && st.undo.length === 0)).toStrictEqual([])
    // The interpreter runs undo lists last-created first: the very last undo removes the bottle,
    // and only if it carries this run's launch id: the step that creates the bottle has a launch
    // id slot, and so has its undo (a fresh id per run, so never another run's bottle).
    // (The door's undos are its own law: tests/egress-wire/plans.test.ts.)
    const undoRunOrder = withoutDoor(launch.steps.flatMap((st) => st.undo)).reverse()
    // (down then forgets the launch record, a step of its own: see tests/bottle-spec/launch-record.test.ts.)
    const last = undoRunOrder.at(-1)
    // (kubernetes: the id is a label in the JSON the create step writes to kubectl's stdin.)
    expect(last?.argv).not.toStrictEqual(backendSteps(down).at(-1)?.argv)
    const creator = launch.steps.find((st) => st.undo.includes(last as Step))
    expect(creator !== undefined && stepUsesLaunchId(creator)).toBe(true)
    expect(last?.launchId?.length).toBeGreaterThan(0)
    // Every undo of a step that carries the launch id goes by it too (kubernetes: Pod and Secret).
    for (const st of launch.steps.filter(stepUsesLaunchId)) for (const u of st.undo) expect(u.launchId?.length).toBeGreaterThan(0)
    // Host scratch files are removed by an undo naming the same path.
    for (const st of launch.steps) {
      const made = kit.scratchMadeBy(st)
      if (made !== undefined) expect(st.undo.map((u) => u.argv)).toContainEqual(['rm', '-f', '--', made])
    }
  })

  // ----------------------------------------------------------------------------------------------
  // attach: the pane runs exactly the agent step, with its environment
  // ----------------------------------------------------------------------------------------------

  test.prop([attachScenarioArb], { numRuns: runs })('attach: tmux makes the pane exec exactly the agent step, with its variables', (s) => {
    if (s.op._tag !== 'attach') throw new Error('attachScenarioArb made another op')
    const plan = compiled(backend, s)
    // Before the pane, only the door again if its proxy is not running (src/backends/egress.ts).
    expect(withoutDoor(plan.steps)).toHaveLength(1)
    const st = plan.steps.at(-1)
    const pane = st?.pane
    if (st === undefined || pane === undefined) throw new Error('an attach step names the step its pane runs')
    const d = decodeAttach(st.argv)
    expect(d.subcommand).toBe({ split: 'split-window', respawn: 'respawn-pane', window: 'new-window' }[s.op.pane])
    expect(d.flags['t']).toBe(s.op.target ?? undefined)
    // Several words: tmux execs them; one would go through the user's default-shell.
    expect(d.words.length).toBeGreaterThan(1)
    expect(d.command).toStrictEqual(pane.argv)
    expect(d.exact).toBe(!pane.env.inheritHost)
    expect(d.names).toStrictEqual(pane.env.vars.map((v) => v.name))
    // The hand-off gets each value under its own name, from the same source as the pane step would.
    const source = (v: Step['env']['vars'][number]) => (v._tag === 'plain' ? ['plain', v.value] : ['secret', secretSource(v)])
    expect(st.env.vars.map(source)).toStrictEqual(pane.env.vars.map(source))
    expect(d.handoff === null ? 0 : d.handoff.count).toBe(pane.env.vars.length)
    if (d.handoff !== null) expect(d.handoff.tmpdir).toBe(s.host.tmpdir)
  })

  test.prop([attachScenarioArb], { numRuns: runs })('attach: the pane step is the agent (or resume) step, with a terminal', (s) => {
    if (s.op._tag !== 'attach') throw new Error('attachScenarioArb made another op')
    const attach = compiled(backend, s)
    const tag = s.op.resume ? 'resume' : 'agent'
    const direct = compiled(backend, { ...s, op: { _tag: tag, args: s.op.args, tty: true } })
    // The same command, without the wrapper that only a run fills in (tmux signals the pane's own
    // process, so no stop step is needed there).
    const d = direct.steps[direct.exitCodeFrom ?? -1]
    if (d?.guest === undefined) throw new Error('an agent plan runs a guest step')
    const { launchId: _r, onInterrupt: _o, liveCheck: _l, ...plainStep } = d
    const outer = outerFraming(d.guest.framing)
    expect(attach.steps.at(-1)?.pane).toStrictEqual(
      d.guest.wrapper !== undefined ? d : { ...plainStep, argv: [...outer, ...d.guest.tail], guest: { ...d.guest, framing: outer } },
    )
    expect(attach.secrets).toStrictEqual(direct.secrets)
  })

  test.prop([scenarioArb], { numRuns: runs })('8: down tolerates a missing bottle at every step', (s) => {
    const down = compiled(backend, withOp(s, { _tag: 'down' }))
    // Forgetting the launch record is `rm -f` and a quiet rmdir: idempotent as it stands.
    // The door's stop and its directory's removal succeed when there is nothing to stop or remove.
    expect(down.steps.filter((st) => st.tolerate.length === 0 && !kit.idempotentAsIs(st) && !isRecordStep(st) && !isDoorStep(st))).toStrictEqual([])
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
      const op: BottleOperation = { _tag: tag, args, tty }
      const s: Scenario = { spec, op, host: fixedHost(spec, op, stdinIsTTY) }
      // Decoded from each backend's argv (and bwrap's process env), not read from the plan:
      // compile.ts builds the recorded intent in shared code, so only those can differ.
      // Where the prompt file sits is the backend's business (bwrap cannot create /opt/bottle
      // over a read-only root), so it reads as <prompt> here, inside sh -c scripts too.
      // kubernetes: its kit's fit opens an allow-list (its door is proven in tests/egress-wire/kubernetes.test.ts).
      const withDoor = doorOf(spec) !== null
      const decoded = allBackends.filter((b) => !withDoor || b.name !== 'kubernetes').map((b) =>
        ownGuestSteps(compiled(b, s)).map((st) => {
          const intent = kits[b.name].decode(st, { host: s.host, launch: launchOf(b, s) })
          return { ...intent, argv: intent.argv.map((w) => w.split(b.promptPath(spec)).join('<prompt>')) }
        }),
      )
      for (const d of decoded) expect(d).toStrictEqual(decoded[0])
      expect(decoded[0]?.length).toBe(1)
    },
  )
})

// ------------------------------------------------------------------------------------------------
// NUL-bearing inputs, each reaching a different validator
// ------------------------------------------------------------------------------------------------

const hostFacts = (spec: BottleSpec, op: BottleOperation): HostFacts => {
  const host = fixedHost(spec, op)
  return { ...host, pathKinds: { ...host.pathKinds, '/src/x': 'file' } }
}

const withNul = (s: string, at: number): string => {
  const k = at % (s.length + 1)
  return `${s.slice(0, k)}\0${s.slice(k)}`
}

/** resolveSpec then compile, as the CLI does: a Left from either is the rejection. */
const throughSpec =
  (layer: Parameters<typeof resolveSpec>[0]['fromFlags'], op: BottleOperation = { _tag: 'agent', args: [], tty: null }) =>
  (backend: Backend) => {
    const spec = resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: layer, cwd: '/src/app' })
    return E.isLeft(spec) ? spec : compile(backend, spec.right, op, hostFacts(spec.right, op))
  }

/** Input valid for the backend but for the NUL, so the NUL is what is rejected. */
const throughOp = (raw: BottleSpec, rawOp: BottleOperation) => (backend: Backend) => {
  const { spec, op } = fitFor(backend.name, { spec: raw, op: rawOp, host: hostFacts(raw, rawOp) })
  return compile(backend, spec, op, hostFacts(spec, op))
}

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
      throughOp(spec, { _tag: 'attach', pane: 'split', target: null, resume: false, args: [bad] }),
      throughOp(spec, { _tag: 'attach', pane: 'window', target: bad, resume: false, args: [] }),
      throughSpec({ agent: { ...agentProfiles.claude, name: 'custom', command: bad === '' ? '\0' : bad } }),
      throughSpec({ agent: { ...agentProfiles.codex, name: 'custom', continueArgs: ['resume', bad] } }),
    ]
    return attempts[where % attempts.length] as (typeof attempts)[number]
  })
