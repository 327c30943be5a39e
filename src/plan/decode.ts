/**
 * Reads a saved plan back: the text `bottle plan … --format json` printed, into a Plan, or one
 * clause saying where and why it is not one. The file is input like any other (a hand edit, a
 * truncated copy), so every field is checked; nothing is assumed from its having been ours.
 *
 *   decodePlan('{"version":2,…}')   // Left('is plan format 2; this bottle reads format 1 (make the plan again with this bottle)')
 *   decodePlan('{"version":1,"op":"exec",…,"steps":[{"argv":[]…}]}')
 *   // Left('/steps/0/argv: must have at least 1 item')
 *
 * Two layers. `decodeShape` checks exactly what schema/plan.schema.json says (the same rules,
 * written by hand: bottle does not ship a schema validator; tests/plan/decode.test.ts holds them
 * to agreeing). `checkPlan` then checks what a schema cannot say: indexes and slots that must
 * point inside the plan, every secret a step reads listed in `secrets`, and a basis whose hash is
 * its record's. Each failure names its place as a JSON Pointer (RFC 6901).
 */
import * as E from 'fp-ts/lib/Either.js'
import { specHash } from '../bottle-spec/record.js'
import { networkTextRule } from '../egress/policy.js'
import type { PlanBasis } from './basis.js'
import { oneLine, show } from './errors.js'
import { decodeNote } from './note-json.js'
import {
  type EnvVar, type GuestCommand, type Json, type JsonPath, type LiveCheck, type Plan, type ProcessEnv, type SecretSlot, type Stdin, type Step,
  type Tolerated, backendNames, opNames, planVersion, secretSource,
} from './types.js'

/** No NUL: the kernel ends an argv word or an environment string at the first one. */
export const noNulPattern = '^[^\\u0000]*$'
/** An environment variable's name as a process gets it: not empty, no `=` (it ends the name), no NUL. */
export const envNamePattern = '^[^\\u0000=]+$'
/** A spec hash (src/bottle-spec/record.ts): 12 hex digits of a SHA-256. */
export const specHashPattern = '^[0-9a-f]{12}$'

// -------------------------------------------------------------------------------------------------
// the shape: what the schema says
// -------------------------------------------------------------------------------------------------

/** A refusal deep in the walk; caught at the top of decodeShape and returned as a value. */
class Refused {
  constructor(readonly at: string, readonly why: string) {}
}

/** RFC 6901: `~` and `/` in a key are escaped, so a pointer names one place. */
const child = (at: string, key: string | number): string => `${at}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`

const refuse = (at: string, why: string): never => {
  throw new Refused(at, why)
}

type Obj = Readonly<Record<string, unknown>>

/** An object with exactly these keys: every required one, others only from `optional`. */
const object = (x: unknown, at: string, required: readonly string[], optional: readonly string[] = []): Obj => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return refuse(at, 'must be an object')
  const o = x as Obj
  for (const k of required) if (!Object.hasOwn(o, k)) refuse(at, `must have the key ${show(k)}`)
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) refuse(child(at, k), 'is not a key a plan has')
  return o
}

const array = <A>(x: unknown, at: string, item: (y: unknown, at: string) => A, minItems = 0): A[] => {
  if (!Array.isArray(x)) return refuse(at, 'must be an array')
  if (x.length < minItems) refuse(at, `must have at least ${minItems} item${minItems === 1 ? '' : 's'}`)
  return x.map((y, i) => item(y, child(at, i)))
}

const string = (x: unknown, at: string): string => (typeof x === 'string' ? x : refuse(at, 'must be a string'))

const matching = (pattern: string, what: string) => {
  const re = new RegExp(pattern, 'u')
  return (x: unknown, at: string): string => {
    const s = string(x, at)
    return re.test(s) ? s : refuse(at, `must be ${what}`)
  }
}

