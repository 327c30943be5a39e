/**
 * update (src/bottle-spec/update.ts, compile's update case): what a changed manifest may change on a live
 * bottle. The record update writes is read back as every later op reads it (decodeLaunchRecord,
 * resolveSpec): on every fixed field it is the launch record, whatever the manifest says.
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { noteText, renderJson, renderSh, renderText } from '../../src/plan/render.js'
import { type BackendName, type Plan, backendNames } from '../../src/plan/types.js'
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import { decodeLaunchRecord, launchRecordJson } from '../../src/bottle-spec/record.js'
import { type BottleSpec, noResources, resolveSpec } from '../../src/bottle-spec/spec.js'
import { noLimits } from '../../src/bottle-spec/limits.js'
import { defaultProvision } from '../../src/bottle-spec/provision.js'
import { updateOf } from '../../src/bottle-spec/update.js'
import { fixedHost, scenarioArb, specArb } from '../arbitraries.js'
import { fitFor } from '../backends/kits.js'
import { runs } from '../runs.js'

/** The fields fixed at launch: update never takes them from the manifest. */
const fixedFields = ['name', 'image', 'user', 'workdir', 'network', 'allowRoot', 'context', 'namespace', 'resources'] as const

const recordStepOf = (plan: Plan) => plan.steps.find((s) => s.title.startsWith('record the updated spec'))

/** The spec in the record text the update plan writes, read back the way agent/exec read it. */
const writtenSpec = (plan: Plan, backend: BackendName, name: string): BottleSpec | null => {
  const s = recordStepOf(plan)
  if (s === undefined) return null
  if (s.stdin._tag !== 'text') throw new Error('the record step has no text on stdin')
  const layer = decodeLaunchRecord(s.stdin.text, backend, name)
  if (E.isLeft(layer)) throw new Error(layer.left)
  const spec = resolveSpec({ name, fromManifest: layer.right, fromFlags: {}, cwd: '/' })
  if (E.isLeft(spec)) throw new Error(spec.left.message)
  return spec.right
}

/** Any two specs of one bottle: as launched and as the manifest (which the agent can write) now says. */
const updateArb = fc.record({ backend: fc.constantFrom(...backendNames), scenario: scenarioArb, declared: specArb })

