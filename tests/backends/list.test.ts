/**
 * The list parsers, as properties: bottles rendered the way each tool prints them (docker through
 * the very --format template in the plan, kubernetes as kubectl's JSON List) parse back to the same rows; entries without the
 * managed label are skipped; output the parser cannot read is a one-line Left, never a throw.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { type BottleRow, managedLabel, specHashLabel } from '../../src/backends/backend.js'

/** The label older bottles carried the whole spec in: listings may still show it; no parser reads it (the spec is in the launch record). */
const specLabel = 'dev.bottle.spec'
import { docker, parseGoTime } from '../../src/backends/docker.js'
import { kubernetes, parseRfc3339 } from '../../src/backends/kubernetes.js'
import { smolvm } from '../../src/backends/smolvm.js'
import { bottleNameArb, listingHost, nastyString, nastyStringArb } from '../arbitraries.js'
import { runs } from '../runs.js'
import { type Container, type Machine, type Pod, goTimeString, kubeTime, renderMachines, renderPods, renderPs } from '../standins.js'

/** The --format value of docker's list step. */
const psFormat = (): string => {
  const argv = docker.list(listingHost).at(-1)?.argv ?? []
  return argv[argv.indexOf('--format') + 1] ?? ''
}

const rowsOf = (parsed: ReturnType<typeof docker.parseList>): readonly BottleRow[] => {
  if (E.isLeft(parsed)) throw new Error(parsed.left.message)
  return parsed.right
}

// 2000-01-01 .. 2100-01-01, whole seconds: what a daemon records.
const createdSecArb = fc.integer({ min: 946_684_800, max: 4_102_444_800 })
const imageArb = fc.constantFrom('node:22', 'ghcr.io/acme/agent:1.2', 'debian@sha256:0123abcd', 'é/😀:1')
/** A recorded label as it may be found: absent, or any text (labels can be edited by anyone). */
const labelValueArb = fc.option(nastyString({ minLength: 1 }), { nil: null })

interface Listed {
  readonly name: string
  readonly state: string
  readonly createdSec: number
  readonly image: string | null
  readonly managed: boolean
  readonly specHash: string | null
  readonly spec: string | null
}

const listedArb = (states: readonly string[], image: fc.Arbitrary<string | null>): fc.Arbitrary<Listed[]> =>
  fc.uniqueArray(
    fc.record({
      name: bottleNameArb,
      state: fc.constantFrom(...states),
      createdSec: createdSecArb,
      image,
      // Mostly ours: the property is about both kinds side by side.
      managed: fc.boolean(),
      specHash: labelValueArb,
      spec: labelValueArb,
    }),
    { selector: (l) => l.name, maxLength: 6 },
  )

const labelsOf = (l: Listed): Record<string, string> => ({
  ...(l.managed ? { [managedLabel]: 'true' } : {}),
  ...(l.specHash === null ? {} : { [specHashLabel]: l.specHash }),
  ...(l.spec === null ? {} : { [specLabel]: l.spec }),
})

const expected = (backend: BottleRow['backend'], ls: readonly Listed[]): BottleRow[] =>
  ls.filter((l) => l.managed).map((l) => ({
    name: l.name,
    backend,
    state: l.state,
    createdAt: l.createdSec * 1000,
    image: l.image,
    specHash: l.specHash,
    spec: null,
  }))

const oneLine = (message: string): boolean => !/[\u0000-\u001f\u007f]/.test(message)

// -------------------------------------------------------------------------------------------------
// docker
// -------------------------------------------------------------------------------------------------

const dockerStates = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const
// Zones as Go prints them: an abbreviation, a numeric one, or (hand-built times) none.
const zoneArb = fc.record({ offsetMin: fc.integer({ min: -12 * 60, max: 14 * 60 }), zone: fc.constantFrom('UTC', 'CEST', 'PDT', '+03', '') })

const containersArb = fc
  .tuple(listedArb(dockerStates, imageArb), fc.array(zoneArb, { minLength: 6, maxLength: 6 }))
  .map(([ls, zones]) => ({
    ls,
    containers: ls.map((l, i): Container => ({ ...l, image: l.image ?? '', ...(zones[i] ?? { offsetMin: 0, zone: 'UTC' }), labels: labelsOf(l) })),
  }))