const word = matching(noNulPattern, 'a string without NUL')
const envName = matching(envNamePattern, 'an environment variable name (not empty, no = or NUL)')
const hashString = matching(specHashPattern, 'a spec hash (12 hex digits)')

const boolean = (x: unknown, at: string): boolean => (typeof x === 'boolean' ? x : refuse(at, 'must be true or false'))

const integer = (x: unknown, at: string, minimum = -Infinity): number => {
  if (typeof x !== 'number' || !Number.isInteger(x)) return refuse(at, 'must be an integer')
  return x >= minimum ? x : refuse(at, `must be at least ${minimum}`)
}

const count = (x: unknown, at: string): number => integer(x, at, 0)

const oneOf = <A extends string>(values: readonly A[]) => (x: unknown, at: string): A =>
  (values as readonly unknown[]).includes(x) ? (x as A) : refuse(at, `must be one of ${values.join(', ')}`)

const pair = (x: unknown, at: string): readonly [string, string] => {
  const items = array(x, at, string)
  const [a, b] = items
  return items.length === 2 && a !== undefined && b !== undefined ? [a, b] : refuse(at, 'must be a pair of strings')
}

/** The `_tag` of a tagged union, checked against its members; the object's keys are checked after. */
const tagOf = <A extends string>(x: unknown, at: string, tags: readonly A[]): A => {
  const o = object(x, at, [], Object.keys(typeof x === 'object' && x !== null ? x : {}))
  if (!Object.hasOwn(o, '_tag')) refuse(at, 'must have the key "_tag"')
  return oneOf(tags)(o._tag, child(at, '_tag'))
}

const envVar = (x: unknown, at: string): EnvVar => {
  const tag = tagOf(x, at, ['plain', 'secret'] as const)
  if (tag === 'plain') {
    const o = object(x, at, ['_tag', 'name', 'value'])
    return { _tag: 'plain', name: envName(o.name, child(at, 'name')), value: word(o.value, child(at, 'value')) }
  }
  const o = object(x, at, ['_tag', 'name'], ['from'])
  const name = envName(o.name, child(at, 'name'))
  return Object.hasOwn(o, 'from') ? { _tag: 'secret', name, from: envName(o.from, child(at, 'from')) } : { _tag: 'secret', name }
}

const processEnv = (x: unknown, at: string): ProcessEnv => {
  const o = object(x, at, ['inheritHost', 'vars'])
  return { inheritHost: boolean(o.inheritHost, child(at, 'inheritHost')), vars: array(o.vars, child(at, 'vars'), envVar) }
}

const jsonPath = (x: unknown, at: string): JsonPath =>
  array(x, at, (k, a) => (typeof k === 'string' ? k : typeof k === 'number' ? count(k, a) : refuse(a, 'must be a key or an index')))

const stdin = (x: unknown, at: string): Stdin => {
  const tag = tagOf(x, at, ['none', 'text', 'json'] as const)
  if (tag === 'none') {
    object(x, at, ['_tag'])
    return { _tag: 'none' }
  }
  if (tag === 'text') {
    const o = object(x, at, ['_tag', 'text'])
    return { _tag: 'text', text: string(o.text, child(at, 'text')) }
  }
  const o = object(x, at, ['_tag', 'document', 'secrets'], ['launchId'])
  const secrets = array(o.secrets, child(at, 'secrets'), (s, a): SecretSlot => {
    const slot = object(s, a, ['path', 'secret'])
    return { path: jsonPath(slot.path, child(a, 'path')), secret: envName(slot.secret, child(a, 'secret')) }
  })
  // The document is any JSON, as JSON.parse gave it.
  const document = o.document as Json
  return Object.hasOwn(o, 'launchId')
    ? { _tag: 'json', document, secrets, launchId: array(o.launchId, child(at, 'launchId'), jsonPath) }
    : { _tag: 'json', document, secrets }
}

const words = (x: unknown, at: string): string[] => array(x, at, word)
const strings = (x: unknown, at: string): string[] => array(x, at, string)

