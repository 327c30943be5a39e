/**
 * What compile refuses before any backend sees the op, the same on every backend: the cp paths
 * and the names a `down --all` listing hands it. Each refusal is a Left with one line.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'
import { compile } from '../../src/compile.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import { demo } from './fixtures.js'

const host: HostFacts = {
  cwd: '/src/app',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: false,
  pathKinds: { '/src/app/notes': 'dir', '/src/app/a.txt': 'file' },
  tmpdir: '/tmp',
  bwrap: null,
  uid: 1000,
  cluster: { context: null, namespace: null },
}

const refusal = (op: BottleOperation): string | null => {
  const plan = compile(backends.docker, demo, op, host)
  return E.isLeft(plan) ? plan.left.message : null
}

describe('compile refuses, in order, the first bad part of a cp', () => {
  it.each([
    ['a relative source', { _tag: 'cp', source: 'notes', dest: '/home/node/notes' }, /^source "notes" must be an absolute path/],
    ['a relative guest path', { _tag: 'cp', source: '/src/app/notes', dest: 'notes' }, /^guest path "notes" must be an absolute path/],
    ['the guest root', { _tag: 'cp', source: '/src/app/notes', dest: '/' }, /^guest path "\/" is refused: name the directory to copy into$/],
    ['both bad: the source is named first', { _tag: 'cp', source: 'notes', dest: '/' }, /^source "notes"/],
    ['a source that is not there', { _tag: 'cp', source: '/src/app/gone', dest: '/home/node/x' }, /gone/],
  ] as const)('%s', (_, op, message) => {
    expect(refusal(op)).toMatch(message)
  })

  it('a good cp compiles', () => {
    expect(refusal({ _tag: 'cp', source: '/src/app/a.txt', dest: '/home/node/a.txt' })).toBeNull()
  })
})

describe('down --all: the first name the shared rules refuse refuses the plan', () => {
  it.each(Object.values(backends))('$name', (backend) => {
    const plan = compile(backend, null, { _tag: 'down', all: ['ok-one', '-rf', 'ok-two'] }, host)
    expect(E.isLeft(plan) ? plan.left.message : null).toMatch(/"-rf"/)
    // A backend that reads host facts of its own (bwrap) needs them to compile a good plan.
    if (backend.hostFacts !== undefined) return
    const good = compile(backend, null, { _tag: 'down', all: ['ok-one', 'ok-two'] }, host)
    expect(E.isRight(good) && good.right.steps.length).toBeGreaterThan(0)
  })
})
