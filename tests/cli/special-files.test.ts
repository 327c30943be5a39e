/**
 * Manifest and prompt files, and cp sources, that are not regular files: a FIFO (which blocks a
 * reader until a writer comes), a device (/dev/zero never ends; /dev/null would be copied as a
 * device node), or a file past the size limit. Each is one line and exit 2, promptly, with
 * nothing run. Through the built CLI with a time limit, so a hang fails the test instead of
 * stalling it.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { manifestLimit, promptLimit } from '../../src/host.js'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const work = mkdtempSync(join(tmpdir(), 'bottle-special-'))
// Home and state apart from the workdir, which may contain neither.
const apart = mkdtempSync(join(tmpdir(), 'bottle-special-home-'))
afterAll(() => {
  rmSync(work, { recursive: true, force: true })
  rmSync(apart, { recursive: true, force: true })
})
const fifo = join(work, 'fifo')
expect(spawnSync('mkfifo', [fifo]).status).toBe(0)

const bottle = (args: readonly string[]) => {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: apart, XDG_STATE_HOME: join(apart, 'state') }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: work, env, encoding: 'utf8', timeout: 20_000 })
  return { status: r.status, stderr: r.stderr, stdout: r.stdout }
}

describe('files that are not regular files, or too large', () => {
  // cp plans on a launched bottle: its launch record, as launch would write it.
  writeRecordOf(JSON.parse(bottle(['plan', 'launch', 'copied', '-b', 'docker', '--format', 'json']).stdout) as Plan)

  it.each([
    ['-f FIFO', ['plan', 'agent', 'demo', '-b', 'docker', '-f', 'fifo'], 'bottle: manifest "fifo" is a FIFO, not a regular file'],
    ['-f /dev/zero', ['plan', 'agent', 'demo', '-b', 'docker', '-f', '/dev/zero'], 'bottle: manifest "/dev/zero" is a device, not a regular file'],
    ['ls -f FIFO', ['ls', '-b', 'bwrap', '-f', 'fifo'], 'bottle: manifest "fifo" is a FIFO, not a regular file'],
    ['--prompt FIFO', ['plan', 'launch', 'demo', '-b', 'bwrap', '--prompt', 'fifo'], `bottle: prompt file ${JSON.stringify(fifo)} is a FIFO, not a regular file`],
    ['--prompt /dev/zero', ['plan', 'launch', 'demo', '-b', 'docker', '--prompt', '/dev/zero'], 'bottle: prompt file "/dev/zero" is a device, not a regular file'],
    ['--prompt /dev/null', ['run', 'launch', 'demo', '-b', 'bwrap', '--prompt', '/dev/null'], 'bottle: prompt file "/dev/null" is a device, not a regular file'],
    ['cp from a FIFO', ['plan', 'cp', 'copied', 'fifo', '/tmp/x', '-b', 'docker'], `bottle: source ${JSON.stringify(fifo)} is not a regular file or a directory (a FIFO, a device or a socket): bottle copies only those`],
  ])('%s: one line, exit 2, at once', (_, args, line) => {
    const r = bottle(args)
    expect({ status: r.status, stderr: r.stderr }).toStrictEqual({ status: 2, stderr: `${line}\n` })
  })

  it('a prompt that is a symbolic link (one the agent could plant in its workdir) is refused; its target is fine', () => {
    const target = join(apart, 'host-secret.md')
    writeFileSync(target, 'not for the bottle\n')
    symlinkSync(target, join(work, 'linked-prompt.md'))
    expect(bottle(['run', 'launch', 'demo', '-b', 'bwrap', '--prompt', 'linked-prompt.md'])).toMatchObject({
      status: 2,
      stderr: `bottle: prompt file ${JSON.stringify(join(work, 'linked-prompt.md'))} is a symbolic link: name the file itself (a link in a directory the agent can write could point at any host file)\n`,
    })
    expect(bottle(['plan', 'launch', 'demo', '-b', 'docker', '--prompt', target]).status).toBe(0)
  })

  it('a manifest one byte over the limit is refused; one at the limit is read', () => {
    writeFileSync(join(work, 'big.yaml'), `bottles: {}\n${'#'.repeat(manifestLimit - 12)}`)
    expect(bottle(['plan', 'ls', '-b', 'docker', '-f', 'big.yaml']).status).toBe(0)
    expect(bottle(['run', 'ls', '-b', 'bwrap', '-f', 'big.yaml']).stderr).toBe('')
    writeFileSync(join(work, 'big.yaml'), `bottles: {}\n${'#'.repeat(manifestLimit - 11)}`)
    expect(bottle(['run', 'ls', '-b', 'bwrap', '-f', 'big.yaml'])).toMatchObject({
      status: 2,
      stderr: `bottle: manifest "big.yaml" is ${manifestLimit + 1} bytes, more than the 1 MiB bottle reads\n`,
    })
  })

  it('a prompt file over the limit is refused before anything runs', () => {
    writeFileSync(join(work, 'prompt.md'), 'x'.repeat(promptLimit + 1))
    expect(bottle(['run', 'launch', 'demo', '-b', 'bwrap', '--prompt', 'prompt.md'])).toMatchObject({
      status: 2,
      stderr: `bottle: prompt file ${JSON.stringify(join(work, 'prompt.md'))} is ${promptLimit + 1} bytes, more than the 4 MiB a prompt file may be\n`,
    })
    writeFileSync(join(work, 'prompt.md'), 'be brief')
    expect(bottle(['plan', 'launch', 'demo', '-b', 'bwrap', '--prompt', 'prompt.md']).status).toBe(0)
  })
})
