/**
 * An egress bottle on smolvm, against a stand-in (not the real smolvm): its create names the
 * proxy's socket with `--mount-socket HOST:GUEST`, a real smolvm flag the stand-in must take, or
 * every smolvm launch without a `network` key stops at the create. The stand-in's exec runs on
 * this host, which has routes, so the launch's probe fails there: the launch is then undone.
 */
import { execFileSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { bottleProcess, sandbox, type Sandbox } from './harness.js'

let sb: Sandbox | null = null
afterEach(() => {
  sb?.dispose()
  sb = null
})

/** The egress proxies whose command line names `dir`. */
const proxiesUnder = (dir: string): string[] => {
  try {
    return execFileSync('pgrep', ['-af', `egress-proxy.js serve --dir ${dir}`], { encoding: 'utf8' }).split('\n').filter((l) => l !== '')
  } catch {
    return [] // pgrep exits 1 when it finds none
  }
}

describe('smolvm --mount-socket, against a stand-in', () => {
  it('an egress launch gets past create to start and the probe, and its undo leaves no machine and no proxy', async () => {
    const s = (sb = sandbox())
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', s.workdir, '-q'], s.env)
    const smolvm = s.log().filter((i) => i.tool === 'smolvm')
    const create = smolvm.find((i) => i.argv[1] === 'create')
    const socket = create?.argv[create.argv.indexOf('--mount-socket') + 1]
    expect(socket).toMatch(/\/egress\.sock:\/run\/bottle-egress\/egress\.sock$/)
    // The create was taken: the machine was started, and the probe ran in it.
    expect(smolvm.map((i) => i.argv[1])).toContain('start')
    expect(r.stderr).toContain('probe the egress door from inside the bottle')
    expect(r.stderr).not.toContain("unexpected argument '--mount-socket'")
    expect(r.exitCode).toBe(1)
    expect(s.live('smolvm')).toStrictEqual([])
    expect(proxiesUnder(s.root)).toStrictEqual([])
  })
})
