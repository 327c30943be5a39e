/**
 * A bottle with an egress door removed behind bottle's back (`docker rm -f NAME`, `podman rm -f
 * NAME`), on the real engines of scripts/test-engines.sh: its proxy still runs on the host and its
 * state is still there; `bottle run down NAME` stops the proxy and removes the state, exit 0.
 * (down --all against a stand-in: tests/cli/down-gone.test.ts; it would take down every bottle on
 * the shared engine here.)
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { proxyRunning } from '../../src/egress/state.js'
import { type EngineName, client, engineScratch, onEngine } from './engines.js'

const suite = (name: EngineName) =>
  onEngine(name, (engine) => {
    describe(`a bottle removed behind bottle's back, on the real ${name} engine`, () => {
      const sc = engineScratch(engine, 'bottle-removed-behind')
      const bottleName = `gone-${process.pid}`
      const state = join(sc.root, 'state', 'bottle', name, bottleName)
      afterAll(() => {
        sc.bottle(['run', 'down', bottleName, '-b', name, '-q'])
        client(engine, ['rm', '-f', bottleName])
        rmSync(sc.root, { recursive: true, force: true })
      })

      it('down NAME stops its egress proxy and removes its state, exit 0', () => {
        const launched = sc.bottle(['run', 'launch', bottleName, '-b', name, '--image', engine.image, '--workdir', sc.ws, '--no-provision', '-q'])
        expect([launched.status, launched.stderr]).toStrictEqual([0, ''])
        expect(proxyRunning(join(state, 'egress'))).toBe(true)
        expect(client(engine, ['rm', '-f', bottleName]).status).toBe(0)
        // Gone from the engine; the proxy and the state are still there.
        expect(proxyRunning(join(state, 'egress'))).toBe(true)
        const down = sc.bottle(['run', 'down', bottleName, '-b', name])
        expect(down.status).toBe(0)
        // What it ran is said, step by step: the proxy's stop among them.
        expect(down.stderr).toContain(`egress-proxy.js stop --dir ${join(state, 'egress')}`)
        expect(proxyRunning(join(state, 'egress'))).toBe(false)
        expect(() => rmSync(state)).toThrow(/ENOENT/)
      }, 180_000)
    })
  })

suite('docker')
suite('podman')
