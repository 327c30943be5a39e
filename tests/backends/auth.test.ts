/**
 * Sign-in in every backend's plan (src/auth.ts): the shared directory is bound as the bottle
 * user's ~/.claude iff the spec says auth: shared, on docker, podman, smolvm and bwrap; never on
 * kubernetes (one line, exit 2); the host's own ~/.claude is never bound; launch makes the
 * directory before create, with no undo; the plan's note says which way, and auth is in the spec
 * hash and the launch record. (That the bind works is proven on real bwrap and the real engines:
 * tests/bwrap/auth-shared.test.ts, tests/engines/auth-shared.test.ts.)
 */
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect } from 'vitest'
import { type AuthMode, authModes, sharedAuthDir, signInOf } from '../../src/auth.js'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import { decodeLaunchRecord, launchRecordJson, recordOf, specHash } from '../../src/bottle-spec/record.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'
import { homeOf } from '../../src/bottle-spec/validate.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { render } from '../../src/plan/render.js'
import { type BackendName, type Plan, allSteps } from '../../src/plan/types.js'
import { operationArb, scenarioArb, secretNameArb, withOp } from '../arbitraries.js'
import { fitFor } from './kits.js'

const authArb = fc.constantFrom<AuthMode>(...authModes)
const agentArb = fc.constantFrom(agentProfiles.claude, agentProfiles.codex)
const mounting = ['docker', 'podman', 'smolvm', 'bwrap'] as const

/** A scenario fitted to the backend, with this sign-in and a built-in agent; null when the op does not compile for reasons of its own. */
const planOf = (backend: BackendName, s: ReturnType<typeof withOp>, auth: AuthMode, agent: BottleSpec['agent']) => {
  const fitted = fitFor(backend, withOp({ ...s, spec: { ...s.spec, agent, prompt: agent.promptFlag === null ? null : s.spec.prompt } }, s.op))
  const spec = { ...fitted.spec, auth }
  return { spec, host: fitted.host, plan: compile(backends[backend], spec, fitted.op, fitted.host) }
}

const argvsOf = (p: Plan): (readonly string[])[] => allSteps(p.steps).map((s) => s.argv)

/** Where each backend says "bind SOURCE at TARGET", as adjacent argv words. */
const hasBind = (backend: BackendName, argv: readonly string[], source: string, target: string): boolean =>
  backend === 'bwrap'
    ? argv.some((w, i) => w === '--bind' && argv[i + 1] === source && argv[i + 2] === target)
    : argv.some((w, i) => w === '-v' && argv[i + 1] === `${source}:${target}`)

const launch: BottleOperation = { _tag: 'launch' }

describe.each(mounting)('%s', (backend) => {
  test.prop([scenarioArb, authArb, agentArb])('launch binds the shared directory at ~/.config-dir iff auth: shared, made first, never undone', (s, auth, agent) => {
    const { spec, host, plan } = planOf(backend, { ...s, op: launch }, auth, agent)
    if (E.isLeft(plan)) return
    const dir = sharedAuthDir(host.stateRoot, backend, agent.name as 'claude' | 'codex')
    const target = `${homeOf(spec.user)}/${signInOf[agent.name as 'claude' | 'codex'].configDir}`
    const argvs = argvsOf(plan.right)
    const creates = backend === 'bwrap' ? argvs.filter((a) => a[0] === host.bwrap?.binary) : argvs.filter((a) => a.includes('create'))
    expect(creates.length).toBeGreaterThan(0)
    for (const a of creates) expect(hasBind(backend, a, dir, target)).toBe(auth === 'shared')
    // The host's own config directory is never bound, whatever the mode.
    expect(argvs.some((a) => a.some((w) => w.includes(`${host.home}/${signInOf.claude.configDir}`) || w.includes(`${host.home}/${signInOf.codex.configDir}`)))).toBe(false)
    const make = plan.right.steps.findIndex((st) => st.argv.includes(dir) && st.argv.join(' ').includes('mkdir'))
    if (auth === 'token') {
      expect(make).toBe(-1)
      return
    }
    const create = plan.right.steps.findIndex((st) => st.argv.some((w) => w === 'create') || st.argv[0] === host.bwrap?.binary)
    expect(make).toBeGreaterThanOrEqual(0)
    expect(make).toBeLessThan(create)
    expect(plan.right.steps[make]?.undo).toStrictEqual([])
    // No undo or later step removes it.
    expect(argvsOf(plan.right).some((a) => a.includes(dir) && a.some((w) => /\brm\b|rmdir/.test(w)))).toBe(false)
  })

  test.prop([scenarioArb, operationArb, authArb, agentArb])('every op that compiles names the shared directory iff auth: shared (bwrap binds it on each command)', (s, op, auth, agent) => {
    if (op._tag === 'launch' || op._tag === 'update' || op._tag === 'down') return
    const { host, plan } = planOf(backend, { ...s, op }, auth, agent)
    if (E.isLeft(plan)) return
    const dir = sharedAuthDir(host.stateRoot, backend, agent.name as 'claude' | 'codex')
    const named = argvsOf(plan.right).some((a) => a.some((w) => w.includes(dir)))
    // Containers and VMs have the bind from create; bwrap builds the sandbox again on every command.
    expect(named).toBe(backend === 'bwrap' && auth === 'shared' && allSteps(plan.right.steps).some((st) => st.guest !== undefined))
  })
})

