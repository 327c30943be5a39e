/**
 * The edge's helpers that turn host state into facts: passwd lookup, the XDG state directory,
 * and auto-detection's "usable" test, plus the CLI saying in the plan which backend it chose and why.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../src/cli.js'
import { parsePasswd, readBwrapFacts } from '../src/backends/bwrap-host.js'
import { backends } from '../src/backends/index.js'
import { ownTmuxPane, readSurroundings, stateHome, unusable, which } from '../src/host.js'

const dir = mkdtempSync(join(tmpdir(), 'bottle-host-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A directory holding executables of these names, to stand in for a PATH. */
const pathWith = (name: string, binaries: readonly string[]): string => {
  const bin = join(dir, name)
  mkdirSync(bin)
  for (const b of binaries) {
    writeFileSync(join(bin, b), '#!/bin/sh\nexit 0\n')
    chmodSync(join(bin, b), 0o755)
  }
  return bin
}

describe('parsePasswd', () => {
  const text = 'root:x:0:0:root:/root:/bin/bash\nnode:x:1001:1002::/home/node:/bin/sh\nbroken:x:abc:1\n\nnode:x:7:7::/:/bin/sh\n'

  it('gives the ids of the named users only; the first entry wins; malformed lines are skipped', () => {
    expect({ ...parsePasswd(text, ['node', 'broken', 'nobody']) }).toStrictEqual({ node: { uid: 1001, gid: 1002 } })
  })

  it('a user named like an Object member is no account unless listed', () => {
    const accounts = parsePasswd(text, ['constructor', 'toString', '__proto__'])
    for (const name of ['constructor', 'toString', '__proto__']) expect(accounts[name]).toBeUndefined()
  })
})

describe('stateHome', () => {
  it.each([
    [{ XDG_STATE_HOME: '/x/state', HOME: '/h' }, '/x/state'],
    [{ HOME: '/h' }, '/h/.local/state'],
    // The XDG spec: a relative path is invalid and is ignored.
    [{ XDG_STATE_HOME: 'state', HOME: '/h' }, '/h/.local/state'],
  ])('%j → %s', (env, expected) => {
    expect(stateHome(env)).toBe(expected)
  })
})

