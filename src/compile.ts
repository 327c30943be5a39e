/**
 * compile(backend, spec, op, host): the pure, total heart of bottle. Same input, same plan.
 *
 *   compile(docker, spec, { _tag: 'agent', args: ['-p', 'hi'], tty: null }, host)
 *   // right({ op: 'agent', steps: [{ argv: ['docker','exec','-i','-u','node',…,'claude','-p','hi'] }] })
 *
 * What is the same on every backend lives here: which command an op runs in the guest, the
 * prompt flag, the resume fallback, the copy-in plumbing. The backend spells it for its CLI.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, CopyIn, GuestStep, HostFacts } from './backends/backend.js'
import { compileError, show } from './plan/errors.js'
import { quoteShArgv } from './plan/quote.js'
import {
  type GuestIntent,
  type OpName,
  type Plan,
  type Step,
  absurd,
  step,
} from './plan/types.js'
import { type BottleSpec, defaultAgent, defaultUser, noResources } from './spec/spec.js'
import { type Checked, absolutePath, agentArg, bottleName, homeOf, script, userName } from './spec/validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export type Operation =
  | { readonly _tag: 'launch' }
  /** tty null: decide from the host (a TTY iff stdin is a terminal). */
  | { readonly _tag: 'agent'; readonly args: readonly string[]; readonly tty: boolean | null }
  | { readonly _tag: 'exec'; readonly script: string; readonly user: string | null }
  | { readonly _tag: 'cp'; readonly source: string; readonly dest: string }
  | { readonly _tag: 'resume'; readonly args: readonly string[]; readonly tty: boolean | null }
  | { readonly _tag: 'down' }

// -------------------------------------------------------------------------------------------------
// guest commands shared by every backend
// -------------------------------------------------------------------------------------------------

/** The flag Claude Code takes a system-prompt file with; it sits directly after the binary. */
export const promptFlag = '--append-system-prompt-file'
export const continueFlag = '--continue'

/** `claude [--append-system-prompt-file PATH] ARGS…` */
export const agentTail = (backend: Backend, spec: BottleSpec, args: readonly string[]): string[] => [
  spec.agent,
  ...(spec.prompt === null ? [] : [promptFlag, backend.promptPath(spec)]),
  ...args,
]

/**
 * `sh -c 'claude [prompt] --continue ARGS || claude [prompt] ARGS'`: resume the last session, or
 * start a fresh one. `--continue` goes before ARGS so that an ARGS ending in `--` cannot swallow it.
 */
export const resumeTail = (backend: Backend, spec: BottleSpec, args: readonly string[]): string[] => {
  const fresh = agentTail(backend, spec, [])
  const resume = [...fresh, continueFlag, ...args]
  return ['sh', '-c', `${quoteShArgv(resume)} || ${quoteShArgv([...fresh, ...args])}`]
}

/** The intent of a user-facing guest command: the spec's user, env, secrets and workdir. */
const userIntent = (
  spec: BottleSpec,
  argv: readonly string[],
  io: { tty: boolean; stdin: boolean; user?: string },
): GuestIntent => {
  const user = io.user ?? spec.user
  return {
    user,
    home: homeOf(user),
    env: spec.env,
    secrets: spec.secrets,
    cwd: spec.workdir,
    argv,
    tty: io.tty,
    stdin: io.stdin,
  }
}

/** A step that runs a guest command: argv is framing + tail, and both are kept apart. */
export const guestStep = (
  backend: Backend,
  spec: BottleSpec,
  host: HostFacts,
  title: string,
  intent: GuestIntent,
  more: Partial<Step> = {},
): Step => {
  const { framing, env } = backend.exec(spec, intent, host)
  return step(title, [...framing, ...intent.argv], {
    env,
    guest: { framing, tail: intent.argv, intent },
    ...more,
  })
}

/** Plumbing in the guest (mkdir, chown, unpacking): root, no user env, cwd `/`. */
const rootStep =
  (backend: Backend, spec: BottleSpec, host: HostFacts): GuestStep =>
  (title, argv) =>
    guestStep(backend, spec, host, title, {
      user: 'root',
      home: homeOf('root'),
      env: [],
      secrets: [],
      cwd: '/',
      argv,
      tty: false,
      stdin: false,
    })

/** Copy a host path in, owned by the bottle's user; how is the backend's business. */
const copyInSteps = (
  backend: Backend,
  spec: BottleSpec,
  copy: CopyIn,
  host: HostFacts,
): Checked<readonly Step[]> => backend.copyIn(spec, copy, host, rootStep(backend, spec, host))

/** The host path must exist and be of a kind we can copy. */
const hostSource = (what: string, path: string, host: HostFacts): Checked<'file' | 'dir'> => {
  const kind = host.pathKinds[path] ?? 'missing'
  return kind === 'missing'
    ? E.left(compileError(`${what} ${show(path)} does not exist`))
    : E.right(kind)
}

// -------------------------------------------------------------------------------------------------
// compile
// -------------------------------------------------------------------------------------------------

const plan = (
  op: OpName,
  backend: Backend,
  spec: BottleSpec | null,
  host: HostFacts,
  steps: readonly Step[],
  exitCodeFrom: number | null,
  notes: readonly string[] = [],
): Plan => ({
  op,
  backend: backend.name,
  bottle: spec?.name ?? '',
  steps,
  secrets: secretsOf(steps),
  notes: [...notes, ...(backend.notes?.(op, spec, host) ?? [])],
  exitCodeFrom,
})

