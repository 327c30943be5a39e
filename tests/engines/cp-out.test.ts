/**
 * `cp` out of a bottle on the real docker engine and podman, with hostile trees made inside the
 * bottle: symlinks to /etc/passwd and out of the tree, a FIFO, a hard link; and archives a guest
 * that controls its own `tar` could send (a `..` member, a symlink to write through, a device, a
 * hard link to an absolute path). Nothing lands outside the destination, and only regular files
 * and directories land at all. Skipped with the reason when an engine is not there.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Engine, client, engineScratch, onEngine } from './engines.js'
import { tarOf, treeOf } from '../cp-trees.js'

const suite = (engine: Engine): void => {
  const { root, ws, bottle } = engineScratch(engine, 'bottle-cpout')
  const engineName = engine.name
  const outside = join(root, 'outside')
  mkdirSync(outside)
  const name = `bt-${randomBytes(3).toString('hex')}-cp`
  const rootName = `${name}r`
  const outsideIsEmpty = () => expect(readdirSync(outside)).toStrictEqual([])

  afterAll(() => {
    client(engine, ['rm', '-f', name])
    client(engine, ['rm', '-f', rootName])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`cp out on the real ${engineName}`, { timeout: 240_000 }, () => {
    it('a hostile tree made in the bottle comes out as its regular files and directories only', () => {
      writeFileSync(join(ws, 'bottle.yaml'), [`backend: ${engineName}`, 'bottles:', `  ${name}:`, `    image: ${engine.image}`, '    network: open', `  ${rootName}:`, `    image: ${engine.image}`, '    network: open', '    user: root', ''].join('\n'))
      expect(bottle(['run', 'launch', name, '-b', engineName, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const made = bottle(['run', 'exec', name, [
        'set -e; d=/home/node/out; mkdir -p $d/sub',
        'echo hi > $d/a.txt; echo deep > $d/sub/b.txt',
        'ln -s /etc/passwd $d/passwd; ln -s ../../../../../../../..' + outside + ' $d/sub/escape',
        'mkfifo $d/fifo; ln $d/sub/b.txt $d/hard',
        "printf 'x' > \"$d/$(printf 'esc\\033]0;t\\007')\"",
      ].join('; ')])
      expect(made).toMatchObject({ status: 0 })
      const r = bottle(['run', 'cp', name, ':/home/node/out', './got'])
      expect(r.status).toBe(0)
      expect(r.stderr).toContain('bottle: cp: left out 3 entries that were not regular files or directories')
      expect(r.stderr).not.toContain('\x1b')
      expect(treeOf(join(ws, 'got'))).toStrictEqual(['f a.txt', 'f esc\x1b]0;t\x07', 'f hard', 'd sub', 'f sub/b.txt'])
      expect(readFileSync(join(ws, 'got', 'hard'), 'utf8')).toBe('deep\n')
      // Owned by the user bottle runs as (these tests run as root), not the bottle's node (1000).
      expect(lstatSync(join(ws, 'got', 'a.txt')).uid).toBe(process.getuid?.())
      outsideIsEmpty()
      // Into an existing directory: DEST/NAME; a single file as well.
      expect(bottle(['run', 'cp', name, ':/home/node/out/a.txt', './got'])).toMatchObject({ status: 2 })
      expect(bottle(['run', 'cp', name, ':/home/node/out/sub/b.txt', './got'])).toMatchObject({ status: 0 })
      expect(readFileSync(join(ws, 'got', 'b.txt'), 'utf8')).toBe('deep\n')
    })

    it('refuses bad input with one line and exit 2, running nothing', () => {
      for (const args of [[':/home/node/out', './nowhere/x'], [':/home/node/out', ':/tmp/x'], [':/home/node/out', './bottle.yaml'], [':/', './root']]) {
        const r = bottle(['run', 'cp', name, ...args])
        expect(r.status).toBe(2)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
      }
      expect(existsSync(join(ws, 'nowhere'))).toBe(false)
      expect(existsSync(join(ws, 'root'))).toBe(false)
    })

    it('an archive from a guest that controls its own tar copies nothing when it is hostile, and nothing outside ever', () => {
      expect(bottle(['run', 'launch', rootName, '-b', engineName, '-q'])).toMatchObject({ status: 0, stderr: '' })
      const hostile = [
        // A symlink out, then a member written through it; a device; a hard link to an absolute path.
        tarOf([
          { name: 'out/ok.txt', data: 'fine\n' },
          { name: 'out/link', type: '2', link: outside },
          { name: 'out/link/pwned', data: 'pwned\n' },
          { name: 'out/dev', type: '3' },
          { name: 'out/hl', type: '1', link: '/etc/hostname' },
        ]),
        tarOf([{ name: 'out/ok.txt', data: 'fine\n' }, { name: 'out/../../escaped', data: 'evil\n' }, { name: '/abs-escaped', data: 'evil\n' }]),
      ]
      for (const [i, archive] of hostile.entries()) {
        // The guest's tar now prints this archive whatever it is asked.
        writeFileSync(join(ws, `hostile-${i}.tar`), archive)
        expect(bottle(['run', 'exec', rootName, `mkdir -p /root/out && printf '#!/bin/sh\\ncat ${ws}/hostile-${i}.tar\\n' > /usr/local/bin/tar && chmod 755 /usr/local/bin/tar`])).toMatchObject({ status: 0 })
        const r = bottle(['run', 'cp', rootName, ':/root/out', `./hostile-out-${i}`])
        expect(r.status).toBe(1)
        expect(r.stderr).toContain('bottle: cp: the archive from the bottle did not unpack cleanly: nothing was copied')
        expect(existsSync(join(ws, `hostile-out-${i}`))).toBe(false)
        outsideIsEmpty()
        expect(existsSync(join(root, 'escaped'))).toBe(false)
        expect(existsSync('/abs-escaped')).toBe(false)
        // No staging directory is left behind.
        expect(readdirSync(ws).filter((n) => n.startsWith('.bottle-cp.'))).toStrictEqual([])
      }
    })
  })
}

onEngine('docker', suite)
onEngine('podman', suite)
