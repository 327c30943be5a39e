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
import { type Backend, type CopyIn, type GuestStep, type HostFacts, type ListScope, anywhere } from './backends/backend.js'
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
import type { BottleSpec } from './spec/spec.js'
import { type Checked, absolutePath, agentArg, homeOf, script, userName } from './spec/validate.js'

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
  title: string,
  intent: GuestIntent,
  more: Partial<Step> = {},
): Step => {
  const { framing, env } = backend.exec(spec, intent)
  return step(title, [...framing, ...intent.argv], {
    env,
    guest: { framing, tail: intent.argv, intent },
    ...more,
  })
}

/** Plumbing in the guest (mkdir, chown, unpacking): root, no user env, cwd `/`. */
const rootStep =
  (backend: Backend, spec: BottleSpec): GuestStep =>
  (title, argv) =>
    guestStep(backend, spec, title, {
      user: 'root',
      home: homeOf('root'),
      env: [],
      secrets: [],
      cwd: '/',
      argv,
      tty: false,
      stdin: false,
    })

const parentDir = (p: string): string => p.slice(0, Math.max(1, p.lastIndexOf('/')))

/**
 * Copy a host path in, owned by the bottle's user (files copied in as root would otherwise be
 * unwritable by the agent): make the parent, copy, chown.
 */
const copyInSteps = (
  backend: Backend,
  spec: BottleSpec,
  copy: CopyIn,
  host: HostFacts,
): Checked<Step[]> => {
  const inGuest = rootStep(backend, spec)
  const target = copy.kind === 'dir' ? copy.dest : parentDir(copy.dest)
  const copied = backend.copyIn(spec, copy, host, inGuest)
  if (E.isLeft(copied)) return copied
  return E.right([
    inGuest(`make ${target} in the bottle`, ['mkdir', '-p', '--', target]),
    ...copied.right,
    inGuest(`give ${copy.dest} to ${spec.user}`, ['chown', '-R', '--', spec.user, copy.dest]),
  ])
}

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
  steps: readonly Step[],
  exitCodeFrom: number | null,
  notes: readonly string[] = [],
  scope: ListScope = spec ?? anywhere,
): Plan => ({
  op,
  backend: backend.name,
  bottle: spec?.name ?? '',
  steps,
  secrets: secretsOf(steps),
  notes: [...notes, ...(backend.notes?.(op, spec, scope) ?? [])],
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
  const checkedSpec = backend.checkSpec(rawSpec)
  if (E.isLeft(checkedSpec)) return checkedSpec
  const spec = checkedSpec.right
  switch (op._tag) {
    case 'launch': {
      const create = backend.create(spec, host, rootStep(backend, spec))
      if (spec.prompt === null) return E.right(plan('launch', backend, spec, create, null))
      const kind = hostSource('prompt file', spec.prompt, host)
      if (E.isLeft(kind)) return kind
      if (kind.right !== 'file')
        return E.left(compileError(`prompt file ${show(spec.prompt)} is a directory`))
      const copy = copyInSteps(backend, spec, { source: spec.prompt, kind: 'file', dest: backend.promptPath(spec) }, host)
      if (E.isLeft(copy)) return copy
      return E.right(plan('launch', backend, spec, [...create, ...copy.right], null))
    }
    case 'agent':
    case 'resume': {
      const args = allChecked(op.args, agentArg)
      if (E.isLeft(args)) return args
      const tty = op.tty ?? host.stdinIsTTY
      const tail = op._tag === 'agent' ? agentTail(backend, spec, args.right) : resumeTail(backend, spec, args.right)
      const title = op._tag === 'agent' ? `run ${spec.agent} as ${spec.user}` : `resume ${spec.agent}'s last session as ${spec.user}, or start one`
      const run = guestStep(backend, spec, title, userIntent(spec, tail, { tty, stdin: true }), { stdio: 'terminal' })
      return E.right(plan(op._tag, backend, spec, [run], 0))
    }
    case 'exec': {
      const body = script(op.script)
      if (E.isLeft(body)) return body
      const user = op.user === null ? E.right(spec.user) : userName(op.user)
      if (E.isLeft(user)) return user
      const intent = userIntent(spec, ['sh', '-c', body.right], { tty: false, stdin: false, user: user.right })
      const run = guestStep(backend, spec, `run the script as ${user.right}`, intent, { stdio: 'passthrough' })
      return E.right(plan('exec', backend, spec, [run], 0))
    }
    case 'cp': {
      const source = absolutePath('source', op.source)
      if (E.isLeft(source)) return source
      const dest = absolutePath('guest path', op.dest)
      if (E.isLeft(dest)) return dest
      const kind = hostSource('source', source.right, host)
      if (E.isLeft(kind)) return kind
      const copy = copyInSteps(backend, spec, { source: source.right, kind: kind.right, dest: dest.right }, host)
      if (E.isLeft(copy)) return copy
      return E.right(plan('cp', backend, spec, copy.right, null))
    }
    case 'down':
      return E.right(plan('down', backend, spec, backend.down(spec), null, [
        'a bottle that is already gone is not an error',
      ]))
    default:
      return absurd(op)
  }
}

/** `ls` names no bottle, so it has no spec; `scope` says where to look (kubernetes). */
export const compileList = (backend: Backend, scope: ListScope = anywhere): Plan =>
  plan('ls', backend, null, backend.list(scope), null, [], scope)