const guest = (x: unknown, at: string): GuestCommand => {
  const o = object(x, at, ['framing', 'tail', 'intent'], ['wrapper'])
  const i = object(o.intent, child(at, 'intent'), ['user', 'home', 'env', 'secrets', 'cwd', 'argv', 'tty', 'stdin'])
  const ia = child(at, 'intent')
  const intent = {
    user: string(i.user, child(ia, 'user')),
    home: string(i.home, child(ia, 'home')),
    env: array(i.env, child(ia, 'env'), pair),
    secrets: strings(i.secrets, child(ia, 'secrets')),
    cwd: string(i.cwd, child(ia, 'cwd')),
    argv: strings(i.argv, child(ia, 'argv')),
    tty: boolean(i.tty, child(ia, 'tty')),
    stdin: boolean(i.stdin, child(ia, 'stdin')),
  }
  const framing = words(o.framing, child(at, 'framing'))
  const tail = words(o.tail, child(at, 'tail'))
  if (!Object.hasOwn(o, 'wrapper')) return { framing, tail, intent }
  const wa = child(at, 'wrapper')
  const w = object(o.wrapper, wa, ['before', 'after'], ['prelude'])
  const wrapper = {
    before: words(w.before, child(wa, 'before')),
    after: words(w.after, child(wa, 'after')),
    ...(Object.hasOwn(w, 'prelude') ? { prelude: string(w.prelude, child(wa, 'prelude')) } : {}),
  }
  return { framing, tail, intent, wrapper }
}

const stepKeys = ['title', 'argv', 'env', 'stdio', 'stdin', 'tolerate', 'undo'] as const
const optionalStepKeys = ['guest', 'liveCheck', 'pane', 'timeoutMs', 'launchId', 'onInterrupt'] as const

const step = (x: unknown, at: string): Step => {
  const o = object(x, at, stepKeys, optionalStepKeys)
  const at_ = (k: string) => child(at, k)
  const tolerated = (t: unknown, a: string): Tolerated => {
    const v = object(t, a, ['exitCode', 'stderrIncludes'])
    return { exitCode: integer(v.exitCode, child(a, 'exitCode')), stderrIncludes: string(v.stderrIncludes, child(a, 'stderrIncludes')) }
  }
  const liveCheck = (l: unknown, a: string): LiveCheck => {
    const v = object(l, a, ['codes', 'step', 'running'])
    return { codes: array(v.codes, child(a, 'codes'), integer), step: step(v.step, child(a, 'step')), running: string(v.running, child(a, 'running')) }
  }
  const has = (k: (typeof optionalStepKeys)[number]): boolean => Object.hasOwn(o, k)
  return {
    title: string(o.title, at_('title')),
    argv: array(o.argv, at_('argv'), word, 1),
    env: processEnv(o.env, at_('env')),
    stdio: oneOf(['terminal', 'passthrough', 'quiet', 'capture'] as const)(o.stdio, at_('stdio')),
    stdin: stdin(o.stdin, at_('stdin')),
    ...(has('guest') ? { guest: guest(o.guest, at_('guest')) } : {}),
    tolerate: array(o.tolerate, at_('tolerate'), tolerated),
    undo: array(o.undo, at_('undo'), step),
    ...(has('liveCheck') ? { liveCheck: liveCheck(o.liveCheck, at_('liveCheck')) } : {}),
    ...(has('pane') ? { pane: step(o.pane, at_('pane')) } : {}),
    ...(has('timeoutMs') ? { timeoutMs: integer(o.timeoutMs, at_('timeoutMs'), 1) } : {}),
    ...(has('launchId') ? { launchId: array(o.launchId, at_('launchId'), count) } : {}),
    ...(has('onInterrupt') ? { onInterrupt: array(o.onInterrupt, at_('onInterrupt'), step) } : {}),
  }
}