describe('which and unusable', () => {
  const bin = pathWith('some', ['bwrap', 'docker'])

  it('finds an executable by absolute path, and skips relative PATH entries', () => {
    expect(which('bwrap', `relative:${bin}`)).toBe(join(bin, 'bwrap'))
    expect(which('bwrap', 'relative')).toBeNull()
  })

  it('a backend whose binary is missing is unusable, and says so', () => {
    expect(unusable(backends.smolvm, { PATH: bin })).toBe('smolvm is not on PATH')
    expect(unusable(backends.bwrap, { PATH: bin })).toBeNull()
  })

  it('docker with DOCKER_HOST set is trusted to reach its engine', () => {
    expect(unusable(backends.docker, { PATH: bin, DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toBeNull()
  })
})

describe('the plan says which backend was chosen, and why', () => {
  const run = async (args: string[], env: Record<string, string>) => {
    const out: string[] = []
    const err: string[] = []
    const code = await main(args, { out: (t) => out.push(t), err: (l) => err.push(l), env })
    return { code, out: out.join(''), err: err.join('\n') }
  }

  it('falls back to bwrap when neither smolvm nor docker is on PATH', async () => {
    const r = await run(['plan', 'down', 'demo'], { PATH: pathWith('only-bwrap', ['bwrap']), HOME: '/h', XDG_STATE_HOME: '/x' })
    expect(r.code).toBe(0)
    expect(r.out).toContain('note: backend bwrap: auto-detected: smolvm is not on PATH; docker is not on PATH; podman is not on PATH; bwrap is usable')
    expect(r.out).toContain('rm -rf -- /x/bottle/bwrap/demo')
  })

  it('with none usable: one line naming each reason and how to get bwrap, exit 2', async () => {
    const r = await run(['plan', 'down', 'demo'], { PATH: pathWith('empty', []), HOME: '/h' })
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'bottle: no usable backend: smolvm is not on PATH; docker is not on PATH; podman is not on PATH; bwrap is not on PATH; install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap), or pass -b',
    )
  })
})

describe('readBwrapFacts: the root filesystem and the state directory, as the sandbox will use them', () => {
  const rootfs = join(dir, 'rootfs')
  mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true })
  mkdirSync(join(rootfs, 'etc', 'ssl', 'private'), { recursive: true })
  mkdirSync(join(rootfs, 'etc', 'ssh'), { recursive: true })
  symlinkSync('usr/bin', join(rootfs, 'bin'))
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1500:1500::/home/alice:/bin/sh\n')
  writeFileSync(join(rootfs, 'etc', 'shadow'), 'root:$6$hash:::::::\n', { mode: 0o640 })
  writeFileSync(join(rootfs, 'etc', 'ssh', 'ssh_host_ed25519_key'), 'key\n', { mode: 0o600 })
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'box\n', { mode: 0o644 })
  chmodSync(join(rootfs, 'etc', 'ssl', 'private'), 0o700)
  // A file inside a 0700 directory is covered by the directory's mask, not listed on its own.
  writeFileSync(join(rootfs, 'etc', 'ssl', 'private', 'server.key'), 'key\n', { mode: 0o600 })
  const state = join(dir, 'xdg')
  const env = { XDG_STATE_HOME: state, HOME: '/home/me', PATH: process.env.PATH }
  const facts = (name: string) => readBwrapFacts(readSurroundings(env), { name, image: rootfs, users: ['alice'] })

  it('lists the allow-listed directories the rootfs has, symlinks as symlinks', () => {
    expect(facts('x').system).toStrictEqual([
      { path: '/usr', kind: 'dir' },
      { path: '/bin', kind: 'symlink', target: 'usr/bin' },
      { path: '/etc', kind: 'dir' },
    ])
    expect(facts('x').stateRoot).toBe(join(state, 'bottle'))
    expect({ ...facts('x').bottle?.accounts }).toStrictEqual({ alice: { uid: 1500, gid: 1500 } })
    // No prototype: a user named constructor finds no Object member.
    expect(Object.getPrototypeOf(facts('x').bottle?.accounts)).toBe(null)
  })

  it.skipIf(process.geteuid?.() !== 0)('as root: every file others cannot read and every directory they cannot enter, as guest paths', () => {
    expect(facts('x').rootOnly).toStrictEqual({ files: ['/etc/shadow', '/etc/ssh/ssh_host_ed25519_key'].sort(), dirs: ['/etc/ssl/private'] })
  })

  it('a state directory whose home or prompt was replaced by a symlink is unsafe; a sound one is not', () => {
    const sound = join(state, 'bottle', 'bwrap', 'sound')
    mkdirSync(join(sound, 'home'), { recursive: true })
    writeFileSync(join(sound, 'system-prompt.md'), 'prompt\n')
    expect(facts('sound').bottle).toMatchObject({ launched: true, promptInstalled: true, unsafe: null })
    const planted = join(state, 'bottle', 'bwrap', 'planted')
    mkdirSync(planted, { recursive: true })
    symlinkSync('/etc', join(planted, 'home'))
    expect(facts('planted').bottle?.unsafe).toBe(`${planted}/home is not a directory (a symlink or a file was put in its place)`)
    const prompt = join(state, 'bottle', 'bwrap', 'prompt')
    mkdirSync(join(prompt, 'home'), { recursive: true })
    symlinkSync('/etc/hostname', join(prompt, 'system-prompt.md'))
    expect(facts('prompt').bottle).toMatchObject({
      promptInstalled: false,
      unsafe: `${prompt}/system-prompt.md is not a regular file (a symlink or something else was put in its place)`,
    })
  })
})

describe('ownTmuxPane', () => {
  it('is $TMUX_PANE inside tmux, and null outside it or when the value is not a pane id', () => {
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0', TMUX_PANE: '%7' })).toBe('%7')
    expect(ownTmuxPane({ TMUX_PANE: '%7' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '', TMUX_PANE: '%7' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0', TMUX_PANE: 'main:0.1' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0' })).toBeNull()
  })
})
