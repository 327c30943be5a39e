/**
 * Provisioning on the real docker engine, with the REAL Claude Code (2.1.197, the npm packs that
 * scripts/test-engines.sh caches in $BOTTLE_TEST_CLAUDE_CODE), offline:
 * - an image with node and npm but no `claude` (derived from the test image, cached by tag): the
 *   default install runs the image's real npm, `npm install -g @anthropic-ai/claude-code`, against
 *   a registry on a host loopback address that serves the packs (the bottle's env points npm at it,
 *   `provision_allow` lets it through the door while provisioning); then `claude --version` in the
 *   bottle says 2.1.197, `claude -p` says "Not logged in", and the registry is refused (403) once
 *   the launch is over;
 * - an image with neither claude nor npm: launch fails with one line and leaves no container.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, client, enginesRequired, envFile, findEngine } from './engines.js'

const dist = join(import.meta.dirname, '..', '..', 'dist')

/** $BOTTLE_TEST_CLAUDE_CODE from the engines' env file (or the test's env): the packs' directory, or why not. */
const claudeCodePacks = (): string[] | string => {
  let dir = process.env.BOTTLE_TEST_CLAUDE_CODE
  if (dir === undefined && existsSync(envFile))
    dir = readFileSync(envFile, 'utf8').split('\n').find((l) => l.startsWith('BOTTLE_TEST_CLAUDE_CODE='))?.slice('BOTTLE_TEST_CLAUDE_CODE='.length)
  if (dir === undefined || dir === '') return `${envFile} sets no BOTTLE_TEST_CLAUDE_CODE: run scripts/test-engines.sh start`
  const packs = join(dir, 'packs')
  const tgz = existsSync(packs) ? readdirSync(packs).filter((f) => f.endsWith('.tgz')).map((f) => join(packs, f)) : []
  return tgz.length >= 2 ? tgz : `${packs} does not hold the Claude Code packs: run scripts/test-engines.sh start`
}

/** An image derived from the engine's test image by a script run in it as root, committed once under `tag`. */
const derivedImage = (engine: Engine, tag: string, script: string, copies: readonly [string, string][] = []): string => {
  if (client(engine, ['image', 'inspect', tag]).status === 0) return tag
  const box = `bottle-derive-${randomBytes(3).toString('hex')}`
  const must = (args: string[]) => {
    const r = client(engine, args)
    if (r.status !== 0) throw new Error(`${engine.name} ${args.join(' ')}: ${r.stderr.trim()}`)
  }
  try {
    must(['run', '-d', '--name', box, '--network', 'none', '--entrypoint', 'sleep', engine.image, 'infinity'])
    // docker cp makes the last component only: the parents first.
    if (copies.length > 0) must(['exec', '-u', 'root', box, 'mkdir', '-p', ...copies.map(([, to]) => to.replace(/\/[^/]*$/, ''))])
    for (const [from, to] of copies) must(['cp', from, `${box}:${to}`])
    must(['exec', '-u', 'root', box, '/bin/sh', '-c', script])
    must(['commit', box, tag])
  } finally {
    client(engine, ['rm', '-f', box])
  }
  return tag
}

/** The host's npm (the directory npm-cli.js is in, two levels up), to copy into an image. */
const hostNpm = (): string => {
  const r = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' })
  return join(r.stdout.trim(), 'npm')
}

/**
 * A registry of the packs: a packument per package name (the wrapper's optional platform packages
 * it has no pack for are listed for another os, so npm skips them as it does off their platform),
 * and the tarballs. Every request is logged: the install must have come through here.
 */
const packRegistry = (packs: readonly string[], log: string[]): { server: Server; base: (port: number) => string } => {
  const byName = new Map<string, { manifest: Record<string, unknown>; file: string; shasum: string; integrity: string }>()
  for (const file of packs) {
    const manifest = JSON.parse(spawnSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8', maxBuffer: 1 << 20 }).stdout) as Record<string, unknown>
    const data = readFileSync(file)
    byName.set(manifest.name as string, {
      manifest, file,
      shasum: createHash('sha1').update(data).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
    })
  }
  let baseUrl = ''
  const packument = (name: string): Record<string, unknown> | null => {
    const known = byName.get(name)
    const wrapper = [...byName.values()].find((p) => Object.hasOwn((p.manifest.optionalDependencies ?? {}) as object, name))
    if (known === undefined && wrapper === undefined) return null
    const version = known?.manifest.version ?? (wrapper?.manifest.optionalDependencies as Record<string, string>)[name]
    const manifest = known?.manifest ?? { name, version, os: ['none'], cpu: ['none'] }
    const dist = known === undefined
      ? { tarball: `${baseUrl}missing.tgz` }
      : { tarball: `${baseUrl}tarballs/${encodeURIComponent(name)}.tgz`, shasum: known.shasum, integrity: known.integrity }
    return { name, 'dist-tags': { latest: version }, versions: { [version as string]: { ...manifest, dist } } }
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').replace(/^https?:\/\/[^/]+/, ''))
    log.push(path)
    const tarball = /^\/tarballs\/(.+)\.tgz$/.exec(path)
    if (tarball !== null) {
      const p = byName.get(tarball[1] as string)
      if (p === undefined) return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      return void res.end(readFileSync(p.file))
    }
    const doc = packument(path.slice(1))
    if (doc === null) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc))
  })
  return { server, base: (port) => (baseUrl = `http://127.0.0.2:${port}/`) }
}

