/**
 * The recorded spec and drift, as properties: no change ↔ no drift; each changed field is named,
 * and nothing else; env values and secret values never reach a label, a drift line or ls output.
 */
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { launchLabels, specHashLabel } from '../../src/backends/backend.js'
import { renderLsJson, renderLsText } from '../../src/ls.js'
import {
  type LaunchBaked,
  type SpecRecord,
  canonicalJson,
  decodeLaunchRecord,
  decodeRecord,
  describeDifferences,
  diffRecords,
  driftOf,
  encodeRecord,
  launchRecordJson,
  recordOf,
  specHash,
} from '../../src/bottle-spec/record.js'
import { type BottleSpec, noResources, resolveSpec } from '../../src/bottle-spec/spec.js'
import { noLimits } from '../../src/bottle-spec/limits.js'
import { defaultProvision } from '../../src/bottle-spec/provision.js'
import { nastyString, nastyStringArb, specArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const image = 'node:22'
const labelsOf = (spec: BottleSpec) => {
  const labels = new Map(launchLabels(spec, image))
  // The spec itself is in the launch record on the host; the CLI reads it into this form.
  return { hash: labels.get(specHashLabel) ?? null, spec: encodeRecord(recordOf(spec, image)) }
}

/** Two specs whose differences are known: each field either kept or replaced by the second's. */
const pairArb = fc
  .record({ a: specArb, b: specArb, pick: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) })
  .map(({ a, b, pick }) => {
    const [image, user, workdir, env, prompt, rest] = pick
    // env and secrets move together: a key must not be both a plain entry and a secret.
    const envAndSecrets = env ? { env: b.env, secrets: b.secrets } : { env: a.env, secrets: a.secrets }
    return {
      a,
      b: {
        ...a,
        image: image ? b.image : a.image,
        user: user ? b.user : a.user,
        workdir: workdir ? b.workdir : a.workdir,
        ...envAndSecrets,
        prompt: prompt ? b.prompt : a.prompt,
        network: rest ? b.network : a.network,
        agent: rest ? b.agent : a.agent,
      } satisfies BottleSpec,
    }
  })