const basis = (x: unknown, at: string): PlanBasis => {
  const tag = tagOf(x, at, ['unlaunched', 'recorded'] as const)
  if (tag === 'unlaunched') {
    object(x, at, ['_tag'])
    return { _tag: 'unlaunched' }
  }
  const o = object(x, at, ['_tag', 'hash', 'record'])
  const ra = child(at, 'record')
  const r = object(o.record, ra, ['v', 'image', 'user', 'workdir', 'env', 'secrets', 'prompt', 'network', 'agent'], ['limits', 'provision', 'auth', 'workspace'])
  if (r.v !== 1) refuse(child(ra, 'v'), 'must be 1')
  return {
    _tag: 'recorded',
    hash: hashString(o.hash, child(at, 'hash')),
    record: {
      v: 1,
      image: string(r.image, child(ra, 'image')),
      user: string(r.user, child(ra, 'user')),
      workdir: string(r.workdir, child(ra, 'workdir')),
      env: array(r.env, child(ra, 'env'), pair),
      secrets: strings(r.secrets, child(ra, 'secrets')),
      prompt: r.prompt === null ? null : string(r.prompt, child(ra, 'prompt')),
      network: networkTextRule.test(string(r.network, child(ra, 'network'))) ? (r.network as string) : refuse(child(ra, 'network'), 'must be a network mode or `allow` and entries'),
      agent: string(r.agent, child(ra, 'agent')),
      // Plans saved before limits existed have none.
      limits: r.limits === undefined || r.limits === null ? null : string(r.limits, child(ra, 'limits')),
      provision: r.provision === undefined || r.provision === null ? null : string(r.provision, child(ra, 'provision')),
      // Plans saved before sign-in modes existed, and bottles signed in by token, have none.
      auth: r.auth === undefined || r.auth === null ? null : string(r.auth, child(ra, 'auth')),
      workspace: r.workspace === undefined || r.workspace === null ? null : string(r.workspace, child(ra, 'workspace')),
    },
  }
}

const planKeys = ['version', 'op', 'backend', 'bottle', 'steps', 'secrets', 'notes', 'exitCodeFrom'] as const

/** Where a value breaks schema/plan.schema.json, and why; else the plan it describes. */
export interface ShapeError {
  /** A JSON Pointer: '' is the whole document. */
  readonly at: string
  readonly why: string
}

/** Exactly the rules of schema/plan.schema.json. */
export const decodeShape = (data: unknown): E.Either<ShapeError, Plan> => {
  try {
    const o = object(data, '', planKeys, ['basis'])
    if (o.version !== planVersion) refuse('/version', `must be ${planVersion}`)
    const plan: Plan = {
      version: planVersion,
      op: oneOf(opNames)(o.op, '/op'),
      backend: oneOf(backendNames)(o.backend, '/backend'),
      bottle: word(o.bottle, '/bottle'),
      steps: array(o.steps, '/steps', step),
      secrets: array(o.secrets, '/secrets', envName),
      notes: array(o.notes, '/notes', (n, at) => {
        const note = decodeNote(n)
        return E.isRight(note) ? note.right : refuse(at, note.left)
      }),
      exitCodeFrom: o.exitCodeFrom === null ? null : count(o.exitCodeFrom, '/exitCodeFrom'),
      ...(Object.hasOwn(o, 'basis') ? { basis: basis(o.basis, '/basis') } : {}),
    }
    return E.right(plan)
  } catch (e) {
    if (e instanceof Refused) return E.left({ at: e.at, why: e.why })
    throw e
  }
}

// -------------------------------------------------------------------------------------------------
// what a schema cannot say
// -------------------------------------------------------------------------------------------------

/** The value at a path in a JSON document, if the path names a place in it. */
const valueAt = (doc: Json, path: JsonPath): Json | undefined => {
  let v: Json | undefined = doc
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined
    if (Array.isArray(v)) v = typeof k === 'number' ? (v as readonly Json[])[k] : undefined
    else v = typeof k === 'string' && Object.hasOwn(v, k) ? (v as { readonly [key: string]: Json })[k] : undefined
  }
  return v
}

