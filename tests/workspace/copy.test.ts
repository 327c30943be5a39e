/**
 * `workspace: copy` in the plan (src/workspace.ts), on every backend (smolvm and kubernetes have
 * no runtime here: plans only): the copy's steps appear in launch iff the workspace is copy, after
 * provision and before the prompt copy; no step binds the host workdir or its .git then; the
 * scratch copy is removed after, and by the undo; kubernetes copies by default, and without a
 * repository keeps its empty workdir; the refusals are one line. The record reads old bottles
 * (no key) as what they were, with no drift.
 */
import { test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { copiedWorkdir } from '../../src/backends/bwrap.js'
import { copyScript, workspaceOf, workspaceScratch } from '../../src/workspace.js'
import { decodeLaunchRecord, diffRecords, launchRecordJson, recordOf, specHash } from '../../src/bottle-spec/record.js'
import { resolveSpec } from '../../src/bottle-spec/spec.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import type { HostFacts } from '../../src/backends/backend.js'
import type { Plan, Step } from '../../src/plan/types.js'
import { show } from '../../src/plan/errors.js'
import { fitFor } from '../backends/kits.js'
import { type Scenario, scenarioArb, withOp } from '../arbitraries.js'

const repo = '/src/app'

/** Every step, and every undo under it, flattened. */
const allSteps = (steps: readonly Step[]): Step[] => steps.flatMap((s) => [s, ...allSteps(s.undo)])

/** A step binds the host workdir: `-v W:W` (docker, podman, smolvm) or `--bind W W` (bwrap). */
const bindsHost = (s: Step, workdir: string): boolean =>
  s.argv.some((x, i) => (x === '-v' && s.argv[i + 1]?.startsWith(`${workdir}:`) === true) || (x === '--bind' && s.argv[i + 1] === workdir))

const isBuild = (s: Step): boolean => s.argv[0] === '/bin/sh' && s.argv[2] === copyScript

const launchOf = (name: keyof typeof backends, s0: Scenario, workspace: BottleSpec['workspace'], facts: HostFacts['workspace']) => {
  const fitted = withOp(fitFor(name, s0), { _tag: 'launch' })
  const spec: BottleSpec = { ...fitted.spec, workspace }
  const host: HostFacts = { ...fitted.host, ...(facts === undefined ? {} : { workspace: facts }) }
  return { spec, host, plan: compile(backends[name], spec, { _tag: 'launch' }, host) }
}

const right = (p: E.Either<{ message: string }, Plan>): Plan => {
  if (E.isLeft(p)) throw new Error(p.left.message)
  return p.right
}

describe.each(Object.values(backends).map((b) => [b.name, b] as const))('%s: workspace in the launch plan', (name, backend) => {
  test.prop([scenarioArb])('copy: built on the host, copied in, removed; after provision, before the prompt; nothing of the host workdir bound', (s0) => {
    const { spec, host, plan } = launchOf(name, s0, 'copy', { repo })
    const steps = right(plan).steps
    const scratch = workspaceScratch(host, backend, spec)
    const build = steps.findIndex(isBuild)
    expect(build).toBeGreaterThan(0)
    const buildStep = steps[build] as Step
    expect(buildStep.argv).toStrictEqual(['/bin/sh', '-c', copyScript, 'sh', repo, scratch])
    // An interrupt or a later failure removes the scratch copy; so does the step after the copy.
    expect(buildStep.undo.map((u) => u.argv)).toStrictEqual([['rm', '-rf', '--', scratch]])
    const removed = steps.findIndex((s, i) => i > build && s.argv.join(' ') === `rm -rf -- ${scratch}`)
    expect(removed).toBeGreaterThan(build + 1)
    // The copy between them names the built tree as its source and the workdir as where it lands.
    const between = steps.slice(build + 1, removed)
    expect(between.some((s) => s.title === `copy ${scratch}/tree to ${spec.workdir} in the bottle` || s.title.startsWith(`pack ${scratch}/tree`))).toBe(true)
    // After the record and provision, before the prompt copy and the probe.
    const record = steps.findIndex((s) => s.title.startsWith('record the spec the bottle is launched with'))
    expect(build).toBeGreaterThan(record)
    const provisionAt = steps.map((s, i) => (s.stdio === 'passthrough' && s.title.includes('install') ? i : -1)).filter((i) => i >= 0)
    for (const i of provisionAt) expect(build).toBeGreaterThan(i)
    const prompt = steps.findIndex((s) => s.title.includes(backend.promptPath(spec)) || s.title.includes("bottle's prompt file"))
    if (spec.prompt !== null) expect(prompt).toBeGreaterThan(removed)
    // No step binds the host workdir (nor its .git): the bottle's workdir is its own.
    for (const s of allSteps(steps)) expect(bindsHost(s, spec.workdir)).toBe(false)
    if (name === 'bwrap') {
      const state = `${host.bwrap?.stateDir ?? ''}/${spec.name}`
      const sandboxes = steps.filter((s) => s.argv[0] === host.bwrap?.binary && s.argv.includes('--unshare-all'))
      expect(sandboxes.length).toBeGreaterThan(0)
      for (const s of sandboxes) expect(s.argv.join('\0')).toContain(['--bind', `${state}/${copiedWorkdir}`, spec.workdir].join('\0'))
    }
  })

  test.prop([scenarioArb])('bind (and no key, but on kubernetes): no copy step; the workdir is bound as before', (s0) => {
    if (!backend.bindsWorkdir) {
      const { plan } = launchOf(name, s0, 'bind', { repo })
      expect(plan).toStrictEqual(E.left({ _tag: 'CompileError', message: `workspace: bind: ${name} cannot bind a host directory; leave workspace out (copy, its default) or set workspace: copy` }))
      return
    }
    for (const workspace of ['bind', null] as const) {
      // The repository fact is there; only the mode decides.
      const { spec, plan } = launchOf(name, s0, workspace, { repo })
      const steps = right(plan).steps
      expect(steps.some(isBuild)).toBe(false)
      expect(steps.some((s) => bindsHost(s, spec.workdir))).toBe(true)
    }
  })

  test.prop([scenarioArb])('copy with the workdir in no repository is refused, one line', (s0) => {
    for (const facts of [{ repo: null }, undefined]) {
      const { spec, plan } = launchOf(name, s0, 'copy', facts)
      expect(E.isLeft(plan)).toBe(true)
      const message = E.isLeft(plan) ? plan.left.message : ''
      expect(message).toBe(`workspace: copy copies the git repository the workdir is in, and ${show(spec.workdir)} is in none: run git init there, or leave workspace out`)
      expect(message).not.toContain('\n')
    }
  })
})

describe('kubernetes: copy is the default', () => {
  test.prop([scenarioArb])('no key: the repository is copied; outside one, the workdir stays as made, with a note', (s0) => {
    expect(workspaceOf(backends.kubernetes, { workspace: null })).toBe('copy')
    const copied = launchOf('kubernetes', s0, null, { repo })
    expect(right(copied.plan).steps.some(isBuild)).toBe(true)
    const empty = launchOf('kubernetes', s0, null, { repo: null })
    const plan = right(empty.plan)
    expect(plan.steps.some(isBuild)).toBe(false)
    expect(plan.steps.some((s) => s.title.startsWith(`make the workdir ${empty.spec.workdir}`))).toBe(true)
    expect(plan.notes).toContainEqual({ _tag: 'info', text: `the workdir ${empty.spec.workdir} is in no git repository on the host, so nothing is copied: launch makes it, empty, in the bottle; copy files in with bottle run cp` })
  })

  it('every other backend binds by default', () => {
    for (const b of Object.values(backends)) if (b.name !== 'kubernetes') expect(workspaceOf(b, { workspace: null })).toBe('bind')
  })
})

describe('the record: workspace in the spec hash, old bottles as they were', () => {
  const spec = E.getOrElseW((e: { message: string }) => {
    throw new Error(e.message)
  })(resolveSpec({ name: 'demo', fromManifest: {}, fromFlags: {}, cwd: '/src/app' }))

  it('copy is recorded and hashed; bind and no key record as nothing, so the hash is the one before the key', () => {
    expect(recordOf({ ...spec, workspace: 'copy' }, 'node:22').workspace).toBe('copy')
    expect(recordOf({ ...spec, workspace: 'bind' }, 'node:22').workspace).toBeNull()
    expect(specHash(recordOf({ ...spec, workspace: 'bind' }, 'node:22'))).toBe(specHash(recordOf(spec, 'node:22')))
    expect(specHash(recordOf({ ...spec, workspace: 'copy' }, 'node:22'))).not.toBe(specHash(recordOf(spec, 'node:22')))
    expect(diffRecords(recordOf(spec, 'node:22'), recordOf({ ...spec, workspace: 'copy' }, 'node:22'))).toStrictEqual([
      { field: 'workspace', key: null, change: 'added', from: null, to: 'copy', appliesAt: 'launch' },
    ])
  })

  it('a launch record without the key (written before it existed) reads as no key: the backend default, no drift', () => {
    for (const backend of ['docker', 'kubernetes']) {
      const text = launchRecordJson(backend, spec)
      const old = JSON.parse(text) as { spec: Record<string, unknown> }
      delete old.spec.workspace
      const layer = decodeLaunchRecord(JSON.stringify(old), backend, 'demo')
      if (E.isLeft(layer)) throw new Error(layer.left)
      expect(layer.right.workspace).toBeUndefined()
      const back = resolveSpec({ name: 'demo', fromManifest: layer.right, fromFlags: {}, cwd: '/src/app' })
      expect(E.isRight(back) && back.right.workspace).toBeNull()
      expect(E.isRight(back) && diffRecords(recordOf(back.right, 'node:22'), recordOf(spec, 'node:22'))).toStrictEqual([])
    }
    const copy = decodeLaunchRecord(launchRecordJson('docker', { ...spec, workspace: 'copy' }), 'docker', 'demo')
    expect(E.isRight(copy) && copy.right.workspace).toBe('copy')
    const bad = JSON.parse(launchRecordJson('docker', spec)) as { spec: Record<string, unknown> }
    bad.spec.workspace = 'mount'
    expect(decodeLaunchRecord(JSON.stringify(bad), 'docker', 'demo')).toStrictEqual(E.left('the launch record has a workspace that is not bind or copy'))
  })
})