describe('recorded spec', () => {
  test.prop([specArb], { numRuns: runs })('a bottle compared with the spec that launched it has not drifted', (spec) => {
    expect(driftOf(labelsOf(spec), recordOf(spec, image))).toStrictEqual({ _tag: 'same' })
  })

  test.prop([specArb, fc.nat()], { numRuns: runs })('the order env entries and secrets are given in shapes nothing', (spec, seed) => {
    const rotate = <A>(xs: readonly A[]): A[] => (xs.length === 0 ? [] : [...xs.slice(seed % xs.length), ...xs.slice(0, seed % xs.length)])
    const shuffled = { ...spec, env: rotate(spec.env), secrets: rotate([...spec.secrets].reverse()) }
    expect(specHash(recordOf(shuffled, image))).toBe(specHash(recordOf(spec, image)))
  })

  test.prop([specArb], { numRuns: runs })('the label reads back to the record', (spec) => {
    const r = recordOf(spec, image)
    expect(decodeRecord(encodeRecord(r))).toStrictEqual(E.right(r))
    expect(canonicalJson(JSON.parse(canonicalJson(r)) as SpecRecord)).toBe(canonicalJson(r))
  })

  test.prop([pairArb], { numRuns: runs })('drift iff the records differ, and it names exactly the fields that differ', ({ a, b }) => {
    const ra = recordOf(a, image)
    const rb = recordOf(b, image)
    const drift = driftOf(labelsOf(a), rb)
    expect(drift._tag === 'same').toBe(canonicalJson(ra) === canonicalJson(rb))
    const named = new Set(drift._tag === 'drifted' ? drift.differences.map((d) => (d.key === null ? d.field : `${d.field} ${d.key}`)) : [])
    const envKeys = new Set([...a.env, ...b.env].map(([k]) => k))
    const envValue = (s: BottleSpec, k: string) => s.env.find(([x]) => x === k)?.[1]
    const expectedNames = new Set([
      ...(['image', 'workdir', 'network', 'prompt', 'user', 'agent'] as const).filter((f) => ra[f] !== rb[f]),
      ...[...envKeys].filter((k) => envValue(a, k) !== envValue(b, k)).map((k) => `env ${k}`),
      ...[...new Set([...a.secrets, ...b.secrets])].filter((s) => a.secrets.includes(s) !== b.secrets.includes(s)).map((s) => `secret ${s}`),
    ])
    expect(named).toStrictEqual(expectedNames)
  })

  test.prop([specArb, fc.array(nastyString({ minLength: 8 }), { minLength: 8, maxLength: 8 })], { numRuns: runs })(
    'env values and secret values reach no label, drift line or ls output',
    (spec0, values) => {
      // Give every env entry, and every secret's host value, a hostile value of its own.
      const spec: BottleSpec = { ...spec0, env: spec0.env.map(([k], i) => [k, values[i % values.length] ?? ''] as const) }
      const secretValues = spec.secrets.map((_, i) => `${values[(i + 3) % values.length]}🔑`)
      const hidden = [...spec.env.map(([, v]) => v), ...secretValues]
      // A value that is also part of the rest of the input (a path, a name) may show up as that.
      const input = JSON.stringify({ ...spec, env: spec.env.map(([k]) => k) })
      // And one made only of label characters could turn up inside base64 by chance.
      fc.pre(hidden.every((v) => !input.includes(v) && /[^A-Za-z0-9_-]/.test(v)))
      // The bottle as launched had other values for every entry; now they differ.
      const launched: BottleSpec = { ...spec, env: spec.env.map(([k]) => [k, 'launched-value'] as const) }
      const labels = labelsOf(launched)
      const drift = driftOf(labels, recordOf(spec, image))
      const row = { name: spec.name, backend: 'docker' as const, state: 'running', createdAt: 0, image, specHash: labels.hash, spec: labels.spec }
      const outputs = [
        ...launchLabels(spec, image).map(([k, v]) => `${k}=${v}`),
        canonicalJson(recordOf(spec, image)),
        drift._tag === 'drifted' ? describeDifferences(drift.differences) : '',
        renderLsText([{ ...row, drift }], 0, 'bottle.yaml'),
        renderLsJson([{ ...row, drift }], [], 0, 'bottle.yaml'),
      ]
      expect(hidden.filter((v) => outputs.some((o) => o.includes(v)))).toStrictEqual([])
    },
  )
})

describe('reading labels that were not written by this version', () => {
  test.prop([nastyStringArb], { numRuns: runs })('any text decodes to a record or to a Left, never a throw', (text) => {
    const r = decodeRecord(text)
    expect(E.isRight(r) || typeof r.left === 'string').toBe(true)
  })

  it('a hash that does not match its record makes the drift unknown', () => {
    const spec = { name: 'demo', image: null, user: 'node', workdir: '/src/app', env: [], secrets: [], prompt: null, agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null } satisfies BottleSpec
    const other = labelsOf({ ...spec, user: 'root' })
    expect(driftOf({ hash: other.hash, spec: labelsOf(spec).spec }, recordOf(spec, image))._tag).toBe('unknown')
  })

  it.each([
    ['no labels at all', { hash: null, spec: null }, 'unknown'],
    ['a hash only, the same', { hash: 'HASH', spec: null }, 'same'],
    ['a hash only, another', { hash: '000000000000', spec: null }, 'drifted'],
    ['a record of a later format', { hash: null, spec: Buffer.from('{"v":2}').toString('base64url') }, 'unknown'],
    ['not base64url', { hash: null, spec: '{"v":1}' }, 'unknown'],
  ] as const)('%s', (_label, labels, tag) => {
    const spec = { name: 'demo', image: null, user: 'node', workdir: '/src/app', env: [], secrets: [], prompt: null, agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null } satisfies BottleSpec
    const now = recordOf(spec, image)
    const hash = labels.hash === 'HASH' ? specHash(now) : labels.hash
    expect(driftOf({ hash, spec: labels.spec }, now)._tag).toBe(tag)
  })

  it('says what changed, and which changes need a relaunch', () => {
    const base = { name: 'demo', image: null, user: 'node', workdir: '/src/app', env: [['FOO', 'a']], secrets: ['TOKEN'], prompt: null, agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null } satisfies BottleSpec
    const now = { ...base, image: 'node:24', env: [['FOO', 'b'], ['BAR', 'c']], secrets: [] } satisfies BottleSpec
    expect(describeDifferences(diffRecords(recordOf(base, image), recordOf(now, image)))).toMatchInlineSnapshot(`"image node:22 → node:24 (relaunch to apply); env BAR added, env FOO changed, secret TOKEN removed (bottle run update applies it)"`)
  })
})

