/**
 * The edge's helpers that turn host state into facts: the XDG state directory and
 * auto-detection's "usable" test (bwrap's own readers: tests/backends/bwrap-host.test.ts), plus the CLI saying in the plan which backend it chose and why.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../src/cli.js'
import { backends } from '../src/backends/index.js'
import { ownTmuxPane, stateHome, unusable, which } from '../src/host.js'

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

describe('ownTmuxPane', () => {
  it('is $TMUX_PANE inside tmux, and null outside it or when the value is not a pane id', () => {
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0', TMUX_PANE: '%7' })).toBe('%7')
    expect(ownTmuxPane({ TMUX_PANE: '%7' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '', TMUX_PANE: '%7' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0', TMUX_PANE: 'main:0.1' })).toBeNull()
    expect(ownTmuxPane({ TMUX: '/tmp/tmux-0/default,123,0' })).toBeNull()
  })
})
