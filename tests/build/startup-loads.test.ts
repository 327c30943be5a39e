/**
 * What the built `bottle plan agent` loads when a bottle.yaml with env entries sits beside it (the
 * usual case). Start-up is measured in `npm run bench`, not here; this keeps out, by name, the
 * loads the bundle avoids: node's ES module loader (scripts/build.mjs emits CommonJS), node:crypto
 * (src/plan/hash.ts hashes the env entries itself), and node:os, node:module and node:util's
 * parseArgs, each a millisecond or more of a start (src/builtin.ts, src/cli/words.ts). Read from
 * node's own list of loaded built-ins, by a preload, on exit.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

it('plan agent with a manifest loads no ES module loader, node:crypto, node:os, node:module or parseArgs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-loads-'))
  const preload = join(dir, 'loaded.cjs')
  writeFileSync(preload, "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList)))\n")
  const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state') }
  const ws = join(dir, 'ws')
  mkdirSync(ws)
  writeFileSync(join(ws, 'bottle.yaml'), 'bottles:\n  demo:\n    env:\n      CI: "1"\n      LANG: C.UTF-8\n    secrets: [CLAUDE_CODE_OAUTH_TOKEN]\n')
  const launch = spawnSync(process.execPath, [cli, 'plan', 'launch', 'demo', '-b', 'docker', '--format', 'json'], { cwd: ws, env, encoding: 'utf8' })
  writeRecordOf(JSON.parse(launch.stdout) as Plan)
  const r = spawnSync(process.execPath, ['-r', preload, cli, 'plan', 'agent', 'demo', '-b', 'docker', '--no-tty'], { cwd: ws, env, encoding: 'utf8' })
  expect(r.status).toBe(0)
  // The plan is the one from the manifest: its env entry is in it.
  expect(r.stdout).toContain('CI=1')
  const loaded = JSON.parse(r.stderr) as string[]
  expect(loaded.filter((m) => /^NativeModule (crypto|os|module|internal\/util\/parse_args\/parse_args|internal\/modules\/esm\/(module_job|translators))$/.test(m))).toStrictEqual([])
  // The check itself can see a built-in when one is loaded.
  expect(loaded).toContain('NativeModule fs')
})
