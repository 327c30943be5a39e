/**
 * `cp` out of a real bwrap bottle, with a hostile tree the guest made in its home and its
 * workdir: symlinks to /etc/passwd and out of the tree, a FIFO, a hard link. bwrap's bottle is
 * host directories, so the copy goes through the guest's own tar all the same: the host never
 * walks a path the guest can write.
 */
import { spawnSync } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'
import { treeOf } from '../cp-trees.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const hostDir = mkdtempSync('/var/tmp/bottle-cpout-')
const stateHome = join(hostDir, 'state')
const ws = mkdtempSync(join(tmpdir(), 'bottle-cpout-ws-'))
const outside = join(hostDir, 'outside')
mkdirSync(outside)
afterAll(() => {
  spawnSync(process.execPath, [cli, 'run', 'down', 'cpo', '-q'], { cwd: ws, env: { ...process.env, XDG_STATE_HOME: stateHome } })
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

const bottle = (args: readonly string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('cp out of real bwrap', () => {
  it('a hostile tree in the home and in the workdir comes out as its regular files and directories only, owned by the invoking user', () => {
    writeFileSync(join(ws, 'bottle.yaml'), 'backend: bwrap\nbottles:\n  cpo: {}\n')
    expect(bottle(['run', 'launch', 'cpo', '-q'])).toMatchObject({ status: 0, stderr: '' })
    const made = bottle(['run', 'exec', 'cpo', [
      'set -e',
      'for d in "$HOME/out" "$PWD/wout"; do mkdir -p "$d/sub"; echo hi > "$d/a.txt"; echo deep > "$d/sub/b.txt"',
      `ln -s /etc/passwd "$d/passwd"; ln -s ../../../../../../../..${outside} "$d/sub/escape"; mkfifo "$d/fifo"; ln "$d/sub/b.txt" "$d/hard"; done`,
    ].join('\n')])
    expect(made).toMatchObject({ status: 0 })
    for (const [from, to] of [[':/home/node/out', './got-home'], [`:${ws}/wout`, './got-wd']] as const) {
      const r = bottle(['run', 'cp', 'cpo', from, to])
      expect(r.stderr).toContain('bottle: cp: left out 3 entries that were not regular files or directories')
      expect(r.status).toBe(0)
      expect(treeOf(join(ws, to))).toStrictEqual(['f a.txt', 'f hard', 'd sub', 'f sub/b.txt'])
      expect(readFileSync(join(ws, to, 'hard'), 'utf8')).toBe('deep\n')
      expect(lstatSync(join(ws, to, 'sub', 'b.txt')).uid).toBe(process.getuid?.())
    }
    expect(readdirSync(outside)).toStrictEqual([])
  })

  it('a path that is not in the bottle fails with tar\'s words and leaves nothing', () => {
    const r = bottle(['run', 'cp', 'cpo', ':/home/node/nothere', './n'])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('bottle: cp: the bottle could not send nothere')
    expect(readdirSync(ws).filter((n) => n === 'n' || n.startsWith('.bottle-cp.'))).toStrictEqual([])
  })
})
