/**
 * The agent edits `bottle.yaml` in its workdir (issue 9, item 1), played by a guest script on real
 * bwrap and on a real docker engine: it adds a host `workdir`, `network: host`, a secret and env.
 * The user's next ordinary `bottle run exec` compiles from the launch record, so it gets none of
 * them, and says the manifest has drifted. Each attack has a CONTROL: a bottle launched fresh
 * from that same manifest does get the directory, the listener, the secret, the env, so these
 * tests fail if later ops read the manifest again.
 *
 * LD_PRELOAD into host-side bwrap is tests/escape/bwrap.test.ts's; here it is tried on the docker
 * client. On docker a container's network and binds are fixed when it is created, and the test
 * engine runs with --bridge=none, so `network: host` is checked in the container's inspect output,
 * not by connecting; an edited `workdir` would only make `docker exec -w` fail (126), so it is
 * tried apart from the secret and env, which `docker exec -e` would hand in.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { client, enginesRequired, envFile, findEngine } from '../engines/engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const tag = randomBytes(3).toString('hex')

/** A workdir any guest user can write in (the tests run as root; the guest as node), with this manifest. */
const workspace = (root: string, manifest: string): string => {
  const ws = join(root, 'ws')
  mkdirSync(ws)
  chmodSync(ws, 0o777)
  writeFileSync(join(ws, 'bottle.yaml'), manifest)
  chmodSync(join(ws, 'bottle.yaml'), 0o666)
  return ws
}

/** A host directory holding a marker file with a random token: what the edited workdir points at. */
const hostTarget = (root: string): { dir: string; token: string } => {
  const dir = join(root, 'target')
  const token = `host-marker-${randomBytes(8).toString('hex')}`
  mkdirSync(dir)
  writeFileSync(join(dir, 'marker.txt'), `${token}\n`)
  chmodSync(join(dir, 'marker.txt'), 0o644)
  return { dir, token }
}

/** The guest script an agent runs: rewrite the manifest in its own workdir (`cat >`: the file it can write). */
const editManifest = (manifest: string): string => `cat > bottle.yaml <<'EOF'\n${manifest}EOF\necho edited`

/** A guest script that prints what the edits would have given it. */
const probe = (target: string, port: number | null): string =>
  [
    `echo "pwd=$(pwd)"`,
    `cat ${target}/marker.txt 2>/dev/null || echo "marker=unreadable"`,
    'echo "secret=${SOME_SECRET-unset}"',
    'echo "injected=${INJECTED-unset}"',
    'echo "preload=${LD_PRELOAD-unset}"',
    ...(port === null ? [] : [`bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3' 2>/dev/null || echo "listener=unreachable"`]),
    'echo done',
  ].join('\n')

/** A host listener on 127.0.0.1 that answers every connection with its argument; prints its port. */
const listener = "const s = require('node:net').createServer((c) => c.end(process.argv[1] + '\\n')); s.listen(0, '127.0.0.1', () => console.log(s.address().port))"

