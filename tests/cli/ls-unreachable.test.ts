/**
 * `ls` with the real docker client and no engine to answer it: an endpoint that is not there, and
 * one that accepts the connection and never says a word (a unix socket served from this test).
 * Skipped with a line where the docker client is not installed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { type Server, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.js'
import { listTimeoutMs } from '../../src/compile.js'
import { which } from '../../src/host.js'

const dockerClient = which('docker', process.env.PATH)
if (dockerClient === null) console.warn('skipping the unreachable-engine ls tests: the docker client is not on PATH')

const work = mkdtempSync(join(tmpdir(), 'bottle-ls-unreachable-'))
const silent = join(work, 'silent.sock')
let server: Server | null = null
beforeAll(async () => {
  // Accepts every connection and never answers: the docker client waits for its reply forever.
  server = createServer(() => {})
  await new Promise<void>((ok) => server?.listen(silent, ok))
})
afterAll(() => {
  server?.close()
  rmSync(work, { recursive: true, force: true })
})

const run = async (argv: string[], env: Record<string, string>) => {
  let out = ''
  const err: string[] = []
  const started = Date.now()
  const code = await main(argv, { out: (t) => void (out += t), err: (l) => void err.push(l), env })
  return { code, out, err, ms: Date.now() - started }
}

describe.skipIf(dockerClient === null)('ls with the real docker client and no engine answering', () => {
  // The docker client's directory and the system's; -b docker lists docker alone.
  const env = (host: string) => ({ PATH: `${dirname(dockerClient ?? '/')}:/usr/bin:/bin`, HOME: work, XDG_STATE_HOME: join(work, 'state'), DOCKER_HOST: host })

  it('an engine that is not there: one line with docker\'s reason, exit 125, JSON under unreachable', async () => {
    const r = await run(['ls', '-b', 'docker', '--json'], env(`unix://${join(work, 'none.sock')}`))
    expect(r.code).toBe(125)
    expect(r.err).toHaveLength(1)
    expect(r.err[0]).toMatch(/^bottle: cannot list the docker bottles: .*none\.sock/)
    expect(JSON.parse(r.out)).toMatchObject({ bottles: [], unreachable: [{ backend: 'docker' }] })
  })

  it('an endpoint that accepts and never answers: stopped at the time limit, one line, not a hang', async () => {
    const r = await run(['ls', '-b', 'docker'], env(`unix://${silent}`))
    expect(r.code).toBe(125)
    expect(r.err).toStrictEqual([`bottle: cannot list the docker bottles: docker gave no answer within its time limit of ${listTimeoutMs / 1000} s, and was stopped`])
    expect(r.ms).toBeGreaterThanOrEqual(listTimeoutMs)
    expect(r.ms).toBeLessThan(listTimeoutMs + 10_000)
    expect(r.out).toBe('NAME  BACKEND  STATE  AGE  IMAGE  NETWORK  DRIFT\n')
  })
})
