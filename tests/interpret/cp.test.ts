/**
 * cp, from the built executable (node dist/bottle.js) against stand-in smolvm and docker
 * executables (tests/standins; not the real tools), whose guest file system is a directory. The
 * host-side steps (smolvm's tar and staging copies) are real `tar`, `cp` and `rm` runs; TMPDIR
 * points into the sandbox, so what they leave behind can be seen.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/plan/types.js'
import { type Sandbox, bottleProcess, launch, sandbox } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

/** A launched bottle, a host tree to copy, and a TMPDIR of our own. */
const setUp = async (backend: BackendName) => {
  sb = sandbox()
  await launch(sb, backend)
  const tree = join(sb.root, 'tree')
  mkdirSync(join(tree, 'sub'), { recursive: true })
  writeFileSync(join(tree, 'a.txt'), 'a\n')
  writeFileSync(join(tree, 'sub', 'b.txt'), 'b\n')
  const tmp = join(sb.root, 'tmp')
  mkdirSync(tmp)
  const cp = (src: string, dest: string, env: Record<string, string> = {}) =>
    bottleProcess(['run', 'cp', 'demo', src, dest, '-b', backend, '--workdir', sb.workdir, '--network', 'open', '-q'], { ...sb.env, TMPDIR: tmp, ...env })
  return { tree, tmp, cp }
}

describe.each(['smolvm', 'docker'] as const)('cp of a directory into a stand-in %s', (backend) => {
  it('puts the whole tree at the guest path and leaves no scratch file on either side', async () => {
    const { tree, tmp, cp } = await setUp(backend)
    const r = await cp(tree, '/home/node/dst')
    expect(r.exitCode).toBe(0)
    expect(sb.guestFile(backend, 'demo', '/home/node/dst/a.txt')).toBe('a\n')
    expect(sb.guestFile(backend, 'demo', '/home/node/dst/sub/b.txt')).toBe('b\n')
    expect(readdirSync(tmp)).toEqual([])
    expect(sb.guestDir(backend, 'demo', '/home/node/dst')).toEqual(['a.txt', 'sub'])
    expect(sb.guestDir(backend, 'demo', '/tmp')).toEqual([])
  })
})

describe('cp into a stand-in smolvm', () => {
  it('a file whose path has ":" (smolvm cp would read it as MACHINE:PATH) is staged and arrives', async () => {
    const { tmp, cp } = await setUp('smolvm')
    const src = sb.hostFile('notes:v2.md', 'staged\n')
    const r = await cp(src, '/home/node/notes.md')
    expect(r.exitCode).toBe(0)
    expect(sb.guestFile('smolvm', 'demo', '/home/node/notes.md')).toBe('staged\n')
    // No argv handed smolvm a source path with ":" in it.
    expect(sb.log().filter((i) => i.argv[1] === 'cp').map((i) => i.argv[2])).toEqual([expect.not.stringContaining(':')])
    expect(readdirSync(tmp)).toEqual([])
  })

  it('an upload that fails: the host archive made for it is removed (its undo), exit is the failure\'s', async () => {
    const { tree, tmp, cp } = await setUp('smolvm')
    // Stand-in invocations: 1 mkdir, 2 the upload (tar runs on the host in between).
    const r = await cp(tree, '/home/node/dst', { STANDIN_FAIL_AT: '2', STANDIN_FAIL_CODE: '1' })
    expect(r.exitCode).toBe(1)
    expect(sb.log().map((i) => i.argv[1])).toEqual(['exec', 'cp'])
    expect(readdirSync(tmp)).toEqual([])
  })
})
