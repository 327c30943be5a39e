/**
 * The whole lifecycle of a bottle on a real engine, through the built CLI (dist/bottle.js):
 * launch with a prompt, env and a secret; agent and exec with and without a TTY; exit codes;
 * the resume fallback; cp; ls and drift; down twice; down --all beside a container bottle did not
 * make; and the secret's value nowhere in the engine's inspect output or any process's argv.
 *
 * Nothing here is a stand-in but the agent: a shell script named `claude` in the test image
 * (tests/engines/image/claude) that reports its argv, env, cwd and terminal. Each engine copies
 * the whole image per container (vfs), so the tests share two bottles and one foreign container,
 * in order, and remove all three at the end whatever happened.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { quoteShArgv } from '../../src/plan/quote.js'
import { type Engine, type EngineName, client, onEngine } from './engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

/** `key=value` lines (and `env:KEY=value`) of the stand-in agent or a test script, as a record; repeated keys as arrays. */
const report = (stdout: string): Record<string, string | string[]> => {
  const out: Record<string, string | string[]> = {}
  for (const line of stdout.replaceAll('\r', '').split('\n')) {
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const [k, v] = [line.slice(0, eq), line.slice(eq + 1)]
    const had = out[k]
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v]
  }
  return out
}

/** The argv of every process on this machine right now (guests' included: one kernel). */
const allCmdlines = (): string[] =>
  readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ')]
    } catch {
      return [] // gone since the listing
    }
  })

// Visible either way: a skipped test whose name says why, or, where engines are required, a failure.
export const engineSuite = (name: EngineName): void => onEngine(name, lifecycle)

