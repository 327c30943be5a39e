/**
 * A failed step comes back as a value, and a run says what it does through events, not writes:
 * the interpreter with a spawn primitive that plays a backend client in memory (no subprocess).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Exit, type RunEvent, type Spawn, type SpawnRequest, interpret, outputTailChars } from '../../src/interpret.js'
import { eventLines, stepFailedLines } from '../../src/run-events.js'
import { type Plan, type Step, secret, step } from '../../src/plan/types.js'

/** Answers each request with the exit `answer` gives it, recording what was asked. */
const playing = (answer: (r: SpawnRequest) => Exit) => {
  const asked: SpawnRequest[] = []
  const spawn: Spawn = (r) => {
    asked.push(r)
    return { exit: Promise.resolve(answer(r)), kill: () => {}, killGroup: () => {} }
  }
  return { spawn, asked }
}

const planOf = (steps: Step[]): Plan => ({
  version: 1, op: 'launch', backend: 'docker', bottle: 'demo', steps, secrets: ['TOKEN'], notes: [], exitCodeFrom: null,
})

const create = step('create the container', ['docker', 'create', '--label', 'dev.bottle.launch-id='], {
  launchId: [3],
  env: { inheritHost: false, vars: [secret('TOKEN')] },
  undo: [step('remove the container', ['docker', 'rm', '-f', 'demo'])],
})
const start = step('start the container', ['docker', 'start', 'demo'], { env: { inheritHost: false, vars: [secret('TOKEN')] } })

afterEach(() => vi.restoreAllMocks())

describe('a failed step, as a value', () => {
  it('names the step, its argv with the launch id slot, its code and its output, the secret by name; after the undo ran', async () => {
    const token = 'S3CRET-token-value'
    const { spawn, asked } = playing((r) =>
      r.args[0] === 'start'
        ? { _tag: 'exited', code: 1, stdout: 'progress…\n', stderr: `Error: cannot start: TOKEN=${r.env.TOKEN}\n` }
        : { _tag: 'exited', code: 0, stdout: '', stderr: '' },
    )
    const events: RunEvent[] = []
    const outcome = await interpret(planOf([create, start]), { hostEnv: { TOKEN: token }, launchId: '0123456789abcdef', onEvent: (e) => events.push(e) }, spawn)
    expect(outcome).toStrictEqual({
      _tag: 'stepFailed',
      index: 1,
      total: 2,
      title: 'start the container',
      argv: ['docker', 'start', 'demo'],
      code: 1,
      stdout: 'progress…\n',
      stderr: 'Error: cannot start: TOKEN=<secret TOKEN>\n',
    })
    // The value went to the client through its env, and the undo ran before the outcome came back.
    expect(asked.map((r) => [r.file, ...r.args].join(' '))).toEqual([
      'docker create --label dev.bottle.launch-id=0123456789abcdef',
      'docker start demo',
      'docker rm -f demo',
    ])
    expect(asked[1]?.env).toEqual({ TOKEN: token })
    expect(events.map((e) => e._tag)).toEqual(['stepStarted', 'stepStarted', 'undoStarted', 'undone'])
    expect(stepFailedLines(outcome._tag === 'stepFailed' ? outcome : (undefined as never))).toEqual([
      'progress…',
      'Error: cannot start: TOKEN=<secret TOKEN>',
      'bottle: step 2/2 failed with exit code 1: start the container',
    ])
  })

  it('keeps the tail of a long stderr, cut after the secret is replaced, so no part of a value survives the cut', async () => {
    const token = 'S3CRET-token-value-0123456789'
    // The value straddles the point where the tail begins: cut first, then redacted, its end would show.
    const after = 'y'.repeat(outputTailChars - 10)
    const { spawn } = playing((r) =>
      r.args[0] === 'start' ? { _tag: 'exited', code: 1, stdout: '', stderr: `${'x'.repeat(50_000)}${r.env.TOKEN ?? ''}${after}` } : { _tag: 'exited', code: 0, stdout: '', stderr: '' },
    )
    const outcome = await interpret(planOf([create, start]), { hostEnv: { TOKEN: token }, onEvent: () => {} }, spawn)
    if (outcome._tag !== 'stepFailed') throw new Error(`expected a failed step, got ${outcome._tag}`)
    expect(outcome.stderr.length).toBe(outputTailChars)
    expect(outcome.stderr.endsWith(after)).toBe(true)
    for (let k = 4; k <= token.length; k++) expect(outcome.stderr).not.toContain(token.slice(token.length - k))
  })
})

describe('a step stopped at its time limit', () => {
  it('is undone too: it was stopped by a signal, and may have created what it was making', async () => {
    const asked: string[] = []
    const spawn: Spawn = (r) => {
      asked.push([r.file, ...r.args].join(' '))
      if (r.args[0] !== 'create') return { exit: Promise.resolve({ _tag: 'exited', code: 0, stdout: '', stderr: '' }), kill: () => {}, killGroup: () => {} }
      // Creates, then never answers until its group is stopped.
      let stop: (e: Exit) => void = () => {}
      const exit = new Promise<Exit>((resolve) => {
        stop = resolve
      })
      return { exit, kill: () => {}, killGroup: (sig) => stop({ _tag: 'signalled', signal: sig, stdout: '', stderr: '' }) }
    }
    const outcome = await interpret(planOf([{ ...create, timeoutMs: 20 }, start]), { hostEnv: { TOKEN: 't' }, launchId: '00000000000000bb', onEvent: () => {} }, spawn)
    expect(outcome).toStrictEqual({ _tag: 'timedOut', step: 'create the container', binary: 'docker', timeoutMs: 20 })
    expect(asked).toEqual(['docker create --label dev.bottle.launch-id=00000000000000bb', 'docker rm -f demo'])
  })
})

describe('what a run says', () => {
  it('comes out as events, in order, and the interpreter writes nothing itself', async () => {
    const writes = vi.spyOn(process.stderr, 'write')
    const logs = [vi.spyOn(console, 'log'), vi.spyOn(console, 'error'), vi.spyOn(console, 'warn')]
    const { spawn } = playing(() => ({ _tag: 'exited', code: 0, stdout: '', stderr: '' }))
    const events: RunEvent[] = []
    const outcome = await interpret(planOf([create, start]), { hostEnv: { TOKEN: 't' }, launchId: '00000000000000aa', onEvent: (e) => events.push(e) }, spawn)
    expect(outcome).toStrictEqual({ _tag: 'exited', code: 0 })
    expect(events.flatMap((e) => eventLines(e, false))).toEqual([
      '[1/2] docker create --label dev.bottle.launch-id=00000000000000aa',
      '[2/2] docker start demo',
    ])
    expect(events.flatMap((e) => eventLines(e, true))).toEqual([])
    expect(writes).not.toHaveBeenCalled()
    for (const l of logs) expect(l).not.toHaveBeenCalled()
  })
})
