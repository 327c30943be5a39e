/**
 * Invalid input: exit 2, exactly one line on stderr, nothing on stdout, and nothing run. "Nothing
 * run" is checked with the stand-in smolvm and docker executables on PATH (tests/standins; not the
 * real tools): they log every invocation, and the log must stay empty. Most cases call main()
 * in-process (which also lets NUL reach it, as no real argv can); a few run the built executable.
 */
import { fc, test } from '@fast-check/vitest'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendNames } from '../../src/plan/types.js'
import type { Plan } from '../../src/plan/types.js'
import { nastyStringArb } from '../arbitraries.js'
import { writeRecordOf } from '../records.js'
import { runs } from '../runs.js'
import { type Sandbox, bottle, bottleProcess, lines, sandbox } from '../standins/harness.js'

let sb: Sandbox
beforeAll(async () => {
  sb = sandbox()
  // demo is launched on docker (its launch record is there), so that ops on it reach their own checks.
  const r = await bottle(['plan', 'launch', 'demo', '-b', 'docker', '--workdir', sb.workdir, '--format', 'json'], sb.env)
  writeRecordOf(JSON.parse(r.stdout) as Plan)
})
afterAll(() => sb.dispose())

/** The contract for invalid input, checked on one in-process run. */
const rejects = async (args: readonly string[], env: Record<string, string> = {}): Promise<string> => {
  const r = await bottle(args, { ...sb.env, ...env })
  expect(r.code).toBe(2)
  expect(r.stdout).toBe('')
  expect(lines(r.stderr)).toHaveLength(1)
  expect(r.stderr).toMatch(/^bottle: /)
  expect(sb.log()).toEqual([])
  return r.stderr.trimEnd()
}

const wd = () => ['--workdir', sb.workdir]