const lifecycle = (engine: Engine): void => {
  const root = mkdtempSync(join(tmpdir(), `bottle-${engine.name}-`))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  // Names of this run only: a leftover of an earlier run never meets these tests.
  const tag = randomBytes(3).toString('hex')
  const main = `bt-${tag}-main`
  const fresh = `bt-${tag}-fresh`
  const foreign = `bt-${tag}-foreign`
  // Another run's bottle on the same engine (another test file's, another user's): not this run's to remove.
  const elsewhere = `other-${tag}`
  const secretValue = `s3cret-${randomBytes(12).toString('base64url')}`
  const prompt = `You are in a bottle ${randomBytes(4).toString('hex')}.\n`
  writeFileSync(join(ws, 'prompt.md'), prompt)
  const manifest = (greeting: string) =>
    [
      `backend: ${engine.name}`,
      'bottles:',
      `  ${main}:`,
      `    image: ${engine.image}`,
      '    env:',
      `      GREETING: ${JSON.stringify(greeting)}`,
      '    secrets: [BOTTLE_TEST_SECRET]',
      '    prompt: ./prompt.md',
      // Not a test of egress (egress.test.ts is): the backend's own network, as before it.
      '    network: open',
      `  ${fresh}:`,
      `    image: ${engine.image}`,
      '    network: open',
      '',
    ].join('\n')
  writeFileSync(join(ws, 'bottle.yaml'), manifest('hello world'))

  // The engine is shared with every other test file (and anyone else using it): `ls` and
  // `down --all` here must see this run's containers only, or down --all would remove the others'
  // bottles behind their backs (their egress proxies then ran on). For those two, a shim of the
  // real client first on PATH adds a name filter to `ps`; every other command goes on unchanged.
  const realClient = spawnSync('sh', ['-c', `command -v ${engine.name}`], { encoding: 'utf8' }).stdout.trim()
  const shim = join(root, 'shim')
  mkdirSync(shim)
  writeFileSync(join(shim, engine.name), [
    '#!/bin/sh',
    `[ "$1" = ps ] && exec ${quoteShArgv([realClient])} "$@" --filter ${quoteShArgv([`name=^/?bt-${tag}-`])}`,
    `exec ${quoteShArgv([realClient])} "$@"`,
    '',
  ].join('\n'), { mode: 0o755 })
  const env = {
    ...(process.env as Record<string, string>),
    ...engine.clientEnv,
    XDG_STATE_HOME: join(root, 'state'),
    BOTTLE_TEST_SECRET: secretValue,
  }
  const bottle = (args: readonly string[], scoped = false) => {
    const r = spawnSync(process.execPath, [cli, ...args], {
      cwd: ws, env: scoped ? { ...env, PATH: `${shim}:${process.env.PATH ?? ''}` } : env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
    })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  /** Runs bottle while sampling every process's argv on the machine, until it exits. */
  const bottleSampled = async (args: readonly string[]) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const status = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    let running = true
    void status.then(() => (running = false))
    const seen = new Set<string>()
    while (running) {
      for (const c of allCmdlines()) seen.add(c)
      await new Promise((r) => setTimeout(r, 5))
    }
    return { status: await status, stdout, stderr, cmdlines: [...seen] }
  }
  const listed = () => {
    const r = bottle(['ls', '-b', engine.name, '--json'], true)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as {
      bottles: { name: string; state: string; image: string; drift: { status: string; differences: unknown[] } }[]
      unreachable: unknown[]
    }
    expect(out.unreachable).toStrictEqual([])
    return out.bottles
  }
  const images: string[] = []
  const exists = (container: string) => client(engine, ['container', 'inspect', container]).status === 0

  afterAll(() => {
    // Whatever a failed test left: never a container of this run on the engine afterwards.
    client(engine, ['rm', '-f', main, fresh, foreign, elsewhere])
    if (images.length > 0) client(engine, ['rmi', ...images])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  // Every container create and remove copies or deletes the whole image (vfs): on two busy cores
  // one step can take tens of seconds.
  describe(`${engine.name}, a real engine`, { timeout: 180_000 }, () => {
    it('launch creates and starts the bottle, with the prompt given to its user', () => {
      const r = bottle(['run', 'launch', main, '-q'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      const inside = bottle(['run', 'exec', main, '-q', 'echo "prompt=$(cat /opt/bottle/system-prompt.md)"; echo "owner=$(stat -c %U /opt/bottle/system-prompt.md)"'])
      expect(inside.status).toBe(0)
      expect(report(inside.stdout)).toStrictEqual({ prompt: prompt.trimEnd(), owner: 'node' })
    })

    it('agent without a terminal: the user node, HOME, the workdir, the prompt flag, args, env and the secret; exit code passed through', () => {
      const r = bottle(['run', 'agent', main, '-q', '--', '-p', 'it is "quoted"; $(not run)', '--exit-with', '42'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(42)
      const got = report(r.stdout)
      expect(got).toMatchObject({
        tty: 'no',
        uid: '1000',
        user: 'node',
        home: '/home/node',
        cwd: ws,
        'env:GREETING': 'hello world',
        'env:BOTTLE_TEST_SECRET': secretValue,
      })
      expect(got.arg).toStrictEqual(['--append-system-prompt-file', '/opt/bottle/system-prompt.md', '-p', 'it is "quoted"; $(not run)', '--exit-with', '42'])
      // Only what the spec names reaches the guest, not the rest of the host's env.
      expect(got['env:XDG_STATE_HOME']).toBeUndefined()
    })

    it('agent in a terminal (under script): the guest gets a TTY, and the exit code comes back', async () => {
      // script(1) runs the command on a new pseudo-terminal; -e passes its exit code on. Its stdin
      // stays open until it exits: at end of input script would type an EOF into the terminal.
      const command = quoteShArgv([process.execPath, cli, 'run', 'agent', main, '-q', '--', '--exit-with', '7'])
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'pipe'] })
      let stdout = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
      expect(status).toBe(7)
      expect(report(stdout)).toMatchObject({ tty: 'yes', user: 'node', 'env:BOTTLE_TEST_SECRET': secretValue })
    })

    it.each([0, 1, 42, 255])('exec passes the script\'s exit code %i through', (code) => {
      expect(bottle(['run', 'exec', main, '-q', `exit ${code}`]).status).toBe(code)
    })

    it('exec: a command the guest shell cannot find is 127, a guest killed by SIGTERM is 143', () => {
      const missing = bottle(['run', 'exec', main, '-q', 'no-such-command-in-the-guest'])
      expect(missing.status).toBe(127)
      expect(missing.stderr).toContain('no-such-command-in-the-guest')
      expect(bottle(['run', 'exec', main, '-q', 'kill -TERM $$']).status).toBe(143)
    })

    it('the host\'s node runs in the image, as the user node', () => {
      const r = bottle(['run', 'exec', main, '-q', 'node -e "console.log(\'node=\' + process.version + \' uid=\' + process.getuid())"'])
      expect(r.status).toBe(0)
      expect(r.stdout.trim()).toBe(`node=${process.version} uid=1000`)
    })

    it('the secret\'s value is in no process\'s argv while a command runs, nor in what the engine shows of the bottle', async () => {
      // The guest hashes the value it got (printf is a shell builtin: no process holds the value in its argv).
      const r = await bottleSampled(['run', 'exec', main, 'sleep 2; printf %s "$BOTTLE_TEST_SECRET" | sha256sum'])
      expect(r.status).toBe(0)
      expect(r.stdout.slice(0, 64)).toBe(createHash('sha256').update(secretValue).digest('hex'))
      // The sampling saw the run: the engine client's exec was among the processes.
      expect(r.cmdlines.some((c) => c.startsWith(`${engine.name} exec `))).toBe(true)
      expect(r.cmdlines.filter((c) => c.includes(secretValue))).toStrictEqual([])
      expect(r.stderr).not.toContain(secretValue)
      const inspect = client(engine, ['inspect', main])
      expect(inspect.status).toBe(0)
      expect(inspect.stdout).toContain(main)
      expect(inspect.stdout).not.toContain(secretValue)
    })

    it('cp copies a file and a directory in, owned by node; the guest reads them back', () => {
      writeFileSync(join(root, 'notes.txt'), 'a note\n')
      mkdirSync(join(root, 'fixtures', 'sub'), { recursive: true })
      writeFileSync(join(root, 'fixtures', 'top.txt'), 'top\n')
      writeFileSync(join(root, 'fixtures', 'sub', 'data.txt'), 'some data\n')
      expect(bottle(['run', 'cp', main, join(root, 'notes.txt'), '/home/node/docs/notes.txt', '-q'])).toMatchObject({ status: 0, stderr: '' })
      expect(bottle(['run', 'cp', main, join(root, 'fixtures'), '/home/node/fixtures', '-q'])).toMatchObject({ status: 0, stderr: '' })
      const r = bottle(['run', 'exec', main, '-q', [
        'echo "note=$(cat ~/docs/notes.txt)"',
        'echo "top=$(cat ~/fixtures/top.txt)"',
        'echo "data=$(cat ~/fixtures/sub/data.txt)"',
        'echo "owners=$(stat -c %U ~/docs/notes.txt ~/fixtures ~/fixtures/top.txt ~/fixtures/sub ~/fixtures/sub/data.txt | sort -u)"',
      ].join('\n')])
      expect(r.status).toBe(0)
      expect(report(r.stdout)).toStrictEqual({ note: 'a note', top: 'top', data: 'some data', owners: 'node' })
    })

    it('resume falls back to a fresh session when there is none, and continues it the next time', () => {
      expect(bottle(['run', 'launch', fresh, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const first = bottle(['run', 'resume', fresh, '-q'])
      expect(first.status).toBe(0)
      // The stand-in's --continue failed, as claude's does with no conversation, and the fallback ran.
      expect(first.stderr).toContain('No conversation found to continue')
      expect(report(first.stdout)).toMatchObject({ session: 'new', user: 'node' })
      expect(report(first.stdout).arg).toBeUndefined()
      const second = bottle(['run', 'resume', fresh, '-q', '--', '-p', 'again'])
      expect(second.stderr).toBe('')
      expect(second.status).toBe(0)
      expect(report(second.stdout)).toMatchObject({ session: 'continued', arg: ['--continue', '-p', 'again'] })
    })

    it('ls lists both bottles; a manifest changed since launch shows as drift, and back again as none', () => {
      const byName = () => Object.fromEntries(listed().map((b) => [b.name, b]))
      expect(byName()[main]).toMatchObject({ state: 'running', image: engine.image, drift: { status: 'same' } })
      expect(byName()[fresh]).toMatchObject({ state: 'running', drift: { status: 'same' } })
      const changed = `changed-${randomBytes(4).toString('hex')}`
      writeFileSync(join(ws, 'bottle.yaml'), manifest(changed))
      const drifted = byName()[main]
      expect(drifted?.drift.status).toBe('drifted')
      expect(JSON.stringify(drifted?.drift.differences)).toContain('GREETING')
      // The record keeps env values only as digests: neither value is shown.
      expect(JSON.stringify(drifted)).not.toContain(changed)
      expect(JSON.stringify(drifted)).not.toContain('hello world')
      writeFileSync(join(ws, 'bottle.yaml'), manifest('hello world'))
      expect(byName()[main]?.drift.status).toBe('same')
    })

    it('down removes the bottle; down again is not an error', () => {
      expect(bottle(['run', 'down', fresh, '-q'])).toMatchObject({ status: 0, stderr: '' })
      expect(exists(fresh)).toBe(false)
      expect(bottle(['run', 'down', fresh, '-q'])).toMatchObject({ status: 0, stderr: '' })
      expect(listed().map((b) => b.name)).not.toContain(fresh)
    })

    it('down --all removes this tool\'s bottles and leaves a container it did not make', () => {
      // Not from the test image: vfs would copy all of it. A one-file image is enough for a container that never starts.
      const tiny = join(root, 'tiny')
      mkdirSync(tiny)
      writeFileSync(join(tiny, 'marker'), 'not a bottle\n')
      const tinyImage = `bottle-test-foreign:${tag}`
      const imported = spawnSync('sh', ['-c', 'tar -C "$1" -c . | "$2" import - "$3"', 'sh', tiny, engine.name, tinyImage], {
        env: { ...process.env, ...engine.clientEnv }, encoding: 'utf8',
      })
      expect(imported.status).toBe(0)
      images.push(tinyImage)
      const made = client(engine, ['create', '--name', foreign, '--label', `dev.bottle.name=${main}`, tinyImage, '/marker'])
      expect(made.stderr).toBe('')
      expect(made.status).toBe(0)
      const other = client(engine, ['create', '--name', elsewhere, '--label', 'dev.bottle.managed=true', '--label', `dev.bottle.name=${elsewhere}`, tinyImage, '/marker'])
      expect(other.status).toBe(0)
      const r = bottle(['run', 'down', '--all', '-b', engine.name, '-q'], true)
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(exists(main)).toBe(false)
      expect(exists(foreign)).toBe(true)
      // The shared engine's other bottles are left: this run's down --all saw its own only.
      expect(exists(elsewhere)).toBe(true)
      expect(listed()).toStrictEqual([])
    })
  })
}