describe('docker ps, parsed', () => {
  test.prop([containersArb], { numRuns: runs })('rows survive the format template, whatever zone the client is in', ({ ls, containers }) => {
    expect(rowsOf(docker.parseList(renderPs(psFormat(), containers)))).toStrictEqual(expected('docker', ls))
  })

  test.prop([containersArb, fc.nat(), nastyStringArb], { numRuns: runs })(
    'a line that is not the object the template makes is skipped, with one warning naming its line; the rest are listed',
    ({ ls, containers }, at, garbage) => {
      fc.pre(garbage.trim() !== '' && !/[\n\r]/.test(garbage))
      const lines = renderPs(psFormat(), containers).split('\n').slice(0, -1)
      const k = at % (lines.length + 1)
      const out = [...lines.slice(0, k), garbage, ...lines.slice(k)].join('\n')
      const warnings = docker.listWarnings?.(out) ?? []
      // A garbage line that happens to be a well-formed object not marked as ours is skipped silently.
      if (warnings.length > 0) {
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain(`line ${k + 1}`)
        expect(oneLine(warnings[0] ?? '')).toBe(true)
      }
      expect(rowsOf(docker.parseList(out))).toStrictEqual(expected('docker', ls))
    },
  )

  it.each([
    ['no containers', '', []],
    ['blank lines', '\n\n', []],
  ] as const)('%s: no rows', (_label, out, rows) => {
    expect(rowsOf(docker.parseList(out))).toStrictEqual(rows)
  })

  it.each([
    ['a table, as the old format printed', 'NAMES\tSTATE\ndemo\trunning\n', 'line 1, which is not the JSON object'],
    ['an array', '[{"name":"demo"}]\n', 'line 1, which is not a JSON object'],
    ['a field of the wrong type', '{"name":"demo","state":1,"created":"","image":"","managed":"true","specHash":"","spec":""}', 'whose state is missing or not a string'],
    ['a field missing', '{"name":"demo","state":"running"}', 'is missing or not a string'],
    ['no name', '{"name":"","state":"running","created":"","image":"","managed":"true","specHash":"","spec":""}', 'which names no container'],
  ] as const)('%s is skipped, with a warning that says why', (_label, out, message) => {
    expect(rowsOf(docker.parseList(out))).toStrictEqual([])
    // One warning per line it could not read (the table has two).
    const warnings = docker.listWarnings?.(out) ?? []
    expect(warnings).toHaveLength(out.trim().split('\n').length)
    expect(warnings[0]).toContain(message)
  })

  it('a CreatedAt it cannot read leaves the age unknown rather than failing the listing', () => {
    const line = '{"name":"demo","state":"running","created":"yesterday","image":"node:22","managed":"true","specHash":"","spec":""}'
    expect(rowsOf(docker.parseList(line))[0]?.createdAt).toBeNull()
  })

  test.prop([createdSecArb, zoneArb], { numRuns: runs })('Go time strings read back to the same instant', (sec, { offsetMin, zone }) => {
    expect(parseGoTime(goTimeString(sec, offsetMin, zone))).toBe(sec * 1000)
  })
})

// -------------------------------------------------------------------------------------------------
// smolvm
// -------------------------------------------------------------------------------------------------

// src/cli/vm_common.rs: the states `status` prints.
const smolvmStates = ['created', 'running', 'stopped', 'failed', 'unreachable', 'frozen'] as const

const machinesArb = listedArb(smolvmStates, fc.option(imageArb, { nil: null })).chain((ls) =>
  fc.array(fc.boolean(), { minLength: ls.length, maxLength: ls.length }).map((bare) => ({
    ls,
    // A machine not ours may have no labels object at all.
    machines: ls.map((l, i): Machine => ({ ...l, ...(!l.managed && bare[i] ? {} : { labels: labelsOf(l) }) })),
  })),
)

