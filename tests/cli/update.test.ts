/**
 * `bottle run update` against the stand-in smolvm and docker (tests/standins; not the real tools;
 * bwrap and the real docker engine are in tests/bwrap/update.test.ts, tests/engines/update.test.ts):
 * the new prompt file is copied in by the backend's own copy steps, and when that copy fails the
 * old launch record is put back, so the bottle runs exactly as before.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, sandbox, standinBackends } from '../standins/harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = sandbox()
})
afterEach(() => sb.dispose())

// The harness sets HOME, not XDG_STATE_HOME: the state root is $HOME/.local/state/bottle.
const recordPath = (backend: string) => join(sb.root, '.local', 'state', 'bottle', backend, 'demo', 'record.json')

describe.each(standinBackends)('update on %s, against a stand-in', (backend) => {
  const launch = async () => {
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '--network', 'open', '--workdir', sb.workdir, '-e', 'A=1', '-q'], sb.env)
    expect(r).toMatchObject({ code: 0, stderr: '' })
    sb.clearLog()
    return readFileSync(recordPath(backend), 'utf8')
  }

  it('records the new env and copies the new prompt in with the backend\'s copy steps', async () => {
    await launch()
    const prompt = sb.hostFile('p.md', 'the new prompt\n')
    // No manifest: the flags change the record (the workdir flag, fixed at launch, is the same).
    const r = await bottle(['run', 'update', 'demo', '-b', backend, '--workdir', sb.workdir, '-e', 'NEW=2', '--prompt', prompt, '--yes', '-q'], sb.env)
    expect(r.code).toBe(0)
    expect(JSON.parse(readFileSync(recordPath(backend), 'utf8'))).toMatchObject({ spec: { env: [['A', '1'], ['NEW', '2']], prompt } })
    expect(sb.guestFile(backend, 'demo', '/opt/bottle/system-prompt.md')).toBe('the new prompt\n')
    // The next exec hands the guest the new env.
    sb.clearLog()
    expect((await bottle(['run', 'exec', 'demo', '-b', backend, 'true'], sb.env)).code).toBe(0)
    expect(JSON.stringify(sb.log().at(-1)?.argv)).toContain('NEW=2')
  })

  it('a prompt copy that fails puts the old record back: nothing changed', async () => {
    const old = await launch()
    const prompt = sb.hostFile('p.md', 'the new prompt\n')
    const failing = { ...sb.env, STANDIN_FAIL_AT: '1,2,3,4' }
    const r = await bottle(['run', 'update', 'demo', '-b', backend, '--workdir', sb.workdir, '-e', 'NEW=2', '--prompt', prompt, '--yes', '-q'], failing)
    expect(r.code).not.toBe(0)
    expect(sb.log().length).toBeGreaterThan(0)
    expect(readFileSync(recordPath(backend), 'utf8')).toBe(old)
  })
})