describe('provision in the record', () => {
  const base = { name: 'demo', image: null, user: 'node', workdir: '/src/app', env: [], secrets: [], prompt: null, agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null } satisfies BottleSpec

  it('is drift that waits for a relaunch; the scripts show as a digest, never as text', () => {
    const scripts = { ...base, provision: { install: true, scripts: ['echo s3cr3t-looking'], allow: [] } } satisfies BottleSpec
    const off = { ...base, provision: { install: false, scripts: [], allow: [] } } satisfies BottleSpec
    expect(recordOf(base, image).provision).toBeNull()
    const d = diffRecords(recordOf(base, image), recordOf(scripts, image))
    expect(d.map((x) => [x.field, x.appliesAt])).toStrictEqual([['provision', 'launch']])
    expect(describeDifferences(d)).toMatch(/^provision \(none\) → install scripts=1:[0-9a-f]{16} \(relaunch to apply\)$/)
    expect(JSON.stringify(recordOf(scripts, image))).not.toContain('s3cr3t')
    expect(specHash(recordOf(off, image))).not.toBe(specHash(recordOf(base, image)))
    expect(driftOf({ hash: null, spec: encodeRecord(recordOf(scripts, image)) }, recordOf(scripts, image))._tag).toBe('same')
  })

  it('reads back from the launch record as it was written, and a record without it as the default', () => {
    const spec = { ...base, provision: { install: true, scripts: ['apt-get update', 'x'], allow: [{ host: 'deb.debian.org', port: 80, private: false }] } } satisfies BottleSpec
    const layer = decodeLaunchRecord(launchRecordJson('docker', spec), 'docker', 'demo')
    expect(E.isRight(layer) && resolveSpec({ name: 'demo', fromManifest: layer.right, fromFlags: {}, cwd: '/' })).toStrictEqual(E.right(spec))
    const older = JSON.parse(launchRecordJson('docker', base)) as { spec: Record<string, unknown> }
    delete older.spec.provision
    const read = decodeLaunchRecord(JSON.stringify(older), 'docker', 'demo')
    expect(E.isRight(read) && resolveSpec({ name: 'demo', fromManifest: read.right, fromFlags: {}, cwd: '/' })).toStrictEqual(E.right(base))
    const bad = JSON.parse(launchRecordJson('docker', base)) as { spec: Record<string, unknown> }
    bad.spec.provision = { run: [''], allow: [] }
    expect(decodeLaunchRecord(JSON.stringify(bad), 'docker', 'demo')).toStrictEqual(E.left('the launch record has a provision bottle does not write'))
  })
})

describe('what waits for a relaunch', () => {
  const base = resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: {}, cwd: '/src/app' })
  if (E.isLeft(base)) throw new Error(base.left.message)
  const before = recordOf(base.right, '/')
  const after = recordOf({ ...base.right, network: { mode: 'host' }, image: '/srv/rootfs', prompt: '/src/app/p.md' }, '/')
  const appliesAt = (baked: LaunchBaked) => Object.fromEntries(diffRecords(before, after, baked).map((d) => [d.field, d.appliesAt]))

  it('image and network wait for a relaunch on every backend, bwrap included; the prompt is copied in by update', () => {
    expect(appliesAt({ secrets: false })).toStrictEqual({ image: 'launch', network: 'launch', prompt: 'exec' })
  })

  it('env and the agent are live everywhere; secrets are fixed at launch where the backend bakes them in (kubernetes)', () => {
    const live = recordOf({ ...base.right, env: [['FOO', '1']], secrets: ['TOKEN'], user: 'root', agent: agentProfiles.codex }, '/')
    const at = (baked: LaunchBaked) => Object.fromEntries(diffRecords(before, live, baked).map((d) => [d.field, d.appliesAt]))
    expect(at({ secrets: false })).toStrictEqual({ user: 'launch', agent: 'exec', env: 'exec', secret: 'exec' })
    expect(at({ secrets: true })).toStrictEqual({ user: 'launch', agent: 'exec', env: 'exec', secret: 'launch' })
  })
})