/** node in the guest: GET URL through $HTTP_PROXY, print `STATUS` or the error code. */
const viaProxy = (url: string) =>
  `node -e 'const p=new URL(process.env.HTTP_PROXY);require("http").get({host:p.hostname,port:p.port,path:process.argv[1]},(r)=>{console.log(r.statusCode);r.resume()}).on("error",(e)=>console.log(e.code))' ${url}`

const found = findEngine('docker')
const packs = claudeCodePacks()
const missing = typeof found === 'string' ? found : typeof packs === 'string' ? packs : null

if (missing !== null) {
  if (enginesRequired)
    it(`provisioning the real agent on docker is required (BOTTLE_REQUIRE_ENGINES=1) but ${missing}`, () => {
      throw new Error(missing)
    })
  else it.skip(`provisioning the real agent on docker: skipped, ${missing}`, () => {})
} else {
  const engine = found as Engine
  const root = mkdtempSync(join(tmpdir(), 'bottle-provision-docker-'))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  const tag = randomBytes(3).toString('hex')
  const installs = `bp-${tag}-install`
  const bare = `bp-${tag}-bare`
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state') }
  const bottle = (args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((done) => {
      const child = spawn(process.execPath, [join(dist, 'bottle.js'), ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('close', (status) => done({ status, stdout, stderr }))
    })
  const log: string[] = []
  const registry = packRegistry(packs as string[], log)
  let registryUrl = ''
  // The base image's tag names what the derived ones come from: a new test image, new derived ones.
  const baseTag = engine.image.replace(/^.*:/, '')
  let withNpm = ''
  let withoutAgent = ''

  beforeAll(async () => {
    const port = await new Promise<number>((ok) => registry.server.listen(0, '127.0.0.2', () => ok((registry.server.address() as { port: number }).port)))
    registryUrl = registry.base(port)
    withNpm = derivedImage(engine, `bottle-test-npm:${baseTag}`, 'rm -f /usr/local/bin/claude && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && npm --version', [
      [hostNpm(), '/usr/local/lib/node_modules/npm'],
    ])
    withoutAgent = derivedImage(engine, `bottle-test-noagent:${baseTag}`, 'rm -f /usr/local/bin/claude')
    writeFileSync(join(ws, 'bottle.yaml'), [
      'backend: docker',
      'bottles:',
      `  ${installs}:`,
      `    image: ${withNpm}`,
      // npm's own settings, as a user with a registry mirror would give them: plain env reaches the provision steps.
      `    env: {npm_config_registry: "${registryUrl}", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false"}`,
      `    provision_allow: ["127.0.0.2:${port}"]`,
      // A script runs after the install, as root: it finds the agent the install put there.
      '    provision: ["claude --version > /opt/claude-version-at-provision && id -u >> /opt/claude-version-at-provision"]',
      `  ${bare}:`,
      `    image: ${withoutAgent}`,
      '    network: open',
      '',
    ].join('\n'))
  }, 300_000)

  afterAll(async () => {
    registry.server.close()
    for (const n of [installs, bare]) await bottle(['run', 'down', n, '-q'])
    rmSync(root, { recursive: true, force: true })
  })

  describe('provision on the real docker engine, with the real Claude Code', () => {
    it('launch installs claude with the image\'s npm through the door; claude runs; the registry is closed after launch', async () => {
      const launched = await bottle(['run', 'launch', installs])
      expect(launched.stderr + launched.stdout).toContain('claude is not in the image: npm install -g @anthropic-ai/claude-code')
      expect(launched.status).toBe(0)
      // The install came through the registry, through the proxy, during the launch.
      expect(log).toContain('/@anthropic-ai/claude-code')
      expect(log).toContain('/tarballs/@anthropic-ai/claude-code-linux-x64.tgz')
      const version = await bottle(['run', 'exec', installs, 'claude --version'])
      expect(version.stdout.trim()).toBe('2.1.197 (Claude Code)')
      expect((await bottle(['run', 'exec', installs, 'cat /opt/claude-version-at-provision'])).stdout).toBe('2.1.197 (Claude Code)\n0\n')
      const noLogin = await bottle(['run', 'exec', installs, 'claude -p hi </dev/null'])
      expect(noLogin.stdout + noLogin.stderr).toContain('Not logged in')
      expect(noLogin.status).toBe(1)
      const after = await bottle(['run', 'exec', installs, viaProxy(`${registryUrl}@anthropic-ai%2fclaude-code`)])
      expect(after.stdout.trim()).toBe('403')
    }, 600_000)

    it('an image with neither claude nor npm: launch fails with the one line, exit 127, and leaves no container', async () => {
      const r = await bottle(['run', 'launch', bare])
      expect(r.stderr).toContain('bottle: the image has neither claude nor npm to install it: add claude to the image (npm install -g @anthropic-ai/claude-code), or node and npm so that launch installs it\n')
      expect(r.status).toBe(127)
      expect(client(engine, ['container', 'inspect', bare]).status).not.toBe(0)
      expect(existsSync(join(root, 'state', 'bottle', 'docker', bare, 'record.json'))).toBe(false)
    }, 300_000)
  })
}