describe('kubernetes', () => {
  test.prop([scenarioArb, operationArb, agentArb])('refuses auth: shared for every op but down, in one line', (s, op, agent) => {
    if (op._tag === 'down') return
    const { plan } = planOf('kubernetes', { ...s, op }, 'shared', agent)
    // Another refusal may come first (the backend's own checks); auth's, when it is the one, is one line.
    if (E.isRight(plan)) throw new Error('kubernetes compiled a plan with auth: shared')
    expect(plan.left.message).not.toContain('\n')
  })

  test.prop([scenarioArb, agentArb])('a launch that compiles with auth: token compiles to a refusal that names auth with auth: shared', (s, agent) => {
    const token = planOf('kubernetes', { ...s, op: launch }, 'token', agent)
    if (E.isLeft(token.plan)) return
    const shared = planOf('kubernetes', { ...s, op: launch }, 'shared', agent)
    expect(E.isLeft(shared.plan) && shared.plan.left.message).toMatch(/^auth: shared is not available on kubernetes/)
  })
})

describe('the sign-in note, the spec hash and the launch record', () => {
  test.prop([scenarioArb, fc.array(secretNameArb, { maxLength: 3 }), fc.subarray([...signInOf.claude.tokens])])(
    'the note names exactly the sign-in secrets the bottle has (none: it says the agent starts signed out)',
    (s, others, tokens) => {
      const secrets = [...new Set([...others.filter((o) => !(signInOf.claude.tokens as readonly string[]).includes(o)), ...tokens])]
      const spec = { ...s.spec, env: s.spec.env.filter(([k]) => !secrets.includes(k)), secrets, agent: agentProfiles.claude, prompt: null }
      const { plan } = planOf('docker', { ...s, spec, op: launch }, 'token', agentProfiles.claude)
      if (E.isLeft(plan)) return
      const note = plan.right.notes.find((n) => n._tag === 'signIn')
      expect(note).toStrictEqual({ _tag: 'signIn', how: 'token', secrets: secrets.filter((x) => tokens.includes(x as never)), dir: null })
      const text = render(plan.right, 'text')
      expect(text.includes('the agent starts signed out')).toBe(tokens.length === 0)
    },
  )

  test.prop([scenarioArb, authArb])('auth is in the spec hash, a token keeps the hash a bottle had before auth existed, and the launch record keeps it', (s, auth) => {
    const spec = { ...s.spec, auth }
    const token = recordOf({ ...s.spec, auth: 'token' }, 'node:22')
    const now = recordOf(spec, 'node:22')
    expect(specHash(now) === specHash(token)).toBe(auth === 'token')
    const { auth: _gone, workspace: _workspace, ...before } = token
    expect(JSON.stringify({ ...before, auth: null, workspace: null })).toBe(JSON.stringify(token))
    const layer = decodeLaunchRecord(launchRecordJson('docker', spec), 'docker', spec.name)
    if (E.isLeft(layer)) throw new Error(layer.left)
    const again = resolveSpec({ name: spec.name, fromManifest: layer.right, fromFlags: {}, cwd: spec.workdir })
    expect(E.isRight(again) && again.right.auth).toBe(auth)
  })
})
