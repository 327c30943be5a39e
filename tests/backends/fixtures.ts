/**
 * The bottle every backend's example table uses, so the tables read side by side:
 * demo: user node, workdir /src/app, CI=1, one secret, a prompt file, and the backend's own
 * network (`open`): the tables show each backend's argv; the egress door's steps, which a bottle
 * with no network setting gets, have their own tests (tests/egress-wire/).
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, HostFacts } from '../../src/backends/backend.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import type { Plan } from '../../src/plan/types.js'
import { type BottleSpec, resolveSpec } from '../../src/bottle-spec/spec.js'

const resolved = resolveSpec({
  name: 'demo',
  fromManifest: { env: [['CI', '1']], secrets: ['CLAUDE_CODE_OAUTH_TOKEN'], prompt: '/src/app/prompt.md', network: { mode: 'open' } },
  fromFlags: {},
  cwd: '/src/app',
})
if (E.isLeft(resolved)) throw new Error(resolved.left.message)

export const demo: BottleSpec = resolved.right

/** The plan, for input the example knows is valid: a Left is the test's failure, with its message. */
export const planFor = (backend: Backend, op: BottleOperation, spec: BottleSpec, host: HostFacts): Plan => {
  const plan = compile(backend, spec, op, host)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}

/** The ls plan of a backend: ls names no bottle, so it compiles with no spec, and is never refused. */
export const listPlanFor = (backend: Backend, host: HostFacts): Plan => {
  const plan = compile(backend, null, { _tag: 'ls' }, host)
  if (E.isLeft(plan)) throw new Error(plan.left.message)
  return plan.right
}
