/**
 * A `json` stdin with secret slots (a Kubernetes Secret), three ways: filled by the interpreter
 * (fillJson), shown by name (render text), and built by awk from the env in `--format sh`, run
 * here under dash and bash with hostile secret values and compared with what the interpreter
 * writes.
 */
import { fc, test } from '@fast-check/vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { interpret } from '../../src/interpret.js'
import { spawnProcess } from '../../src/spawn.js'
import { fillJson, jsonParts } from '../../src/plan/json.js'
import { renderSh, renderText } from '../../src/plan/render.js'
import { type Json, type Plan, type SecretSlot, step } from '../../src/plan/types.js'
import { nastyString, secretNameArb } from '../arbitraries.js'
import { runs } from '../runs.js'

type Path = (string | number)[]

/** Every leaf of a document (a scalar, an empty array or object), with its path. */
const leaves = (v: Json, path: Path = []): Path[] => {
  if (v === null || typeof v !== 'object') return [path]
  const entries: [string | number, Json][] = Array.isArray(v)
    ? (v as readonly Json[]).map((x, i) => [i, x])
    : Object.entries(v as { readonly [k: string]: Json })
  return entries.length === 0 ? [path] : entries.flatMap(([k, x]) => leaves(x, [...path, k]))
}

/** The document with `value` at `path`; defineProperty, so a `__proto__` key stays a key. */
const setAt = (v: Json, path: Path, value: Json): Json => {
  if (path.length === 0) return value
  const [k, ...rest] = path
  const copy = (Array.isArray(v) ? [...(v as Json[])] : { ...(v as object) }) as Record<string | number, Json>
  Object.defineProperty(copy, k as string | number, {
    value: setAt((v as Record<string | number, Json>)[k as string | number] as Json, rest, value),
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return copy as Json
}

/** A document, some of its leaves as slots (each for a distinct secret), and a value for each. */
const slottedArb = fc
  .record({
    document: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
    picks: fc.array(fc.nat(), { maxLength: 4 }),
    // PATH as a secret would hide sh, awk and cat from the test itself.
    names: fc.uniqueArray(secretNameArb.map((k) => (k === 'PATH' ? 'PATH_S' : k)), { minLength: 4, maxLength: 4 }),
    values: fc.array(nastyString(), { minLength: 4, maxLength: 4 }),
  })
  .map(({ document, picks, names, values }) => {
    const all = leaves(document)
    const paths = [...new Set(picks.map((p) => p % all.length))].map((i) => all[i] as Path)
    const slots: SecretSlot[] = paths.map((path, i) => ({ path, secret: names[i] as string }))
    const env = Object.fromEntries(slots.map((s, i) => [s.secret, values[i] as string]))
    const filled = slots.reduce<Json>((d, s) => setAt(d, [...s.path], env[s.secret] as string), document)
    return { document, slots, env, filled }
  })

describe('jsonParts and fillJson', () => {
  test.prop([slottedArb], { numRuns: runs })('filling the slots gives JSON.stringify of the filled document', ({ document, slots, env, filled }) => {
    expect(fillJson(jsonParts(document, slots), (n) => env[n] ?? '')).toBe(JSON.stringify(filled))
  })

  test.prop([fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>], { numRuns: runs })('with an indent, the layout is JSON.stringify\'s', (document) => {
    expect(fillJson(jsonParts(document, [], 2), () => '')).toBe(JSON.stringify(document, null, 2))
  })

  it('a slot at no place in the document is a compiler bug', () => {
    expect(() => jsonParts({ a: '' }, [{ path: ['b'], secret: 'T' }])).toThrow(/compiler bug/)
  })

  it('the text rendering shows each slot by name', () => {
    const plan: Plan = {
      version: 1, op: 'launch', backend: 'kubernetes', bottle: 'demo', secrets: ['TOKEN'], notes: [], exitCodeFrom: null,
      steps: [step('create', ['kubectl', 'create', '-f', '-'], { stdin: { _tag: 'json', document: { stringData: { TOKEN: '' } }, secrets: [{ path: ['stringData', 'TOKEN'], secret: 'TOKEN' }] } })],
    }
    expect(renderText(plan)).toContain('"TOKEN": <secret TOKEN, from the host env>')
  })
})

// -------------------------------------------------------------------------------------------------
// --format sh: awk builds the document from the env
// -------------------------------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'bottle-json-stdin-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
let runId = 0

/** A plan whose one step writes its stdin to a file: what `kubectl create -f -` would read. */
const catPlan = (document: Json, slots: readonly SecretSlot[], out: string): Plan => ({
  version: 1, op: 'launch', backend: 'kubernetes', bottle: 'demo', notes: [], exitCodeFrom: null,
  secrets: slots.map((s) => s.secret),
  steps: [step('write stdin', ['sh', '-c', 'cat >"$1"', 'sh', out], { stdin: { _tag: 'json', document, secrets: slots } })],
})

const awkName = spawnSync('sh', ['-c', 'readlink -f "$(command -v awk)"']).stdout.toString().trim()

describe(`the sh rendering of a json stdin (awk here is ${awkName})`, () => {
  test.prop([slottedArb], { numRuns: 25 })(
    'under dash and bash, awk writes the document the interpreter writes',
    async ({ document, slots, env, filled }) => {
      const viaInterpreter = join(scratch, `i-${runId}`)
      const result = await interpret(catPlan(document, slots, viaInterpreter), {
        hostEnv: { PATH: process.env.PATH, ...env },
        onEvent: () => {},
      }, spawnProcess)
      expect(result).toStrictEqual({ _tag: 'exited', code: 0 })
      expect(readFileSync(viaInterpreter, 'utf8')).toBe(JSON.stringify(filled))
      for (const shell of ['/usr/bin/dash', '/usr/bin/bash']) {
        const out = join(scratch, `s-${runId++}`)
        // renderSh never sees a value (it takes none): the script names the secrets, awk reads them.
        const script = renderSh(catPlan(document, slots, out))
        const r = spawnSync(shell, ['-c', script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
        expect({ status: r.status, stderr: r.stderr.toString() }).toStrictEqual({ status: 0, stderr: '' })
        // awk writes \u00XX where JSON.stringify writes \n: the same document, other bytes.
        expect(JSON.parse(readFileSync(out, 'utf8'))).toStrictEqual(JSON.parse(JSON.stringify(filled)))
      }
    },
  )
})

// -------------------------------------------------------------------------------------------------
// launch id slots: the run's id, never a value in the plan
// -------------------------------------------------------------------------------------------------

/** A slotted document with one more leaf, not a secret's, as a launch id slot (if there is one). */
const withIdSlotArb = fc.tuple(slottedArb, fc.nat()).map(([x, pick]) => {
  const free = leaves(x.document).filter((p) => !x.slots.some((s) => JSON.stringify(s.path) === JSON.stringify(p)))
  const idPath = free.length === 0 ? null : (free[pick % free.length] as Path)
  return { ...x, idPaths: idPath === null ? [] : [idPath] }
})

const fixedId = '0123456789abcdef'

describe('launch id slots in a json stdin', () => {
  test.prop([withIdSlotArb], { numRuns: runs })('filled, the document has the id at the slot, the secrets at theirs', ({ document, slots, env, filled, idPaths }) => {
    const expected = idPaths.reduce<Json>((d, p) => setAt(d, p, fixedId), filled)
    expect(fillJson(jsonParts(document, slots, 0, idPaths), (n) => env[n] ?? '', fixedId)).toBe(JSON.stringify(expected))
  })

  it('a slot with no id to fill it is a bug, not an empty label', () => {
    expect(() => fillJson(jsonParts({ a: '' }, [], 0, [['a']]), () => '')).toThrow(/launch id slot with no launch id/)
  })

  it('the text rendering shows the slot, not a value', () => {
    const plan: Plan = {
      version: 1, op: 'launch', backend: 'kubernetes', bottle: 'demo', secrets: [], notes: [], exitCodeFrom: null,
      steps: [step('create', ['kubectl', 'create', '-f', '-'], { stdin: { _tag: 'json', document: { labels: { id: '' } }, secrets: [], launchId: [['labels', 'id']] } })],
    }
    const text = renderText(plan)
    expect(text).toContain('"id": <launch id>')
    expect(text).toContain('<launch id>: a fresh id for each run of this plan')
  })

  const idPlan = (document: Json, slots: readonly SecretSlot[], idPaths: readonly Path[], out: string): Plan => ({
    ...catPlan(document, slots, out),
    steps: [step('write stdin', ['sh', '-c', 'cat >"$1"', 'sh', out], { stdin: { _tag: 'json', document, secrets: slots, launchId: idPaths } })],
  })

  test.prop([withIdSlotArb], { numRuns: 15 })(
    'the interpreter writes its launch id there; a --format sh script, a fresh one each run, under dash and bash',
    async ({ document, slots, env, filled, idPaths }) => {
      fc.pre(idPaths.length > 0)
      const viaInterpreter = join(scratch, `i-${runId}`)
      const result = await interpret(idPlan(document, slots, idPaths, viaInterpreter), {
        hostEnv: { PATH: process.env.PATH, ...env },
        onEvent: () => {},
        launchId: fixedId,
      }, spawnProcess)
      expect(result).toStrictEqual({ _tag: 'exited', code: 0 })
      expect(readFileSync(viaInterpreter, 'utf8')).toBe(JSON.stringify(idPaths.reduce<Json>((d, p) => setAt(d, p, fixedId), filled)))
      const ids: unknown[] = []
      for (const shell of ['/usr/bin/dash', '/usr/bin/bash']) {
        const out = join(scratch, `s-${runId++}`)
        const r = spawnSync(shell, ['-c', renderSh(idPlan(document, slots, idPaths, out))], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
        expect({ status: r.status, stderr: r.stderr.toString() }).toStrictEqual({ status: 0, stderr: '' })
        const written = JSON.parse(readFileSync(out, 'utf8')) as Json
        const id = idPaths[0]?.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], written)
        expect(id).toMatch(/^[0-9a-f]{16}$/)
        ids.push(id)
        expect(written).toStrictEqual(JSON.parse(JSON.stringify(idPaths.reduce<Json>((d, p) => setAt(d, p, id as string), filled))))
      }
      expect(ids[0]).not.toBe(ids[1])
    },
  )
})