/** A step and every step nested in it (undo, on-interrupt, pane, live check), each with its pointer. */
const stepTree = (s: Step, at: string): [Step, string][] => [
  [s, at],
  ...s.undo.flatMap((u, i) => stepTree(u, child(child(at, 'undo'), i))),
  ...(s.onInterrupt ?? []).flatMap((h, i) => stepTree(h, child(child(at, 'onInterrupt'), i))),
  ...(s.pane === undefined ? [] : stepTree(s.pane, child(at, 'pane'))),
  ...(s.liveCheck === undefined ? [] : stepTree(s.liveCheck.step, child(child(at, 'liveCheck'), 'step'))),
]

/** The secrets a step reads from the host env: its process env's, its JSON stdin's. */
const secretsRead = (s: Step): string[] => [
  ...s.env.vars.flatMap((v) => (v._tag === 'secret' ? [secretSource(v)] : [])),
  ...(s.stdin._tag === 'json' ? s.stdin.secrets.map((slot) => slot.secret) : []),
]

/** Null when a well-shaped plan also holds together; else where and why not. */
export const checkPlan = (plan: Plan): ShapeError | null => {
  if (plan.exitCodeFrom !== null && plan.exitCodeFrom >= plan.steps.length)
    return { at: '/exitCodeFrom', why: `names step ${plan.exitCodeFrom}, and the plan has ${plan.steps.length}` }
  const listed = new Set(plan.secrets)
  // The interpreter checks `secrets` before the first step: a secret read but not listed would
  // surface only halfway through a run.
  for (const [s, at] of plan.steps.flatMap((x, i) => stepTree(x, child('/steps', i)))) {
    const unlisted = secretsRead(s).find((n) => !listed.has(n))
    if (unlisted !== undefined) return { at, why: `reads the secret ${show(unlisted)}, which /secrets does not list` }
    const outside = (s.launchId ?? []).find((i) => i >= s.argv.length)
    if (outside !== undefined) return { at: child(at, 'launchId'), why: `names argv word ${outside}, and the step has ${s.argv.length}` }
    if (s.stdin._tag === 'json') {
      const doc = s.stdin.document
      const slots = [...s.stdin.secrets.map((x) => x.path), ...(s.stdin.launchId ?? [])]
      const bad = slots.find((p) => valueAt(doc, p) !== '')
      if (bad !== undefined) return { at: child(at, 'stdin'), why: `has a slot ${oneLine(JSON.stringify(bad))} that is not an empty string in its document` }
    }
  }
  if (plan.basis?._tag === 'recorded' && specHash(plan.basis.record) !== plan.basis.hash)
    return { at: '/basis/hash', why: 'is not the hash of /basis/record' }
  return null
}

/**
 * A saved plan's text to a plan that holds together, or one clause: where (a JSON Pointer) and
 * what is wrong. Another format version is said as such, before any other check.
 */
export const decodePlan = (text: string): E.Either<string, Plan> => {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    return E.left(`is not JSON (${oneLine(e instanceof Error ? e.message : String(e))})`)
  }
  if (Array.isArray(data)) return E.left(`holds ${data.length} plans (one per backend): save one, with -b`)
  if (typeof data === 'object' && data !== null && Object.hasOwn(data, 'version') && (data as Obj).version !== planVersion)
    return E.left(`is plan format ${oneLine(JSON.stringify((data as Obj).version) ?? '')}; this bottle reads format ${planVersion} only (make the plan again with this bottle)`)
  const shaped = decodeShape(data)
  if (E.isLeft(shaped)) return E.left(`does not match the plan schema at ${shaped.left.at === '' ? '/' : shaped.left.at}: ${shaped.left.why}`)
  const wrong = checkPlan(shaped.right)
  return wrong === null ? E.right(shaped.right) : E.left(`does not hold together at ${wrong.at}: ${wrong.why}`)
}
