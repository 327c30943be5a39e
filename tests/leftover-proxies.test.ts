// The leftover-proxy guard's finder (tests/leftover-proxies.ts), against a real proxy of this
// worktree's bundle: found while it serves, with its directory; not found once stopped.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { leftoverMessage, proxiesOf } from './leftover-proxies.js'

const script = fileURLToPath(new URL('../dist/egress-proxy.js', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'bottle-leftover-'))
const dir = join(root, 'egress')
const proxy = (...args: string[]) => execFileSync(process.execPath, [script, ...args, '--dir', dir])
afterAll(() => {
  proxy('stop')
  rmSync(root, { recursive: true, force: true })
})

it('finds a running proxy of this bundle by its cmdline, with its directory, and not once it is stopped', () => {
  proxy('start', '--allow', 'github.com:443')
  const found = proxiesOf(script).filter((p) => p.dir === dir)
  expect(found).toHaveLength(1)
  expect(leftoverMessage(found)).toBe(`1 egress proxy started by the tests still running after them (each test must down or stop what it launches):\n  pid ${found[0]?.pid}: ${process.execPath} ${script} serve --dir ${dir} --allow github.com:443`)
  // Another checkout's bundle is not this one.
  expect(proxiesOf('/elsewhere/dist/egress-proxy.js').filter((p) => p.dir === dir)).toStrictEqual([])
  proxy('stop')
  expect(proxiesOf(script).filter((p) => p.dir === dir)).toStrictEqual([])
})
