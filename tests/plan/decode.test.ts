/**
 * The saved plan's decoder (src/plan/decode.ts) and its published schema (schema/plan.schema.json,
 * from src/plan/schema.ts): the file is what the script writes; the hand decoder and the schema
 * (ajv, a test-only dependency) accept and refuse the same documents, for compiled plans of every
 * backend and generated corruptions of them; what the schema cannot say is refused with a pointer.
 */
import { fc, test } from '@fast-check/vitest'
import { Ajv2020 } from 'ajv/dist/2020.js'
import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { basisOf, unlaunched } from '../../src/plan/basis.js'
import { checkPlan, decodePlan, decodeShape } from '../../src/plan/decode.js'
import { renderJson } from '../../src/plan/render.js'
import { planSchema } from '../../src/plan/schema.js'
import { type BackendName, type Plan, backendNames, step } from '../../src/plan/types.js'
import { scenarioArb } from '../arbitraries.js'
import { fitFor } from '../backends/kits.js'
import { runs } from '../runs.js'

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A compiled plan of a generated scenario, with a basis of either kind (the CLI adds it). */
const planArb: fc.Arbitrary<Plan> = fc
  .record({ backend: fc.constantFrom<BackendName>(...backendNames), s: scenarioArb, recorded: fc.boolean() })
  .map(({ backend, s, recorded }) => {
    const { spec, op, host } = fitFor(backend, s)
    const compiled = compile(backends[backend], spec, op, host)
    if (E.isLeft(compiled)) throw new Error(`valid input rejected: ${compiled.left.message}`)
    return { ...compiled.right, basis: recorded ? basisOf(spec, backends[backend].defaultImage) : unlaunched }
  })

/** The plan as `bottle plan --format json` prints it, parsed back: what a saved file holds. */
const asSaved = (plan: Plan): JsonValue => JSON.parse(renderJson(plan)) as JsonValue

/** Every place in a JSON document: the path of keys and indexes that leads to it. */
const places = (v: JsonValue, path: (string | number)[] = []): (string | number)[][] => [
  path,
  ...(Array.isArray(v)
    ? v.flatMap((x, i) => places(x, [...path, i]))
    : v !== null && typeof v === 'object'
      ? Object.entries(v).flatMap(([k, x]) => places(x, [...path, k]))
      : []),
]

/**
 * A place, chosen uniformly among the kinds of place (its path with every index as `#`), then
 * among the places of that kind: a plan has thousands of argv words and one `exitCodeFrom`, and
 * each should be corrupted about as often.
 */
const placeOf = (doc: JsonValue, kind: number, which: number): (string | number)[] => {
  const groups = new Map<string, (string | number)[][]>()
  for (const p of places(doc)) {
    const key = p.map((k) => (typeof k === 'number' ? '#' : k)).join('/')
    groups.set(key, [...(groups.get(key) ?? []), p])
  }
  const all = [...groups.values()]
  const members = all[kind % all.length] ?? [[]]
  return members[which % members.length] ?? []
}

/** What a corruption does at one place: given the value there, its replacement, or `deleted`. */
const deleted = Symbol('deleted')
type Corruption = (v: JsonValue) => JsonValue | typeof deleted

const junkArb = fc.constantFrom<JsonValue>(null, true, 0, -1, 1.5, 2, '', 'x', 'a\u0000b', 'a=b', 'abcdef012345', [], [''], {}, { _tag: 'none' }, { _tag: 'plain' }, { _tag: 'info', text: '' }, { _tag: 'drift', against: 'live' }, 'terminal', 'docker', 'launch', 'recorded')
const keyArb = fc.constantFrom('extra', '_tag', 'from', 'launchId', 'pane', '__proto__', 'timeoutMs', 'basis', 'guest', 'wrapper', 'prelude')
const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  junkArb.map((junk): Corruption => () => junk),
  fc.constant<Corruption>(() => deleted),
  // What fits the value's own kind: an array emptied, shortened or lengthened; an object with a
  // key more or emptied; a number off by a little; a string emptied or given a NUL or an `=`.
  fc.record({ junk: junkArb, key: keyArb, n: fc.nat(3) }).map(({ junk, key, n }): Corruption => (v) => {
    if (Array.isArray(v)) return [[], v.slice(1), [...v, junk], v.slice(0, -1)][n] ?? []
    if (v !== null && typeof v === 'object') return n % 2 === 0 ? Object.fromEntries([...Object.entries(v), [key, junk]]) : {}
    if (typeof v === 'number') return [-1 - v, v + 0.5, v + 1, 0][n] ?? 0
    if (typeof v === 'string') return ['', `${v}\u0000`, `${v}=`, `${v}x`][n] ?? ''
    return junk
  }),
)

/** A copy of `doc` with the corruption applied at `path`; deleting the root gives null. */
const corrupt = (doc: JsonValue, path: readonly (string | number)[], c: Corruption): JsonValue => {
  if (path.length === 0) {
    const r = c(doc)
    return r === deleted ? null : r
  }
  const [head, ...rest] = path
  if (Array.isArray(doc)) {
    if (rest.length === 0 && c(doc[head as number] ?? null) === deleted) return doc.filter((_, j) => j !== head)
    return doc.map((x, j) => (j === head ? corrupt(x, rest, c) : x))
  }
  if (doc === null || typeof doc !== 'object') return doc
  // Object.fromEntries keeps `__proto__` an own key, as JSON.parse does.
  if (rest.length === 0 && c(doc[head as string] ?? null) === deleted) return Object.fromEntries(Object.entries(doc).filter(([k]) => k !== head))
  return Object.fromEntries(Object.entries(doc).map(([k, x]) => [k, k === head ? corrupt(x, rest, c) : x]))
}