describe('update, on every backend', () => {
  test.prop([updateArb], { numRuns: runs })('the record it writes keeps every fixed field as launched, and takes the live ones', ({ backend, scenario, declared }) => {
    const fitted = fitFor(backend, { ...scenario, op: { _tag: 'update', declared: { ...declared, name: scenario.spec.name }, recordText: 'old' } })
    if (fitted.op._tag !== 'update') throw new Error('fitFor changed the op')
    const recorded = fitted.spec
    const plan = compile(backends[backend], recorded, fitted.op, fitFor(backend, { ...fitted, host: fixedHost(recorded, fitted.op) }).host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const now = fitted.op.declared
    const written = writtenSpec(plan.right, backend, recorded.name)
    const u = updateOf(recorded, now, backends[backend])
    if (E.isLeft(u)) throw new Error(u.left.message)
    if (written === null) {
      // Nothing written: then nothing live differed, and the plan runs nothing.
      expect(plan.right.steps).toStrictEqual([])
      expect(u.right.applied).toStrictEqual([])
      return
    }
    for (const f of fixedFields) expect(written[f]).toStrictEqual(recorded[f])
    expect(written.env).toStrictEqual(now.env)
    expect(written.agent).toStrictEqual(now.agent)
    expect(written.prompt).toStrictEqual(now.prompt)
    expect(written.secrets).toStrictEqual(backend === 'kubernetes' ? recorded.secrets : now.secrets)
  })

  test.prop([updateArb], { numRuns: runs })('env values never appear in what it says, only names', ({ backend, scenario, declared }) => {
    const marked = (env: BottleSpec['env'], tag: string) => env.map(([k], i) => [k, `${tag}${i}-VALUE-MARK`] as const)
    const recorded = { ...scenario.spec, env: marked(scenario.spec.env, 'a') }
    const now = { ...declared, name: recorded.name, env: marked(declared.env, 'b').filter(([k]) => !recorded.secrets.includes(k)) }
    const u = updateOf(recorded, now, backends[backend])
    if (E.isLeft(u)) throw new Error(u.left.message)
    for (const line of [...u.right.applied, ...u.right.fixed]) expect(line).not.toContain('VALUE-MARK')
  })
})

describe('update, examples', () => {
  const base = { name: 'demo', image: 'node:22', user: 'node', workdir: '/src/app', env: [['FOO', 'a']], secrets: ['TOKEN'], prompt: null, agent: agentProfiles.claude, allowRoot: false, network: { mode: 'open' }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null } satisfies BottleSpec

  it('applies env, secrets, agent and prompt; says relaunch for the rest', () => {
    const now: BottleSpec = { ...base, image: 'node:24', workdir: '/', network: { mode: 'host' }, user: 'root', allowRoot: true, env: [['FOO', 'b'], ['BAR', 'c']], secrets: ['TOKEN', 'AWS_SECRET_ACCESS_KEY'], agent: agentProfiles.codex, resources: { requests: [], limits: [['memory', '2Gi']] } }
    const u = updateOf(base, now, backends.docker)
    if (E.isLeft(u)) throw new Error(u.left.message)
    expect(u.right.applied).toStrictEqual(['agent claude → codex', 'env BAR added', 'env FOO changed', 'secret AWS_SECRET_ACCESS_KEY added'])
    expect(u.right.fixed).toStrictEqual([
      'image node:22 → node:24 (relaunch to apply)',
      'workdir /src/app → / (relaunch to apply)',
      'network open → host (relaunch to apply)',
      'user node → root (relaunch to apply)',
      'allow_root false → true (relaunch to apply)',
      'limits (none) → memory=2Gi (relaunch to apply)',
    ])
    expect(u.right.addedSecrets).toStrictEqual(['AWS_SECRET_ACCESS_KEY'])
    expect(u.right.next).toStrictEqual({ ...base, env: now.env, secrets: now.secrets, agent: agentProfiles.codex })
  })

  it('on kubernetes the secrets stay as launched (the Pod env): relaunch to apply', () => {
    const u = updateOf(base, { ...base, secrets: ['OTHER'] }, backends.kubernetes)
    if (E.isLeft(u)) throw new Error(u.left.message)
    expect(u.right.applied).toStrictEqual([])
    expect(u.right.fixed).toStrictEqual(['secret OTHER added (relaunch to apply)', 'secret TOKEN removed (relaunch to apply)'])
    expect(u.right.next.secrets).toStrictEqual(['TOKEN'])
  })

  it('on kubernetes a new plain env entry named like a launched secret is refused', () => {
    const u = updateOf(base, { ...base, secrets: [], env: [['TOKEN', 'x']] }, backends.kubernetes)
    expect(E.isLeft(u) && u.left.message).toBe('env "TOKEN" would be both a plain env entry and a secret: the secrets of this bottle are fixed at launch')
  })

  it('nothing live differs: no step, exit 0 material, and the record is not written', () => {
    const plan = compile(backends.docker, base, { _tag: 'update', declared: { ...base, image: 'node:24' }, recordText: launchRecordJson('docker', base) }, fixedHost(base, { _tag: 'down' }))
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    expect(plan.right.steps).toStrictEqual([])
    expect(plan.right.notes.slice(0, 2).map(noteText)).toStrictEqual([
      'nothing to update: demo already runs with what can change on a live bottle (env, secrets, agent, prompt); nothing is written',
      'not applied: image node:22 → node:24 (relaunch to apply)',
    ])
  })

  it.each(backendNames)('%s: the plan as text, json and sh', (backend) => {
    const recorded: BottleSpec = backend === 'bwrap' ? { ...base, image: '/srv/rootfs' } : base
    const now: BottleSpec = { ...recorded, env: [['FOO', 'b']], secrets: ['TOKEN', 'NEW_TOKEN'], prompt: '/src/app/prompt.md', network: { mode: 'host' } }
    const op = { _tag: 'update', declared: now, recordText: launchRecordJson(backend, recorded) } as const
    const host = fitFor(backend, { spec: recorded, op, host: fixedHost(recorded, op) }).host
    const plan = compile(backends[backend], recorded, op, host)
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const p = plan.right
    // A new secret is checked before anything runs, as launch checks them.
    expect(p.secrets).toStrictEqual(backend === 'kubernetes' ? [] : ['NEW_TOKEN'])
    expect(p.steps[0]?.title).toBe(`record the updated spec in /home/me/.local/state/bottle/${backend}/demo/record.json (a temp file, then renamed over it)`)
    // The new prompt is copied in after the record, as launch copies it.
    expect(p.steps.length).toBeGreaterThan(1)
    expect(p.notes.map(noteText)).toContain('not applied: network open → host (relaunch to apply)')
    const json = JSON.parse(renderJson(p)) as { steps: { argv: string[] }[] }
    expect(json.steps[0]?.argv.slice(0, 2)).toStrictEqual(['/bin/sh', '-c'])
    expect(renderText(p)).toContain('note: update: env FOO changed')
    expect(renderSh(p)).toContain('record.json')
  })
})
