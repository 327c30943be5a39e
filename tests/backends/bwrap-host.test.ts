/**
 * What bwrap reads of the host (src/backends/bwrap-host.ts, its hostFacts): passwd lookup, the
 * allow-listed system directories of a rootfs, which of them to scan for what only root may read, and whether a
 * bottle's state directory is still what launch made.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePasswd, readBwrapFacts } from '../../src/backends/bwrap-host.js'
import { readSurroundings } from '../../src/host.js'

const dir = mkdtempSync(join(tmpdir(), 'bottle-bwrap-host-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

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

  // Whoever runs the tests: the uid is a fact of the surroundings, so both cases run as any user.
  const as = (uid: number, name: string | null) => readBwrapFacts({ ...readSurroundings(env), uid }, name === null ? null : { name, image: rootfs, users: ['alice'] })

  it('as root: the system directories each sandbox scans for what only root may read: all but /usr', () => {
    expect(as(0, 'x').rootOnlyScan).toStrictEqual(['/etc'])
    // No bottle named: no sandbox, nothing to scan.
    expect(as(0, null).rootOnlyScan).toStrictEqual([])
  })

  it('not as root: nothing to scan (the guest cannot read what others cannot)', () => {
    expect(as(1000, 'x').rootOnlyScan).toStrictEqual([])
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
