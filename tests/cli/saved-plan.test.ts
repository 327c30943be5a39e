/**
 * `bottle run --plan FILE` against the stand-in smolvm and docker (tests/standins; not the real
 * tools): a saved plan runs as it is, and each refusal is one line, exit 2, and no process started
 * (the stand-ins' log stays empty): another version, a file off the schema, a missing secret, a
 * stale plan (launched, updated or taken down since), a plan file the bottle's agent can write.
 */
import { fc, test } from '@fast-check/vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, sandbox, standinBackends } from '../standins/harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = sandbox()
})
afterEach(() => sb.dispose())

/** `bottle plan ARGS --format json`, saved in the sandbox (outside the workdir): the file's path. */
const save = async (file: string, args: readonly string[], env: Readonly<Record<string, string>> = sb.env): Promise<string> => {
  const r = await bottle(['plan', ...args, '--format', 'json'], env)
  expect(r).toMatchObject({ code: 0, stderr: '' })
  return sb.hostFile(file, r.stdout)
}

/** Runs the saved plan; asserts it was refused with one line and that no process was started. */
const refused = async (file: string, env: Readonly<Record<string, string>> = sb.env): Promise<string> => {
  sb.clearLog()
  const r = await bottle(['run', '--plan', file], env)
  expect(r.code).toBe(2)
  expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1)
  expect(sb.log()).toEqual([])
  return r.stderr.trim()
}