const run = (cwd: string, env: Record<string, string>, args: readonly string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

// -------------------------------------------------------------------------------------------------
// bwrap
// -------------------------------------------------------------------------------------------------

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('the agent edits bottle.yaml, on real bwrap', () => {
  // Under /var/tmp: every sandbox has a fresh tmpfs there, so only a bind could show it.
  const root = mkdtempSync('/var/tmp/bottle-manifest-')
  const target = hostTarget(root)
  const secret = `s3cret-${randomBytes(12).toString('base64url')}`
  const injected = `injected-${randomBytes(6).toString('hex')}`
  const greeting = `hello-from-the-host-${randomBytes(6).toString('hex')}`
  // The agent is sh: `bottle run agent victim -- -c SCRIPT` runs a probe as the agent would run.
  const ws = workspace(root, 'backend: bwrap\nbottles:\n  victim:\n    agent: sh\n')
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: join(root, 'state'), SOME_SECRET: secret }
  const bottle = (args: readonly string[]) => run(ws, env, args)
  const edited = (name: string) =>
    ['backend: bwrap', 'bottles:', `  ${name}:`, '    agent: sh', `    workdir: ${target.dir}`, '    network: host', '    secrets: [SOME_SECRET]', `    env: {INJECTED: ${injected}}`, ''].join('\n')
  let server: ChildProcess
  let port = 0

  beforeAll(async () => {
    // A process of its own: the tests below block this one's event loop while bottle runs.
    server = spawn(process.execPath, ['-e', listener, greeting], { stdio: ['ignore', 'pipe', 'inherit'] })
    port = await new Promise<number>((resolve, reject) => {
      server.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
      server.once('exit', () => reject(new Error('the host listener exited')))
    })
  })
  afterAll(() => {
    server.kill()
    rmSync(root, { recursive: true, force: true })
  })

  /** The next ordinary exec after the edit: what the guest saw, and what bottle said. */
  let after: { status: number | null; stdout: string; stderr: string }

  it('launches the victim, whose agent rewrites bottle.yaml in its workdir', () => {
    expect(bottle(['run', 'launch', 'victim', '-q'])).toMatchObject({ status: 0, stderr: '' })
    const r = bottle(['run', 'exec', 'victim', editManifest(edited('victim'))])
    expect(r).toMatchObject({ status: 0, stdout: 'edited\n' })
    // The edit landed on the host, where the next command reads its manifest.
    expect(readFileSync(join(ws, 'bottle.yaml'), 'utf8')).toBe(edited('victim'))
    after = bottle(['run', 'exec', 'victim', probe(target.dir, port)])
    expect(after.status).toBe(0)
    expect(after.stdout).toMatch(/done\n$/)
  })

  it('CONTROL: a bottle launched from the edited manifest gets the host directory, the listener, the secret and the env', () => {
    writeFileSync(join(root, 'control.yaml'), edited('control'))
    expect(bottle(['run', 'launch', 'control', '-q', '-f', join(root, 'control.yaml')])).toMatchObject({ status: 0, stderr: '' })
    try {
      const r = bottle(['run', 'exec', 'control', '-f', join(root, 'control.yaml'), probe(target.dir, port)])
      expect(r.status).toBe(0)
      expect(r.stdout).toContain(`pwd=${target.dir}\n`)
      expect(r.stdout).toContain(`${target.token}\n`)
      expect(r.stdout).toContain(`${greeting}\n`)
      expect(r.stdout).toContain(`secret=${secret}\n`)
      expect(r.stdout).toContain(`injected=${injected}\n`)
    } finally {
      expect(bottle(['run', 'down', 'control', '-q', '-f', join(root, 'control.yaml')])).toMatchObject({ status: 0 })
    }
  })

  it('the next exec warns of drift, and runs with the launch record', () => {
    expect(after.stderr).toMatch(/^bottle: drift: victim /m)
    expect(after.stdout).toContain(`pwd=${ws}\n`)
  })

  it('workdir: the host directory is not reachable', () => {
    expect(after.stdout).toContain('marker=unreadable\n')
    expect(after.stdout).not.toContain(target.token)
  })

  it('network: host: the host listener on 127.0.0.1 is unreachable', () => {
    expect(after.stdout).toContain('listener=unreachable\n')
    expect(after.stdout).not.toContain(greeting)
  })

  it('secrets: the secret set in the host env is absent from the guest env, and from what bottle wrote', () => {
    expect(after.stdout).toContain('secret=unset\n')
    expect(after.stdout + after.stderr).not.toContain(secret)
  })

  it('env: the added entry is absent from the guest env', () => {
    expect(after.stdout).toContain('injected=unset\n')
  })

  it('the agent op likewise: none of the edits reach the agent', () => {
    const r = bottle(['run', 'agent', 'victim', '--no-tty', '--', '-c', probe(target.dir, port)])
    expect(r.status).toBe(0)
    expect(r.stderr).toMatch(/^bottle: drift: victim /m)
    for (const line of [`pwd=${ws}`, 'marker=unreadable', 'listener=unreachable', 'secret=unset', 'injected=unset']) expect(r.stdout).toContain(`${line}\n`)
    expect(r.stdout + r.stderr).not.toContain(secret)
  })

  it('takes the victim down', () => {
    expect(bottle(['run', 'down', 'victim', '-q'])).toMatchObject({ status: 0 })
  })
})