describe('smolvm machine ls --json, parsed', () => {
  test.prop([machinesArb], { numRuns: runs })('rows survive, and machines without the managed label are skipped', ({ ls, machines }) => {
    expect(rowsOf(smolvm.parseList(renderMachines(machines)))).toStrictEqual(expected('smolvm', ls))
  })

  test.prop([nastyStringArb], { numRuns: runs })('text that is not JSON is a one-line Left', (garbage) => {
    fc.pre(garbage.trim() !== '' && (() => { try { JSON.parse(garbage); return false } catch { return true } })())
    const parsed = smolvm.parseList(garbage)
    expect(E.isLeft(parsed) && parsed.left.message.startsWith('smolvm machine ls --json printed something that is not JSON')).toBe(true)
    if (E.isLeft(parsed)) expect(oneLine(parsed.left.message)).toBe(true)
  })

  test.prop([machinesArb, fc.nat(), fc.jsonValue()], { numRuns: runs })(
    'one of our machines with a name or state that is not a string is skipped with one warning naming it; the rest are listed',
    ({ ls, machines }, at, bad) => {
      fc.pre(typeof bad !== 'string')
      const list = JSON.parse(renderMachines(machines)) as Record<string, unknown>[]
      const k = at % (list.length + 1)
      const field = at % 2 === 0 ? 'name' : 'state'
      list.splice(k, 0, { name: 'x1', state: 'running', created_at: 0, image: null, labels: { [managedLabel]: 'true' }, [field]: bad })
      const out = JSON.stringify(list)
      expect(rowsOf(smolvm.parseList(out))).toStrictEqual(expected('smolvm', ls))
      const warnings = smolvm.listWarnings?.(out) ?? []
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`machine ${k + 1}`)
      if (field === 'state') expect(warnings[0]).toContain('"x1"')
      expect(oneLine(warnings[0] ?? '')).toBe(true)
    },
  )

  it.each([
    ['[]', []],
    ['', []],
    // Without --json smolvm prints this; with it, `[]`. Neither is a bottle.
  ] as const)('%j: no rows', (out, rows) => {
    expect(rowsOf(smolvm.parseList(out))).toStrictEqual(rows)
  })

  it.each([
    ['an object, not a list', '{"name":"demo"}', 'not a list of machines'],
    ['the table smolvm prints without --json', 'NAME  STATE\ndemo  running\n', 'not JSON'],
  ] as const)('%s is a Left that says why', (_label, out, message) => {
    const parsed = smolvm.parseList(out)
    expect(E.isLeft(parsed) ? parsed.left.message : 'Right').toContain(message)
  })

  it.each([
    ['a list of numbers', '[1]', 'machine 1 is not a JSON object; skipped it'],
    ['labels that are a list', '[{"name":"demo","state":"running","labels":["a"]}]', 'machine 1 ("demo") has labels that are not an object; skipped it'],
  ] as const)('%s: that machine is skipped, with a warning that names it', (_label, out, message) => {
    expect(rowsOf(smolvm.parseList(out))).toStrictEqual([])
    expect(smolvm.listWarnings?.(out)).toStrictEqual([expect.stringContaining(message)])
  })

  it('a created_at that is not a number leaves the age unknown', () => {
    const out = JSON.stringify([{ name: 'demo', state: 'running', created_at: '2026', image: null, labels: { [managedLabel]: 'true' } }])
    expect(rowsOf(smolvm.parseList(out))[0]?.createdAt).toBeNull()
  })
})

// -------------------------------------------------------------------------------------------------
// kubernetes
// -------------------------------------------------------------------------------------------------

// PodPhase, as the API defines it; ls shows it lower-cased, like the other backends' states.
const podPhases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const

/** The spec hash is a label; the spec record, too long for a label value, an annotation. */
const podsArb = listedArb(podPhases, imageArb).chain((ls) =>
  fc.array(fc.record({ terminating: fc.boolean(), sidecarFirst: fc.boolean() }), { minLength: ls.length, maxLength: ls.length }).map((more) => ({
    ls,
    pods: ls.map((l, i): Pod => ({
      name: l.name,
      phase: l.state,
      createdSec: l.createdSec,
      image: l.image ?? 'node:22',
      ...(more[i] ?? { terminating: false, sidecarFirst: false }),
      labels: {
        ...(l.managed ? { [managedLabel]: 'true' } : {}),
        ...(l.specHash === null ? {} : { [specHashLabel]: l.specHash }),
      },
      annotations: l.spec === null ? {} : { [specLabel]: l.spec },
    })),
  })),
)

/** What ls makes of the pods: ours only, the phase lower-cased, "terminating" once a delete began. */
const expectedPods = (ls: readonly Listed[], pods: readonly Pod[]): BottleRow[] =>
  expected('kubernetes', ls).map((row) => {
    const pod = pods.find((p) => p.name === row.name)
    return { ...row, state: pod?.terminating === true ? 'terminating' : row.state.toLowerCase() }
  })