describe.each(standinBackends)('bottle run --plan on %s, against a stand-in', (backend) => {
  const launch = async (...more: string[]) => {
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '--network', 'open', '--workdir', sb.workdir, '-q', ...more], sb.env)
    expect(r).toMatchObject({ code: 0, stderr: '' })
  }
  const launchPlan = (...more: string[]) => save('launch.json', ['launch', 'demo', '-b', backend, '--network', 'open', '--workdir', sb.workdir, ...more])

  it('runs the saved plan: a launch, then an exec whose exit code it passes through', async () => {
    const l = await launchPlan()
    expect((await bottle(['run', '--plan', l, '-q'], sb.env)).code).toBe(0)
    expect(sb.live(backend)).toEqual(['demo'])
    const x = await save('exec.json', ['exec', 'demo', 'exit 7', '-b', backend])
    expect((await bottle(['run', '--plan', x], sb.env)).code).toBe(7)
  })

  it('refuses a plan of another format version', async () => {
    const l = await launchPlan()
    writeFileSync(l, JSON.stringify({ ...JSON.parse(readFileSync(l, 'utf8')), version: 2 }))
    expect(await refused(l)).toBe(`bottle: plan file ${JSON.stringify(l)} is plan format 2; this bottle reads format 1 only (make the plan again with this bottle); nothing was run`)
  })

  it('refuses a file that does not match the schema, saying where', async () => {
    const l = await launchPlan()
    const p = JSON.parse(readFileSync(l, 'utf8'))
    p.steps[1].argv[0] = 7
    writeFileSync(l, JSON.stringify(p))
    expect(await refused(l)).toContain('does not match the plan schema at /steps/1/argv/0: must be a string')
    writeFileSync(l, '{"version": 1, "op": "launch"')
    expect(await refused(l)).toContain('is not JSON')
  })

  it('refuses a plan that names a secret the host env does not have', async () => {
    const l = await launchPlan('--secret', 'TOKEN')
    expect(await refused(l)).toContain('names the secret TOKEN, not set in the host environment')
  })

  it('refuses a launch plan for a bottle launched since', async () => {
    const l = await launchPlan()
    await launch()
    expect(await refused(l)).toContain(`is stale: demo on ${backend} has been launched since the plan was made`)
  })

  it('refuses a plan whose bottle was updated since, saying what changed', async () => {
    await launch('-e', 'A=1')
    const x = await save('exec.json', ['exec', 'demo', 'true', '-b', backend])
    const u = await bottle(['run', 'update', 'demo', '-b', backend, '--workdir', sb.workdir, '-e', 'A=1', '-e', 'NEW=2', '--yes', '-q'], sb.env)
    expect(u.code).toBe(0)
    expect(await refused(x)).toMatch(new RegExp(`is stale: the launch record of demo on ${backend} has changed since the plan was made \\(spec hash [0-9a-f]{12} → [0-9a-f]{12}: env NEW added\\)`))
  })

  it('applies a saved update without asking again (the review was the asking); the same file is stale after it', async () => {
    await launch('-e', 'A=1')
    const u = await save('update.json', ['update', 'demo', '-b', backend, '--workdir', sb.workdir, '-e', 'A=1', '-e', 'NEW=2'])
    expect((await bottle(['run', '--plan', u, '-q'], sb.env)).code).toBe(0)
    const record = JSON.parse(readFileSync(join(sb.root, '.local', 'state', 'bottle', backend, 'demo', 'record.json'), 'utf8'))
    expect(record.spec.env).toEqual([['A', '1'], ['NEW', '2']])
    expect(await refused(u)).toContain('is stale: the launch record of demo')
  })

  it('refuses a plan whose bottle was taken down since', async () => {
    await launch()
    const x = await save('exec.json', ['exec', 'demo', 'true', '-b', backend])
    expect((await bottle(['run', 'down', 'demo', '-b', backend, '-q'], sb.env)).code).toBe(0)
    expect(await refused(x)).toContain(`is stale: demo on ${backend} has no launch record now: it has been taken down since the plan was made`)
  })

  it("refuses a plan file inside the bottle's workdir, which its agent can write", async () => {
    await launch()
    const r = await bottle(['plan', 'exec', 'demo', 'true', '-b', backend, '--format', 'json'], sb.env)
    const inWorkdir = join(sb.workdir, 'plan.json')
    writeFileSync(inWorkdir, r.stdout)
    expect(await refused(inWorkdir)).toContain(`is inside the workdir of demo (${sb.workdir}), which the agent in the bottle can write`)
  })

  it('refuses a listing plan, and anything but -q beside --plan', async () => {
    const ls = await save('ls.json', ['ls', '-b', backend])
    expect(await refused(ls)).toContain('is a listing plan: bottle ls lists')
    sb.clearLog()
    const extra = await bottle(['run', '--plan', ls, 'exec'], sb.env)
    expect(extra.code).toBe(2)
    expect(extra.stderr).toMatch(/^bottle: bottle run --plan FILE takes only -q besides \(the plan says the rest\): .*; nothing was run\n$/)
    expect(sb.log()).toEqual([])
  })

  // Secrets and the launch id are slots in the file, filled by each run that reads it.
  test.prop([fc.stringMatching(/^[A-Za-z0-9+/]{8,40}$/)], { numRuns: 5 })("a secret's value is never in the file; the run hands it to the backend", async (value) => {
    const secretValue = `s3cr3t-${value}`
    const env = { ...sb.env, TOKEN: secretValue }
    const l = await save('launch.json', ['launch', 'demo', '-b', backend, '--network', 'open', '--workdir', sb.workdir, '--secret', 'TOKEN'], env)
    const text = readFileSync(l, 'utf8')
    expect(text).not.toContain(secretValue)
    expect(text).not.toMatch(/dev\.bottle\.launch-id=[0-9a-f]/)
    expect((await bottle(['run', '--plan', l, '-q'], env)).code).toBe(0)
    const x = await save('exec.json', ['exec', 'demo', 'true', '-b', backend], env)
    expect(readFileSync(x, 'utf8')).not.toContain(secretValue)
    sb.clearLog()
    expect((await bottle(['run', '--plan', x], env)).code).toBe(0)
    // The backend client got the value in its environment, from the host env of this run.
    expect(sb.log().map((i) => i.env.TOKEN)).toContain(secretValue)
    expect((await bottle(['run', 'down', 'demo', '-b', backend, '-q'], env)).code).toBe(0)
  })
})
