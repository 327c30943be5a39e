/**
 * Limits in every backend's plan: the flags or fields each backend's own CLI takes, or a compile
 * error that names each limit the backend cannot enforce. (Enforcement itself is proven on the
 * real engines in tests/engines/limits.test.ts.)
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { type Limits, limitNames, memoryQuantity, memoryText } from '../../src/bottle-spec/limits.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import type { Json, Plan } from '../../src/plan/types.js'
import { fixedHost, specArb, withOp } from '../arbitraries.js'
import { fitFor } from './kits.js'

const mib = 1024 ** 2
const limitsArb: fc.Arbitrary<Limits> = fc.record({
  cpus: fc.option(fc.oneof(fc.integer({ min: 1, max: 64 }).map(String), fc.constantFrom('0.5', '1.25', '0.001')), { nil: null }),
  memory: fc.option(fc.oneof(fc.integer({ min: 6, max: 65536 }).map((n) => n * mib), fc.integer({ min: 1, max: 2 ** 33 })), { nil: null }),
  pids: fc.option(fc.integer({ min: 1, max: 4194304 }), { nil: null }),
})

const launch: BottleOperation = { _tag: 'launch' }

/** A launch of a valid spec with these limits, on one backend (the scenario fitted to it). */
const launchWith = (backend: keyof typeof backends, spec: BottleSpec, limits: Limits) => {
  // resources.limits cpu and memory would clash with limits.cpus and limits.memory: dropped here.
  const fitted = fitFor(backend, withOp({ spec: { ...spec, resources: { ...spec.resources, limits: spec.resources.limits.filter(([n]) => n !== 'cpu' && n !== 'memory') } }, op: launch, host: fixedHost(spec, launch) }, launch))
  const withLimits = { ...fitted.spec, limits }
  return { spec: withLimits, plan: compile(backends[backend], withLimits, launch, fitted.host) }
}

const argvs = (p: Plan): readonly (readonly string[])[] => p.steps.map((s) => s.argv)
const createArgv = (p: Plan, bin: string): readonly string[] => argvs(p).find((a) => a[0] === bin && a[1] === 'create') ?? []
const flagValue = (argv: readonly string[], flag: string): string | null => {
  const i = argv.indexOf(flag)
  return i < 0 ? null : (argv[i + 1] ?? null)
}

describe.each(['docker', 'podman'] as const)('%s', (name) => {
  test.prop([specArb, limitsArb])('create carries --cpus, --memory, --pids-limit for exactly the limits set', (spec, limits) => {
    const { plan } = launchWith(name, spec, limits)
    if (name === 'docker' && limits.memory !== null && limits.memory < 6 * mib) {
      expect(E.isLeft(plan) && plan.left.message).toBe(`limits.memory ${memoryText(limits.memory)} is below 6m, the least docker allows`)
      return
    }
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const argv = createArgv(plan.right, name)
    expect(flagValue(argv, '--cpus')).toBe(limits.cpus)
    expect(flagValue(argv, '--memory')).toBe(limits.memory === null ? null : memoryText(limits.memory))
    expect(flagValue(argv, '--pids-limit')).toBe(limits.pids === null ? null : String(limits.pids))
    // Before the image: docker stops reading flags there.
    const image = argv.indexOf('--entrypoint')
    for (const flag of ['--cpus', '--memory', '--pids-limit']) expect(argv.indexOf(flag)).toBeLessThan(image)
  })
})

describe('smolvm', () => {
  test.prop([specArb, limitsArb])('create takes whole vCPUs and whole MiB; pids and what does not fit are refused by name', (spec, limits) => {
    const { plan } = launchWith('smolvm', spec, limits)
    if (limits.pids !== null) {
      expect(E.isLeft(plan) && plan.left.message).toMatch(/^limits\.pids cannot be enforced on smolvm: /)
      return
    }
    if (limits.cpus !== null && limits.cpus.includes('.')) {
      expect(E.isLeft(plan) && plan.left.message).toMatch(/^limits\.cpus \S+ cannot be enforced on smolvm: /)
      return
    }
    if (limits.memory !== null && limits.memory % mib !== 0) {
      expect(E.isLeft(plan) && plan.left.message).toMatch(/^limits\.memory \S+ cannot be enforced on smolvm: /)
      return
    }
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const argv = argvs(plan.right).find((a) => a[0] === 'smolvm' && a[2] === 'create') ?? []
    expect(flagValue(argv, '--cpus')).toBe(limits.cpus)
    expect(flagValue(argv, '--mem')).toBe(limits.memory === null ? null : String(limits.memory / mib))
  })
})

describe('kubernetes', () => {
  const pod = (p: Plan): Json => {
    const s = p.steps.find((st) => st.stdin._tag === 'json' && (st.stdin.document as { kind?: string }).kind === 'Pod')
    return s?.stdin._tag === 'json' ? s.stdin.document : null
  }
  test.prop([specArb, limitsArb])("cpus and memory are the container's limits, next to the resources it had; pids is refused", (spec, limits) => {
    const { spec: launched, plan } = launchWith('kubernetes', spec, limits)
    if (limits.pids !== null) {
      expect(E.isLeft(plan) && plan.left.message).toMatch(/^limits\.pids cannot be enforced on kubernetes: /)
      return
    }
    if (E.isLeft(plan)) throw new Error(plan.left.message)
    const container = (pod(plan.right) as { spec: { containers: { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[] } }).spec.containers[0]
    const expected = {
      ...Object.fromEntries(launched.resources.limits),
      ...(limits.cpus === null ? {} : { cpu: limits.cpus }),
      ...(limits.memory === null ? {} : { memory: memoryQuantity(limits.memory) }),
    }
    expect(container?.resources?.limits ?? {}).toEqual(expected)
    expect(container?.resources?.requests ?? {}).toEqual(Object.fromEntries(launched.resources.requests))
  })
})

describe('bwrap', () => {
  test.prop([specArb, limitsArb])('a launch with any limit is refused, naming each one', (spec, limits) => {
    const { plan } = launchWith('bwrap', spec, limits)
    const set = limitNames.filter((n) => limits[n] !== null)
    if (set.length === 0) {
      expect(E.isRight(plan)).toBe(true)
      return
    }
    expect(E.isLeft(plan) && plan.left.message).toMatch(new RegExp(`^${set.map((n) => `limits\\.${n}`).join(', ')} cannot be enforced on bwrap: `))
  })
})

describe.each(Object.keys(backends) as (keyof typeof backends)[])('%s: ops after launch', (name) => {
  // A recorded limit never stands in the way of down, exec or cp: only launch checks them.
  test.prop([specArb, limitsArb], { numRuns: 30 })('down compiles whatever limits the spec has', (spec, limits) => {
    const down: BottleOperation = { _tag: 'down' }
    const fitted = fitFor(name, withOp({ spec, op: down, host: fixedHost(spec, down) }, down))
    const plan = compile(backends[name], { ...fitted.spec, limits }, down, fitted.host)
    expect(E.isRight(plan) ? 'compiled' : plan.left.message).toBe('compiled')
  })
})
