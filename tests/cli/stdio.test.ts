/**
 * src/stdio.ts: bottle's terminal test and its writes, without node's stream objects. The
 * terminal test decides the TTY flags of every plan (`docker exec -t`, bwrap's `script`), so it
 * is checked against node's own `tty.isatty` on each kind of descriptor a real run gets: a pty
 * (from `script`, util-linux), a pipe, /dev/null, a regular file and a closed descriptor.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const root = mkdtempSync(join(tmpdir(), 'bottle-stdio-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const stdio = join(import.meta.dirname, '..', '..', 'src', 'stdio.ts')
const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

// Answers, for fds 0 to 3 and 9 (never opened), [isTerminal, tty.isatty] into the file named by
// its argument, so what it says does not depend on where its stdout goes.
const probe = join(root, 'probe.ts')
writeFileSync(
  probe,
  [
    `import { isatty } from 'node:tty'`,
    `import { writeFileSync } from 'node:fs'`,
    `import { isTerminal } from ${JSON.stringify(stdio)}`,
    `const fds = [0, 1, 2, 3, 9]`,
    `writeFileSync(process.argv[2] ?? '', JSON.stringify(fds.map((fd) => [isTerminal(fd), isatty(fd)])))`,
    '',
  ].join('\n'),
)
const answers = (out: string): [boolean, boolean][] => JSON.parse(readFileSync(out, 'utf8')) as [boolean, boolean][]
const node = [process.execPath, '--import', 'tsx', probe]

describe('isTerminal says what tty.isatty says', () => {
  it('for /dev/null, a regular file, a pipe and a closed descriptor: no terminal', () => {
    const out = join(root, 'plain.json')
    const file = openSync(join(root, 'a-file'), 'w')
    try {
      // stdin /dev/null, stdout a regular file, stderr a pipe, fd 3 /dev/null again.
      const r = spawnSync(node[0] as string, [...node.slice(1), out], { stdio: ['ignore', file, 'pipe', 'ignore'], cwd: join(import.meta.dirname, '..', '..') })
      expect(r.status, r.stderr?.toString()).toBe(0)
    } finally {
      closeSync(file)
    }
    const got = answers(out)
    for (const [mine, node] of got) expect(mine).toBe(node)
    expect(got.map(([mine]) => mine)).toStrictEqual([false, false, false, false, false])
  })

  it('for a pty: a terminal (stdin, stdout and stderr under script(1)), while fd 3 is still a pipe', () => {
    const out = join(root, 'pty.json')
    const command = node.map((w) => `'${w}'`).join(' ') + ` '${out}'`
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], cwd: join(import.meta.dirname, '..', '..') })
    expect(r.status, r.stderr?.toString()).toBe(0)
    const got = answers(out)
    for (const [mine, node] of got) expect(mine).toBe(node)
    expect(got.map(([mine]) => mine)).toStrictEqual([true, true, true, false, false])
  })

  it('for /dev/tty, a terminal that is no pty by its device numbers: node:tty is asked, and says so', () => {
    const out = join(root, 'dev-tty.json')
    const command = node.map((w) => `'${w}'`).join(' ') + ` '${out}' </dev/tty`
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { stdio: 'pipe', cwd: join(import.meta.dirname, '..', '..') })
    expect(r.status, r.stderr?.toString()).toBe(0)
    const got = answers(out)
    for (const [mine, node] of got) expect(mine).toBe(node)
    expect(got[0]).toStrictEqual([true, true])
  })
})

describe('the built CLI', () => {
  it('plans a TTY for agent when stdin is a terminal (a pty, or /dev/tty through node:tty) and none for /dev/null', () => {
    const env = { ...process.env, XDG_STATE_HOME: join(root, 'state') }
    const ws = join(root, 'ws')
    mkdirSync(ws, { recursive: true })
    writeRecordOf(JSON.parse(spawnSync(process.execPath, [cli, 'plan', 'launch', 'demo', '-b', 'docker', '--network', 'open', '--format', 'json'], { cwd: ws, env, encoding: 'utf8' }).stdout) as Plan)
    const agentArgv = (stdin: string): readonly string[] => {
      const out = join(root, 'agent.json')
      const r = spawnSync('script', ['-qec', `'${process.execPath}' '${cli}' plan agent demo -b docker --format json ${stdin} > '${out}'`, '/dev/null'], { cwd: ws, env, stdio: 'pipe' })
      expect(r.status, r.stdout?.toString()).toBe(0)
      return (JSON.parse(readFileSync(out, 'utf8')) as Plan).steps[0]?.argv ?? []
    }
    expect(agentArgv('').slice(0, 4)).toStrictEqual(['docker', 'exec', '-i', '-t'])
    expect(agentArgv('</dev/tty').slice(0, 4)).toStrictEqual(['docker', 'exec', '-i', '-t'])
    expect(agentArgv('</dev/null')).not.toContain('-t')
  })
})

describe('the built CLI writes without streams', () => {
  it('stops quietly, with exit 0, when the reader of its output has gone (EPIPE)', () => {
    // `| true` has exited before bottle writes its help: the write meets a closed pipe.
    const status = join(root, 'status')
    const r = spawnSync('sh', ['-c', `( sleep 0.3; '${process.execPath}' '${cli}' --help; echo $? > '${status}' ) | true`], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(readFileSync(status, 'utf8').trim()).toBe('0')
  })
})
