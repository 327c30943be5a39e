/**
 * A model-based test (fc.commands) of launch / exec / cp / down sequences, against stand-in
 * smolvm and docker executables (tests/standins; not the real tools). The model is the set of
 * live bottles. After every command, bottle's exit code must be what the model predicts, and the
 * bottles the stand-in holds (what bottle's steps created and did not remove) must be the model's.
 *
 *   launch of a live bottle fails and leaves it intact (no delete/rm is run for it)
 *   exec on a bottle that is not live fails non-zero; on a live one it is the script's code
 *   cp into a live bottle puts the file there; into one that is not live it fails
 *   down always succeeds (idempotent) and leaves nothing behind
 */
import { fc } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/plan/types.js'
import { type Sandbox, bottle, sandbox, standinBackends } from '../standins/harness.js'

interface Model {
  readonly live: Set<string>
}

interface Real {
  readonly sb: Sandbox
  readonly backend: BackendName
  /** Numbers the files cp sends, so each one is new. */
  copies: number
}

type Cmd = fc.AsyncCommand<Model, Real>

const run = (real: Real, args: string[]) => bottle(['run', ...args, '-b', real.backend, '--workdir', real.sb.workdir, '--network', 'open', '-q'], real.sb.env)

/** The stand-in's bottles equal the model's: nothing orphaned, nothing lost. */
const agrees = (model: Model, real: Real): void => {
  expect(real.sb.live(real.backend)).toEqual([...model.live].sort())
}

class Launch implements Cmd {
  constructor(readonly name: string) {}
  check = () => true
  async run(model: Model, real: Real) {
    real.sb.clearLog()
    const r = await run(real, ['launch', this.name])
    if (model.live.has(this.name)) {
      expect(r.code).not.toBe(0)
      // Only the create ran, and failed; nothing that removes a bottle ran.
      expect(real.sb.log().filter((i) => i.argv.includes('rm') || i.argv.includes('delete'))).toEqual([])
    } else {
      expect(r.code).toBe(0)
      model.live.add(this.name)
    }
    agrees(model, real)
  }

  toString = () => `launch ${this.name}`
}

class Exec implements Cmd {
  constructor(
    readonly name: string,
    readonly code: number,
  ) {}

  check = () => true
  async run(model: Model, real: Real) {
    const r = await run(real, ['exec', this.name, `exit ${this.code}`])
    if (model.live.has(this.name)) expect(r.code).toBe(this.code)
    else expect(r.code).not.toBe(0)
    agrees(model, real)
  }

  toString = () => `exec ${this.name} 'exit ${this.code}'`
}

class Cp implements Cmd {
  constructor(
    readonly name: string,
    readonly content: string,
  ) {}

  check = () => true
  async run(model: Model, real: Real) {
    real.copies += 1
    const src = real.sb.hostFile(`cp-${real.copies}.txt`, this.content)
    const dest = `/home/node/in/${real.copies}.txt`
    const r = await run(real, ['cp', this.name, src, dest])
    if (model.live.has(this.name)) {
      expect(r.code).toBe(0)
      expect(real.sb.guestFile(real.backend, this.name, dest)).toBe(this.content)
    } else expect(r.code).not.toBe(0)
    agrees(model, real)
  }

  toString = () => `cp ${this.name} ${JSON.stringify(this.content)}`
}

class Down implements Cmd {
  constructor(readonly name: string) {}
  check = () => true
  async run(model: Model, real: Real) {
    const r = await run(real, ['down', this.name])
    expect(r.code).toBe(0)
    model.live.delete(this.name)
    agrees(model, real)
  }

  toString = () => `down ${this.name}`
}

const nameArb = fc.constantFrom('alpha', 'beta')

const commandsArb = fc.commands(
  [
    nameArb.map((n) => new Launch(n)),
    fc.tuple(nameArb, fc.constantFrom(0, 1, 3, 42, 255)).map(([n, c]) => new Exec(n, c)),
    fc.tuple(nameArb, fc.string({ maxLength: 20 })).map(([n, c]) => new Cp(n, c)),
    nameArb.map((n) => new Down(n)),
  ],
  { maxCommands: 7 },
)

// Each command spawns one to five stand-ins: few runs, more in CI.
const numRuns = process.env.CI ? 8 : 5

describe.each(standinBackends)('launch/exec/cp/down sequences against a stand-in %s', (backend) => {
  it('keep bottle, the stand-in and the model of live bottles in agreement', async () => {
    await fc.assert(
      fc.asyncProperty(commandsArb, async (cmds) => {
        const sb = sandbox()
        try {
          await fc.asyncModelRun(() => ({ model: { live: new Set<string>() }, real: { sb, backend, copies: 0 } }), cmds)
        } finally {
          sb.dispose()
        }
      }),
      { numRuns },
    )
  })
})