/** Every secret a step or its undo hands to a backend process (env or stdin), in first-use order. */
const secretsOf = (steps: readonly Step[]): string[] => {
  const names: string[] = []
  const add = (name: string): void => {
    if (!names.includes(name)) names.push(name)
  }
  const visit = (s: Step): void => {
    for (const v of s.env.vars) if (v._tag === 'secret') add(v.name)
    if (s.stdin._tag === 'json') for (const slot of s.stdin.secrets) add(slot.secret)
    s.undo.forEach(visit)
  }
  steps.forEach(visit)
  return names
}

const allChecked = <A>(xs: readonly string[], check: (x: string) => Checked<A>): Checked<A[]> => {
  const out: A[] = []
  for (const x of xs) {
    const c = check(x)
    if (E.isLeft(c)) return c
    out.push(c.right)
  }
  return E.right(out)
}

/** Compiles an operation on one bottle into its plan. Pure and total. */
export const compile = (
  backend: Backend,
  rawSpec: BottleSpec,
  op: Operation,
  host: HostFacts,
): Checked<Plan> => {
  const checkedSpec = backend.checkSpec(rawSpec, op._tag, host)
  if (E.isLeft(checkedSpec)) return checkedSpec
  const spec = checkedSpec.right
  switch (op._tag) {
    case 'launch': {
      const create = backend.create(spec, host, rootStep(backend, spec, host))
      const recorded = ['the bottle records the spec it was launched from (secret names; env values only as digests), so that bottle ls can tell when the manifest has drifted from it']
      if (spec.prompt === null) return E.right(plan('launch', backend, spec, host, create, null, recorded))
      const kind = hostSource('prompt file', spec.prompt, host)
      if (E.isLeft(kind)) return kind
      if (kind.right !== 'file')
        return E.left(compileError(`prompt file ${show(spec.prompt)} is a directory`))
      const copy = copyInSteps(backend, spec, { source: spec.prompt, kind: 'file', dest: backend.promptPath(spec) }, host)
      if (E.isLeft(copy)) return copy
      return E.right(plan('launch', backend, spec, host, [...create, ...copy.right], null, recorded))
    }
    case 'agent':
    case 'resume': {
      const args = allChecked(op.args, agentArg)
      if (E.isLeft(args)) return args
      const tty = op.tty ?? host.stdinIsTTY
      const tail = op._tag === 'agent' ? agentTail(backend, spec, args.right) : resumeTail(backend, spec, args.right)
      const title = op._tag === 'agent' ? `run ${spec.agent} as ${spec.user}` : `resume ${spec.agent}'s last session as ${spec.user}, or start one`
      const run = guestStep(backend, spec, host, title, userIntent(spec, tail, { tty, stdin: true }), { stdio: 'terminal' })
      return E.right(plan(op._tag, backend, spec, host, [run], 0))
    }
    case 'exec': {
      const body = script(op.script)
      if (E.isLeft(body)) return body
      const user = op.user === null ? E.right(spec.user) : userName(op.user)
      if (E.isLeft(user)) return user
      const intent = userIntent(spec, ['sh', '-c', body.right], { tty: false, stdin: false, user: user.right })
      const run = guestStep(backend, spec, host, `run the script as ${user.right}`, intent, { stdio: 'passthrough' })
      return E.right(plan('exec', backend, spec, host, [run], 0))
    }
    case 'cp': {
      const source = absolutePath('source', op.source)
      if (E.isLeft(source)) return source
      const dest = absolutePath('guest path', op.dest)
      if (E.isLeft(dest)) return dest
      // The copy is chowned to the bottle's user afterwards; over `/` that would re-own the system.
      if (dest.right === '/') return E.left(compileError('guest path "/" is refused: name the directory to copy into'))
      const kind = hostSource('source', source.right, host)
      if (E.isLeft(kind)) return kind
      const copy = copyInSteps(backend, spec, { source: source.right, kind: kind.right, dest: dest.right }, host)
      if (E.isLeft(copy)) return copy
      return E.right(plan('cp', backend, spec, host, copy.right, null))
    }
    case 'down':
      return E.right(plan('down', backend, spec, host, backend.down(spec, host), null, [
        'a bottle that is already gone is not an error',
      ]))
    default:
      return absurd(op)
  }
}

/** `ls` names no bottle, so it has no spec; on kubernetes, `host.cluster` says where to look. */
export const compileList = (backend: Backend, host: HostFacts): Plan =>
  plan('ls', backend, null, host, backend.list(host), null, [
    'bottle reads the listing and prints NAME BACKEND STATE AGE IMAGE DRIFT (or, with --json, an array)',
  ])

/**
 * `down --all`: down every bottle a listing found, in the order listed. The names come from the
 * backend's own listing, so its CLI takes them; only the rules every backend shares are checked.
 * down reads nothing but the name (and, on kubernetes, where the listing looked: `host.cluster`),
 * so the rest of the spec is the defaults with a placeholder workdir: the reaper must work from
 * any directory, including ones no backend would bind.
 */
export const compileDownAll = (backend: Backend, names: readonly string[], host: HostFacts): Checked<Plan> => {
  const steps: Step[] = []
  for (const n of names) {
    const name = bottleName(n)
    if (E.isLeft(name)) return name
    const spec: BottleSpec = {
      name: name.right, image: null, user: defaultUser, workdir: '/', env: [], secrets: [],
      prompt: null, agent: defaultAgent, network: 'default',
      context: host.cluster.context, namespace: host.cluster.namespace, resources: noResources,
    }
    steps.push(...backend.down(spec, host))
  }
  return E.right(plan('down', backend, null, host, steps, null, [
    names.length === 0
      ? `down --all: ${backend.name} lists no bottles that bottle created; nothing to do`
      : `down --all: the ${names.length} bottle${names.length === 1 ? '' : 's'} that bottle created on ${backend.name}, as listed just now: ${names.join(', ')}`,
    'a bottle that is already gone is not an error',
  ]))
}