// -------------------------------------------------------------------------------------------------
// docker
// -------------------------------------------------------------------------------------------------

const engine = findEngine('docker')
if (typeof engine === 'string') {
  if (enginesRequired)
    it(`docker engine is required (BOTTLE_REQUIRE_ENGINES=1) but ${engine}`, () => {
      throw new Error(`docker: ${engine} (env file ${envFile})`)
    })
  else it.skip(`the agent edits bottle.yaml, on a real docker engine: skipped, ${engine}`, () => {})
} else
  describe('the agent edits bottle.yaml, on a real docker engine', { timeout: 180_000 }, () => {
    const root = mkdtempSync(join(tmpdir(), 'bottle-manifest-docker-'))
    const target = hostTarget(root)
    chmodSync(root, 0o755)
    const victim = `bt-${tag}-victim`
    const control = `bt-${tag}-control`
    const secret = `s3cret-${randomBytes(12).toString('base64url')}`
    const injected = `injected-${randomBytes(6).toString('hex')}`
    const ws = workspace(root, `backend: docker\nbottles:\n  ${victim}:\n    image: ${engine.image}\n`)
    const preloaded = join(root, 'preload-fired')
    const withPreload = onPath('gcc', process.env.PATH) || process.env.CI !== undefined
    const so = join(ws, 'evil.so')
    const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state'), SOME_SECRET: secret }
    const bottle = (args: readonly string[]) => run(ws, env, args)
    // With or without the workdir: docker exec -w into a directory the container does not have
    // fails (126), which would hide whether the secret and env got in; so they are tried apart.
    const edited = (name: string, workdir: boolean) =>
      [
        'backend: docker', 'bottles:', `  ${name}:`, `    image: ${engine.image}`, ...(workdir ? [`    workdir: ${target.dir}`] : []), '    network: host',
        '    secrets: [SOME_SECRET]', `    env: {INJECTED: ${injected}, LD_PRELOAD: ${so}}`,
        // The launch's install step gets the bottle's env, so its ld.so would warn on stderr
        // about the preload that is not in the container; the image has its agent anyway.
        '    provision: false', '',
      ].join('\n')
    const inspect = (name: string) => {
      const r = client(engine, ['container', 'inspect', '--format', '{{json .}}', name])
      expect(r.status).toBe(0)
      return JSON.parse(r.stdout) as { HostConfig: { NetworkMode: string }; Mounts: { Source: string }[]; Config: { Env: string[] } }
    }
    let after: { status: number | null; stdout: string; stderr: string }

    afterAll(() => {
      client(engine, ['rm', '-f', victim, control])
      rmSync(root, { recursive: true, force: true })
    }, 180_000)

    it('launches the victim, whose agent rewrites bottle.yaml in its workdir; the next exec warns of drift', () => {
      // What an agent could build with a compiler: a shared object that marks a host file when loaded.
      writeFileSync(join(root, 'evil.c'), `#include <stdio.h>\n__attribute__((constructor)) static void fire(void) { FILE *f = fopen("${preloaded}", "a"); if (f) { fputs("fired\\n", f); fclose(f); } }\n`)
      // Without gcc (outside CI, which has it) the preload part checks nothing: there is no .so.
      if (withPreload) expect(spawnSync('gcc', ['-shared', '-fPIC', '-o', so, join(root, 'evil.c')]).status).toBe(0)
      expect(bottle(['run', 'launch', victim, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const r = bottle(['run', 'exec', victim, editManifest(edited(victim, false))])
      expect(r).toMatchObject({ status: 0, stdout: 'edited\n' })
      expect(readFileSync(join(ws, 'bottle.yaml'), 'utf8')).toBe(edited(victim, false))
      after = bottle(['run', 'exec', victim, probe(target.dir, null)])
      expect(after.status).toBe(0)
      expect(after.stdout).toMatch(/done\n$/)
      expect(after.stderr).toMatch(new RegExp(`^bottle: drift: ${victim} `, 'm'))
      expect(after.stdout).toContain(`pwd=${ws}\n`)
    })

    it('CONTROL: a bottle launched from the edited manifest has the directory bound, the host network, the secret and the env; the preload fires in a plain host process', () => {
      if (withPreload) {
        spawnSync('/bin/true', { env: { ...process.env, LD_PRELOAD: so } })
        expect(existsSync(preloaded)).toBe(true)
        rmSync(preloaded)
      }
      writeFileSync(join(root, 'control.yaml'), edited(control, true))
      expect(bottle(['run', 'launch', control, '-q', '-f', join(root, 'control.yaml')])).toMatchObject({ status: 0, stderr: '' })
      const r = bottle(['run', 'exec', control, '-f', join(root, 'control.yaml'), probe(target.dir, null)])
      expect(r.stdout).toContain(`${target.token}\n`)
      expect(r.stdout).toContain(`secret=${secret}\n`)
      expect(r.stdout).toContain(`injected=${injected}\n`)
      const c = inspect(control)
      expect(c.HostConfig.NetworkMode).toBe('host')
      expect(c.Mounts.map((m) => m.Source)).toContain(target.dir)
      expect(bottle(['run', 'down', control, '-q', '-f', join(root, 'control.yaml')])).toMatchObject({ status: 0 })
    })

    it('workdir and network: fixed at launch; the next exec runs in the launch workdir; the container binds only it, on its own network', () => {
      expect(bottle(['run', 'exec', victim, editManifest(edited(victim, true))])).toMatchObject({ status: 0, stdout: 'edited\n' })
      const r = bottle(['run', 'exec', victim, probe(target.dir, null)])
      expect(r.status).toBe(0)
      expect(r.stderr).toMatch(new RegExp(`^bottle: drift: ${victim} `, 'm'))
      expect(r.stdout).toContain(`pwd=${ws}\n`)
      expect(r.stdout).toContain('marker=unreadable\n')
      expect(r.stdout).not.toContain(target.token)
      const v = inspect(victim)
      // The workdir, and the directory of its egress proxy's socket (the bottle has no network key).
      // (docker inspect lists mounts in no set order.)
      expect(v.Mounts.map((m) => m.Source).sort()).toStrictEqual([ws, join(root, 'state', 'bottle', 'docker', victim, 'egress', 'sock')].sort())
      expect(v.HostConfig.NetworkMode).not.toBe('host')
    })

    it('secrets: absent from the guest env, from the container, and from what bottle wrote', () => {
      expect(after.stdout).toContain('secret=unset\n')
      expect(after.stdout + after.stderr).not.toContain(secret)
      expect(JSON.stringify(inspect(victim))).not.toContain(secret)
    })

    it('env: neither INJECTED nor LD_PRELOAD reaches the guest, and no host process (the docker client) loads the preload', () => {
      expect(after.stdout).toContain('injected=unset\n')
      expect(after.stdout).toContain('preload=unset\n')
      expect(existsSync(preloaded)).toBe(false)
    })

    it('the agent op likewise: the agent (a stand-in that prints its env) gets neither the secret nor the env', () => {
      const r = bottle(['run', 'agent', victim, '--no-tty'])
      expect(r.status).toBe(0)
      expect(r.stderr).toMatch(new RegExp(`^bottle: drift: ${victim} `, 'm'))
      expect(r.stdout).toContain(`cwd=${ws}\n`)
      expect(r.stdout).toContain('env:HOME=')
      expect(r.stdout).not.toMatch(/^env:(SOME_SECRET|INJECTED|LD_PRELOAD)=/m)
      expect(r.stdout + r.stderr).not.toContain(secret)
      expect(existsSync(preloaded)).toBe(false)
    })

    it('takes the victim down', () => {
      expect(bottle(['run', 'down', victim, '-q'])).toMatchObject({ status: 0 })
    })
  })
