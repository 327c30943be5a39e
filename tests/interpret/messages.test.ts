/**
 * What `bottle run` says on stderr, from the built executable (node dist/bottle.js) against
 * stand-in smolvm and docker executables (tests/standins; not the real tools): progress lines
 * for multi-step plans (none with -q), and one line with exit 127 when a program is missing.
 */
import { quoteShArgv } from '../../src/plan/quote.js'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottleProcess, launch, lines, sandbox, standinsDir, standinBackends } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

describe.each(standinBackends)('progress lines against a stand-in %s', (backend) => {
  it('a multi-step run prints "[i/n] COMMAND" for each step, naming the command that then ran', async () => {
    sb = sandbox()
    const prompt = sb.hostFile('prompt.md', 'x\n')
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--prompt', prompt], sb.env)
    expect(r.exitCode).toBe(0)
    const log = sb.log()
    // Quoted for sh where a word needs it (docker's user check is an `sh -c` script). One step
    // writes the launch record with the system's sh, which the stand-in log does not see.
    const n = log.length + 1
    const shown = lines(r.stderr)
    const rec = shown.findIndex((l) => /^\[\d+\/\d+\] \/bin\/sh -c 'umask 077/.test(l))
    expect(rec).toBeGreaterThan(0)
    expect(shown[rec]).toMatch(new RegExp(`^\\[${rec + 1}/${n}\\] `))
    expect(shown.filter((_, i) => i !== rec)).toEqual(log.map((inv, i) => `[${i < rec ? i + 1 : i + 2}/${n}] ${quoteShArgv([inv.tool, ...inv.argv])}`))
    if (backend === 'smolvm') expect(shown[1]).toBe(`[2/${n}] smolvm machine start --name demo`)
    expect(r.stdout).toBe('')
  })

  it('-q prints no progress line, and the same steps run', async () => {
    sb = sandbox()
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', '-q'], sb.env)
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toBe('')
    // create and start, then the check that the image has the user.
    expect(sb.log().length).toBe(3)
    expect(sb.live(backend)).toEqual(['demo'])
  })

  it('a one-step run (exec) prints no progress line: its stderr is the guest\'s alone', async () => {
    sb = sandbox()
    await launch(sb, backend)
    const r = await bottleProcess(['run', 'exec', 'demo', 'echo to-stderr >&2', '-b', backend, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toBe('to-stderr\n')
  })
})

describe('a program that is not installed', () => {
  it.each(standinBackends)('the %s binary missing from PATH: one line naming it and how to install it, exit 127', async (backend) => {
    sb = sandbox()
    const empty = join(sb.root, 'empty-bin')
    mkdirSync(empty)
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision'], { ...sb.env, PATH: empty })
    expect(r.exitCode).toBe(127)
    const errs = lines(r.stderr).filter((l) => !l.startsWith('['))
    expect(errs).toHaveLength(1)
    expect(errs[0]).toMatch(new RegExp(`^bottle: ${backend} is not installed \\(not found on PATH\\): install `))
  })

  it.each(standinBackends)('a %s on PATH that is not executable: says so (not "not installed"), exit 126 like sh', async (backend) => {
    sb = sandbox()
    const bin = join(sb.root, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, backend), '#!/bin/sh\nexit 0\n', { mode: 0o644 })
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', backend, '--workdir', sb.workdir, '--network', 'open', '--no-provision', '-q'], { ...sb.env, PATH: bin })
    expect(r.exitCode).toBe(126)
    expect(lines(r.stderr)).toEqual([`bottle: ${backend} cannot be run: permission denied (is it executable?)`])
  })

  it('a host program missing mid-launch (smolvm staging a prompt path with ":" through cp): undoes the machine, exit 127', async () => {
    sb = sandbox()
    // A PATH with the stand-in smolvm, node and sh (the create's undo is a script), and nothing
    // else: no host `cp`.
    const bin = join(sb.root, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'smolvm'), `#!/bin/sh\nexec '${join(standinsDir, 'smolvm')}' "$@"\n`, { mode: 0o755 })
    symlinkSync(process.execPath, join(bin, 'node'))
    symlinkSync('/bin/sh', join(bin, 'sh'))
    const prompt = sb.hostFile('prompt:v2.md', 'x\n')
    const r = await bottleProcess(['run', 'launch', 'demo', '-b', 'smolvm', '--workdir', sb.workdir, '--network', 'open', '--no-provision', '--prompt', prompt], {
      ...sb.env,
      PATH: bin,
    })
    expect(r.exitCode).toBe(127)
    // What is left is said too: nothing, after the undo.
    expect(lines(r.stderr).filter((l) => l.startsWith('bottle: '))).toEqual([
      'bottle: undone: nothing this run created is left',
      'bottle: cp is not installed (not found on PATH)',
    ])
    // create, start, the user check, mkdir ran; the staging `cp` could not start; then stop, and
    // (this run's id found in the listing) delete, newest first.
    expect(sb.log().map((i) => i.argv[1])).toEqual(['create', 'start', 'exec', 'exec', 'stop', 'ls', 'delete'])
    expect(sb.live('smolvm')).toEqual([])
  })
})
