/**
 * What `bottle plan agent` loads. Start-up is measured in `npm run bench`, not here; this test
 * keeps the two costly built-ins the bundle defers (src/plan/hash.ts, scripts/build.mjs) from
 * creeping back into every start by a static import, nor node's stdio streams and node:tty
 * (src/stdio.ts), nor a read of `process.stdin` (its getter builds a whole stream). It reads node's own
 * list of loaded built-ins, and whether `process.stdin` was touched, from a preload, on exit.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

it('plan agent loads neither node:crypto, node:child_process, node:tty nor node:net, and builds no stdin stream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-startup-'))
  const preload = join(dir, 'loaded.cjs')
  writeFileSync(
    preload,
    [
      "const real = Object.getOwnPropertyDescriptor(process, 'stdin')",
      'let touched = false',
      "Object.defineProperty(process, 'stdin', { ...real, get() { touched = true; return real.get.call(process) } })",
      // Written to fd 2 directly: process.stderr would load the very modules looked for.
      "process.on('exit', () => require('node:fs').writeSync(2, JSON.stringify({ loaded: process.moduleLoadList, touched })))",
      '',
    ].join('\n'),
  )
  // demo is launched: plan agent reads its launch record (a file read) from this state root.
  const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state') }
  // The workdir (the cwd) beside the state root: launch refuses one that holds it.
  const ws = join(dir, 'ws')
  mkdirSync(ws)
  const launch = spawnSync(process.execPath, [cli, 'plan', 'launch', 'demo', '-b', 'docker', '--format', 'json'], { cwd: ws, env, encoding: 'utf8' })
  writeRecordOf(JSON.parse(launch.stdout) as Plan)
  const r = spawnSync(process.execPath, ['-r', preload, cli, 'plan', 'agent', 'demo', '-b', 'docker', '--no-tty'], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  expect(r.status).toBe(0)
  const { loaded, touched } = JSON.parse(r.stderr) as { loaded: string[]; touched: boolean }
  expect(loaded.filter((m) => /^NativeModule (crypto|child_process)$/.test(m))).toStrictEqual([])
  // Neither stdout's nor stderr's stream object (node:stream, node:net for a pipe) nor node:tty
  // for isatty: src/stdio.ts writes to the descriptors and tells a terminal by fstat. stdin is
  // /dev/null here, stdout and stderr pipes.
  expect(loaded.filter((m) => /^NativeModule (tty|net|stream)$/.test(m))).toStrictEqual([])
  // The check itself can see a built-in when one is loaded.
  expect(loaded).toContain('NativeModule fs')
  expect(touched).toBe(false)
})

it("the interpreter bundle leaves out execa's verbose printer (scripts/build.mjs), which bottle never asks for", () => {
  const bundle = readFileSync(join(import.meta.dirname, '..', '..', 'dist', 'spawn.js'), 'utf8')
  const complete = readFileSync(join(import.meta.dirname, '..', '..', 'node_modules', 'execa', 'lib', 'verbose', 'complete.js'), 'utf8')
  // The end-of-run line execa prints when verbose (with pretty-ms): in execa's source, not in the bundle.
  expect(complete).toContain('(done in ')
  expect(bundle).not.toContain('(done in ')
  // The bundle is the interpreter all the same.
  expect(bundle).toContain('runPlan')
})

it('the yaml library is in no bundle: bottle reads manifests with its own reader (scripts/build.mjs)', () => {
  const dist = join(import.meta.dirname, '..', '..', 'dist')
  // A class name of yaml's.
  expect(readFileSync(join(import.meta.dirname, '..', '..', 'node_modules', 'yaml', 'dist', 'errors.js'), 'utf8')).toContain('YAMLParseError')
  for (const bundle of ['cli.js', 'spawn.js']) expect(readFileSync(join(dist, bundle), 'utf8')).not.toContain('YAMLParseError')
})