describe('kubectl get pods -o json, parsed', () => {
  test.prop([podsArb], { numRuns: runs })('rows survive, and pods without the managed label are skipped', ({ ls, pods }) => {
    expect(rowsOf(kubernetes.parseList(renderPods(pods)))).toStrictEqual(expectedPods(ls, pods))
  })

  test.prop([nastyStringArb], { numRuns: runs })('text that is not JSON is a one-line Left', (garbage) => {
    fc.pre(garbage.trim() !== '' && (() => { try { JSON.parse(garbage.trim()); return false } catch { return true } })())
    const parsed = kubernetes.parseList(garbage)
    expect(E.isLeft(parsed) && parsed.left.message.startsWith('kubectl get pods -o json printed something that is not JSON')).toBe(true)
    if (E.isLeft(parsed)) expect(oneLine(parsed.left.message)).toBe(true)
  })

  test.prop([podsArb, fc.nat(), fc.jsonValue()], { numRuns: runs })(
    'one of our pods with a name or phase that is not a string is skipped with one warning naming it; the rest are listed',
    ({ ls, pods }, at, bad) => {
      fc.pre(typeof bad !== 'string' && bad !== null)
      const list = JSON.parse(renderPods(pods)) as { items: unknown[] }
      const k = at % (list.items.length + 1)
      const pod = { metadata: { name: 'x1', labels: { [managedLabel]: 'true' } }, status: { phase: 'Running' } }
      if (at % 2 === 0) (pod.metadata as Record<string, unknown>).name = bad
      else (pod.status as Record<string, unknown>).phase = bad
      list.items.splice(k, 0, pod)
      const out = JSON.stringify(list)
      expect(rowsOf(kubernetes.parseList(out))).toStrictEqual(expectedPods(ls, pods))
      const warnings = kubernetes.listWarnings?.(out) ?? []
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`item ${k + 1}`)
      if (at % 2 === 1) expect(warnings[0]).toContain('"x1"')
      expect(oneLine(warnings[0] ?? '')).toBe(true)
    },
  )

  test.prop([podsArb, fc.jsonValue()], { numRuns: runs })('any JSON at all parses to rows or to a one-line Left, never a throw', ({ pods }, junk) => {
    for (const text of [JSON.stringify(junk), JSON.stringify({ kind: 'List', items: [junk] }), JSON.stringify({ items: [...(JSON.parse(renderPods(pods)) as { items: unknown[] }).items, { metadata: junk }] })]) {
      const parsed = kubernetes.parseList(text)
      if (E.isLeft(parsed)) expect(oneLine(parsed.left.message)).toBe(true)
      else expect(parsed.right.every((r) => r.backend === 'kubernetes')).toBe(true)
    }
  })

  test.prop([createdSecArb], { numRuns: runs })('creation timestamps read back to the same instant', (sec) => {
    expect(parseRfc3339(kubeTime(sec))).toBe(sec * 1000)
  })

  it.each([
    ['nothing', '', []],
    ['an empty List, as kubectl prints it', '{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n', []],
  ] as const)('%s: no rows', (_label, out, rows) => {
    expect(rowsOf(kubernetes.parseList(out))).toStrictEqual(rows)
  })

  it.each([
    ['a List without items', '{"kind":"List"}', 'not a list of Pods'],
    ['a bare array', '[]', 'not a list of Pods'],
    ['the table kubectl prints without -o json', 'NAME   READY   STATUS    RESTARTS   AGE\ndemo   1/1     Running   0          5m\n', 'not JSON'],
  ] as const)('%s is a Left that says why', (_label, out, message) => {
    const parsed = kubernetes.parseList(out)
    expect(E.isLeft(parsed) ? parsed.left.message : 'Right').toContain(message)
  })

  it.each([
    ['an item that is a number', '{"items":[1]}', 'item 1 is not a JSON object; skipped it'],
    ['labels that are a list', '{"items":[{"metadata":{"name":"demo","labels":["a"]}}]}', 'item 1 ("demo") has labels that are not an object; skipped it'],
    ['annotations that are a string', '{"items":[{"metadata":{"name":"demo","annotations":"a"}}]}', 'item 1 ("demo") has annotations that are not an object'],
    ['our pod without a name', `{"items":[{"metadata":{"labels":{"${managedLabel}":"true"}}}]}`, 'item 1 has no name'],
  ] as const)('%s: that Pod is skipped, with a warning that names it', (_label, out, message) => {
    expect(rowsOf(kubernetes.parseList(out))).toStrictEqual([])
    expect(kubernetes.listWarnings?.(out)).toStrictEqual([expect.stringContaining(message)])
  })

  it('a pod with no status, timestamp or containers is listed with what is known', () => {
    const out = JSON.stringify({ items: [{ metadata: { name: 'demo', labels: { [managedLabel]: 'true' }, creationTimestamp: 'yesterday' } }] })
    expect(rowsOf(kubernetes.parseList(out))).toStrictEqual([
      { name: 'demo', backend: 'kubernetes', state: 'unknown', createdAt: null, image: null, specHash: null, spec: null },
    ])
  })

  it('no spec is read from a label or an annotation (the launch record holds it)', () => {
    const out = JSON.stringify({ items: [{ metadata: { name: 'demo', labels: { [managedLabel]: 'true', [specLabel]: 'in-a-label' } }, status: { phase: 'Running' } }] })
    expect(rowsOf(kubernetes.parseList(out))[0]?.spec).toBeNull()
  })
})