describe('schema/plan.schema.json', () => {
  it('is what scripts/write-schema.ts writes from src/plan/schema.ts', () => {
    const onDisk = readFileSync(new URL('../../schema/plan.schema.json', import.meta.url), 'utf8')
    expect(onDisk).toBe(JSON.stringify(planSchema, null, 2) + '\n')
  })

  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true })
  const validate = ajv.compile(planSchema)

  test.prop([planArb], { numRuns: runs })('accepts every compiled plan, and the decoder gives the plan back', (plan) => {
    const saved = asSaved(plan)
    expect(validate(saved)).toBe(true)
    const decoded = decodePlan(renderJson(plan))
    expect(decoded).toStrictEqual(E.right(plan))
  })

  test.prop([planArb, fc.nat(), fc.nat(), corruptionArb], { numRuns: runs * 10 })(
    'the decoder and the schema agree on corrupted plans',
    (plan, kind, which, c) => {
      const saved = asSaved(plan)
      const path = placeOf(saved, kind, which)
      const doc = corrupt(saved, path, c)
      const bySchema = validate(doc)
      const byDecoder = decodeShape(doc)
      expect({ path, ok: E.isRight(byDecoder) }).toStrictEqual({ path, ok: bySchema })
    },
  )
})

describe('decodePlan', () => {
  const exec: Plan = {
    version: 1, op: 'exec', backend: 'docker', bottle: 'demo', secrets: ['TOKEN'], notes: [], exitCodeFrom: 0,
    steps: [step('run', ['docker', 'exec', 'demo', 'true'], { env: { inheritHost: true, vars: [{ _tag: 'secret', name: 'TOKEN' }] } })],
    basis: unlaunched,
  }
  const refusal = (p: unknown): string => {
    const d = decodePlan(JSON.stringify(p))
    return E.isLeft(d) ? d.left : 'accepted'
  }

  it('says another format version as such, before anything else', () => {
    expect(refusal({ version: 2 })).toBe('is plan format 2; this bottle reads format 1 only (make the plan again with this bottle)')
  })

  it('names the place that breaks the schema as a JSON Pointer', () => {
    expect(refusal({ ...exec, steps: [{ ...exec.steps[0], argv: [] }] })).toBe('does not match the plan schema at /steps/0/argv: must have at least 1 item')
    expect(refusal({ ...exec, steps: [{ ...exec.steps[0], stdio: 'loud' }] })).toBe('does not match the plan schema at /steps/0/stdio: must be one of terminal, passthrough, quiet, capture')
    expect(refusal({ ...exec, 'a/b~': 1 })).toBe('does not match the plan schema at /a~1b~0: is not a key a plan has')
  })

  it('refuses what the schema cannot say, with where', () => {
    expect(refusal({ ...exec, exitCodeFrom: 1 })).toBe('does not hold together at /exitCodeFrom: names step 1, and the plan has 1')
    expect(refusal({ ...exec, secrets: [] })).toBe('does not hold together at /steps/0: reads the secret "TOKEN", which /secrets does not list')
    expect(refusal({ ...exec, steps: [{ ...exec.steps[0], launchId: [4] }] })).toBe('does not hold together at /steps/0/launchId: names argv word 4, and the step has 4')
    const undo = step('undo', ['docker', 'rm', 'demo'], { stdin: { _tag: 'json', document: { a: 'x' }, secrets: [{ path: ['a'], secret: 'TOKEN' }] } })
    expect(refusal({ ...exec, steps: [{ ...exec.steps[0], undo: [undo] }] })).toBe('does not hold together at /steps/0/undo/0/stdin: has a slot ["a"] that is not an empty string in its document')
    const spec = basisOf({
      name: 'demo', image: null, user: 'node', workdir: '/w', env: [], secrets: [], prompt: null,
      agent: { name: 'claude', command: 'claude', promptFlag: null, continueArgs: [], refusesRoot: true, rootEnv: [] },
      allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: { requests: [], limits: [] }, limits: { cpus: null, memory: null, pids: null }, provision: { install: true, scripts: [], allow: [] }, auth: 'token', workspace: null,
    }, 'node:22')
    expect(refusal({ ...exec, basis: spec })).toBe('accepted')
    if (spec._tag !== 'recorded') throw new Error('a recorded basis')
    expect(refusal({ ...exec, basis: { ...spec, record: { ...spec.record, image: 'other' } } })).toBe('does not hold together at /basis/hash: is not the hash of /basis/record')
  })

  it('refuses a file of several plans (ls or down --all without -b)', () => {
    expect(refusal([exec, exec])).toBe('holds 2 plans (one per backend): save one, with -b')
  })

  test.prop([planArb], { numRuns: runs })('a compiled plan holds together', (plan) => {
    expect(checkPlan(plan)).toBeNull()
  })
})