describe('bottle rejects with exit 2, one stderr line, and nothing run', () => {
  it.each([
    [['run', 'bogus', 'demo'], /unknown operation "bogus"/],
    [['plan', 'bogus', 'demo'], /unknown operation "bogus"/],
    [['run', 'Launch', 'demo'], /unknown operation "Launch"/],
    [['bogus'], /plan or run/],
    [['launch', 'demo'], /plan or run/],
    [[], /plan or run/],
    [['run'], /say which operation/],
    [['plan'], /say which operation/],
  ])('an unknown or missing mode/operation: %j', async (args, message) => {
    expect(await rejects(args)).toMatch(message)
  })

  it.each(['nope', 'Docker', 'podman ', ''])('an unknown backend %j', async (b) => {
    expect(await rejects(['run', 'launch', 'demo', '-b', b, ...wd()])).toContain('unknown backend')
  })

  describe.each(backendNames)('bottle names %s would reject or read as a flag', (backend) => {
    it.each(['-x', '--name', '-', '-f'])('%j, which starts with "-"', async (name) => {
      expect(await rejects(['run', 'launch', '-b', backend, ...wd(), '--', name])).toContain('must not start with "-"')
    })

    it.each(['a b', ' demo', 'demo\n', 'a\nb', 'tab\there', 'a/b', 'a:b', 'é', '_lead', '.dot'])('%j', async (name) => {
      for (const op of [['launch', name], ['exec', name, 'true'], ['down', name]]) await rejects(['run', ...op, '-b', backend, ...wd()])
    })

    // A NUL cannot cross a real argv; main() must reject it all the same.
    it('a name with a NUL byte', async () => {
      expect(await rejects(['run', 'launch', 'de\0mo', '-b', backend, ...wd()])).toContain('\\u0000')
    })
  })

  it.each(['a--b', 'a-', 'x'.repeat(129)])('smolvm machine-name rules: %j', async (name) => {
    await rejects(['run', 'launch', name, '-b', 'smolvm', ...wd()])
  })

  it('docker container-name rules: a one-character name', async () => {
    await rejects(['run', 'launch', 'x', '-b', 'docker', ...wd()])
  })

  it.each([
    ['1X=v', 'env key "1X"'],
    ['A-B=v', 'env key "A-B"'],
    ['=v', 'must be KEY=VALUE'],
    ['NOVALUE', 'must be KEY=VALUE'],
    ['HOME=/x', 'HOME is set by bottle'],
    ['USER=x', 'USER is set by bottle'],
    ['K=a\0b', 'NUL'],
  ])('a bad env entry -e %j', async (entry, message) => {
    expect(await rejects(['run', 'exec', 'demo', 'true', '-b', 'docker', ...wd(), '-e', entry])).toContain(message)
  })

  test.prop([fc.string({ minLength: 1 }).filter((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !k.includes('=') && !k.includes('\0'))], {
    numRuns: runs,
  })('any env key outside [A-Za-z_][A-Za-z0-9_]*', async (key) => {
    await rejects(['run', 'exec', 'demo', 'true', '-b', 'smolvm', ...wd(), '-e', `${key}=v`])
  })

  it.each([
    [['--secret', '1A'], 'secret name "1A"'],
    [['--user', 'Root'], 'user "Root"'],
    [['--user', 'a b'], 'user "a b"'],
    [['--network', 'bridge'], '--network "bridge"'],
    [['--image', '-v'], 'image "-v"'],
    [['-e', 'S=1', '--secret', 'S'], 'both a plain env entry and a secret'],
    [['--prompt', '/no/such/prompt.md'], 'does not exist'],
    [['--bogus'], "unknown option '--bogus'"],
  ])('a bad flag: %j', async (flags, message) => {
    expect(await rejects(['run', 'launch', 'demo', '-b', 'docker', ...wd(), ...flags])).toContain(message)
  })

  it('a workdir with ":", which docker -v cannot bind (an existing one: a missing workdir is refused first)', async () => {
    const colon = join(sb.workdir, 'a:b')
    mkdirSync(colon, { recursive: true })
    expect(await rejects(['run', 'launch', 'demo', '-b', 'docker', '--workdir', colon])).toContain('contains ":"')
  })

  it.each([
    [['run', 'exec', 'demo', '-b', 'docker'], "missing required argument 'script'"],
    [['run', 'cp', 'demo', '/etc/hostname', '-b', 'docker'], "missing required argument 'to'"],
    [['run', 'cp', 'demo', ':/a', ':/b', '-b', 'docker'], 'both paths start with ":"'],
    [['run', 'cp', 'demo', ':/home/node/out', '/no/such/dir/out', '-b', 'docker'], 'the destination\'s parent "/no/such/dir" does not exist'],
    [['run', 'cp', 'demo', ':/home/node/out', '/etc/hostname', '-b', 'docker'], '"/etc/hostname" exists: bottle never writes over a file'],
    [['run', 'cp', 'demo', ':relative', '/tmp/x', '-b', 'docker'], 'must be an absolute path'],
    [['run', 'launch', 'demo', '--memory', '4x', '-b', 'docker'], '--memory: memory "4x" must be a positive whole number'],
    [['run', 'launch', 'demo', '--memory', '0', '-b', 'docker'], '--memory: memory "0" must be a positive whole number'],
    [['run', 'launch', 'demo', '--memory', '5m', '-b', 'docker'], 'limits.memory 5m is below 6m, the least docker allows'],
    [['run', 'launch', 'demo', '--cpus', '-1', '-b', 'docker'], '--cpus: cpus "-1" must be a positive decimal'],
    [['run', 'launch', 'demo', '--pids', '1.5', '-b', 'docker'], '--pids: pids "1.5" must be a positive whole number'],
    [['run', 'launch', 'demo', '--pids', '64', '-b', 'bwrap'], 'limits.pids cannot be enforced on bwrap'],
    [['run', 'launch', 'demo', '--pids', '64', '-b', 'smolvm'], 'limits.pids cannot be enforced on smolvm'],
    [['run', 'launch', 'demo', '--cpus', '1.5', '-b', 'smolvm'], 'limits.cpus 1.5 cannot be enforced on smolvm'],
    [['run', 'launch', 'demo', '--pids', '64', '-b', 'kubernetes'], 'limits.pids cannot be enforced on kubernetes'],
    [['run', 'exec', 'demo', 'true', '--pids', '64', '-b', 'docker'], "unknown option '--pids'"],
    [['run', 'launch', 'demo', 'extra', '-b', 'docker'], 'too many arguments'],
    [['run', 'cp', 'demo', '/no/such/file', '/x', '-b', 'docker'], 'does not exist'],
    [['run', 'cp', 'demo', '/etc/hostname', 'relative/x', '-b', 'docker'], 'must be an absolute path'],
    [['run', 'exec', 'demo', 'a\0b', '-b', 'docker'], 'NUL'],
  ])('bad arguments: %j', async (args, message) => {
    expect(await rejects([...args, ...wd()])).toContain(message)
  })

  it('ls takes no bottle name (and no --workdir)', async () => {
    expect(await rejects(['run', 'ls', 'demo', '-b', 'docker'])).toContain('too many arguments')
    expect(await rejects(['run', 'ls', '-b', 'docker', ...wd()])).toContain("unknown option '--workdir'")
  })

  // An operation takes `help` as a bottle name, not as a subcommand: commander's help command
  // belongs to `bottle`, `bottle plan` and `bottle run` only.
  it('"help" after an operation is a bottle name', async () => {
    const r = await bottle(['plan', 'launch', 'help', '-b', 'docker', ...wd()], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('launch help on docker')
  })

  it.each(['bogus', 'JSON', ''])('plan --format %j', async (format) => {
    expect(await rejects(['plan', 'launch', 'demo', '-b', 'docker', '--format', format])).toContain('--format')
  })

  it('run has no --format', async () => {
    await rejects(['run', 'launch', 'demo', '-b', 'docker', '--format', 'json'])
  })

  it('no backend given and none on PATH', async () => {
    expect(await rejects(['run', 'launch', 'demo', ...wd()], { PATH: '/nonexistent' })).toContain('no usable backend')
  })
})

describe('manifest errors: exit 2, one line naming the file and the key path, nothing run', () => {
  const manifest = (text: string): string => sb.hostFile(`m-${Math.random().toString(36).slice(2)}.yaml`, text)

  it.each([
    ['bottles:\n  demo:\n    colour: red\n', ': bottles.demo.colour: unknown key'],
    ['bottles:\n  demo:\n    env: [A]\n', ': bottles.demo.env: '],
    ['bottles:\n  demo:\n    env: {1X: v}\n', ': bottles.demo.env'],
    ['bottles:\n  demo:\n    env: {X: "a\\0b"}\n', ': bottles.demo.env.X: '],
    ['bottles:\n  demo:\n    secrets: [ok, "not ok"]\n', ': bottles.demo.secrets[1]: '],
    ['bottles:\n  demo:\n    user: 7\n', ': bottles.demo.user: '],
    ['bottles:\n  demo:\n    backend: vmware\n', ': bottles.demo.backend: '],
    ['backend: nope\nbottles: {}\n', ': backend: '],
    ['bottles:\n  "-x": {}\n  demo: {}\n', 'bottles'],
    ['bottles: [\n', ':2:'],
    ['colour: red\n', ': colour: unknown key'],
  ])('%j', async (text, where) => {
    const file = manifest(text)
    const line = await rejects(['run', 'launch', 'demo', '-b', 'docker', '-f', file, ...wd()])
    expect(line.startsWith(`bottle: ${file}`)).toBe(true)
    expect(line).toContain(where)
  })

  it('a bottle the manifest does not declare', async () => {
    const file = manifest('bottles:\n  other: {}\n')
    expect(await rejects(['run', 'launch', 'demo', '-b', 'docker', '-f', file, ...wd()])).toContain('declares no bottle "demo"')
  })

  it('a manifest that does not exist', async () => {
    expect(await rejects(['run', 'launch', 'demo', '-f', '/no/such/bottle.yaml', ...wd()])).toContain('"/no/such/bottle.yaml" does not exist')
  })
})

describe('any bottle name: plan either prints a plan or rejects it in one line', () => {
  test.prop([nastyStringArb, fc.constantFrom(...backendNames)], { numRuns: runs })('never a crash or a multi-line error', async (name, backend) => {
    const r = await bottle(['plan', 'launch', '-b', backend, ...wd(), '--', name], sb.env)
    if (r.code === 0) expect(r.stdout).toContain(`launch ${name} on ${backend}`)
    else {
      expect(r.code).toBe(2)
      expect(lines(r.stderr)).toHaveLength(1)
      expect(r.stdout).toBe('')
    }
    expect(sb.log()).toEqual([])
  })

  // No machine or container name rule (reference §1.1: [A-Za-z0-9_-]; moby: [a-zA-Z0-9_.-]) rejects capitals.
  it.each(backendNames.filter((b) => b !== 'kubernetes'))('capitals are valid %s names, so they are accepted', async (backend) => {
    expect((await bottle(['plan', 'launch', 'Demo', '-b', backend, ...wd()], sb.env)).code).toBe(0)
  })

  // A Pod name is a DNS-1123 label: lowercase only.
  it('capitals are not valid kubernetes names: one line, exit 2', async () => {
    const r = await bottle(['plan', 'launch', 'Demo', '-b', 'kubernetes', ...wd()], sb.env)
    expect([r.code, lines(r.stderr)]).toStrictEqual([2, ['bottle: bottle name "Demo" is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters']])
  })
})

describe('the built executable (node dist/bottle.js)', () => {
  it.each([
    [['run', 'bogus', 'demo']],
    [['run', 'launch', 'demo', '-b', 'nope']],
    [['run', 'launch', '-b', 'docker', '--', '-x']],
    [['run', 'launch', 'a b', '-b', 'smolvm']],
    [['run', 'exec', 'demo', 'true', '-b', 'docker', '-e', '1X=y']],
    [['plan', 'launch', 'demo', '-b', 'docker', '--format', 'bogus']],
    [['run']],
    [[]],
    [['run', 'launch', 'demo', '-b', 'docker', '--bogus']],
    [['run', 'ls', '-b', 'docker', '--workdir', '.']],
    [['run', 'exec', 'demo', 'true', '-b', 'docker', '--all']],
    [['run', 'exec', 'demo', 'true', '-b', 'docker', '--check-drift=yes']],
    [['run', 'exec', 'demo', 'true', '--backend']],
  ])('%j exits 2 with one stderr line and runs nothing', async (args) => {
    const r = await bottleProcess(args, sb.env)
    expect(r.exitCode).toBe(2)
    expect(lines(r.stderr)).toHaveLength(1)
    expect(r.stdout).toBe('')
    expect(sb.log()).toEqual([])
  })
})
