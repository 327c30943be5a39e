/**
 * `bottle run update` on real bwrap: what the agent writes into the manifest reaches no op until
 * the user runs update, and update takes only what can change on a live bottle (env, secret
 * names, agent, prompt), never the workdir or the network. The record it writes is atomic, mode
 * 600, refuses symlinks and a record that changed since the plan was made; it asks on a terminal
 * (util-linux `script` gives bottle a real pseudo-terminal) and wants --yes without one.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { onPath } from '../../src/host.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
// The state root under /var/tmp, outside the workdirs (which are under /tmp).
const hostDir = mkdtempSync('/var/tmp/bottle-update-')
const stateHome = join(hostDir, 'state')
const stateOf = (name: string) => join(stateHome, 'bottle', 'bwrap', name)
const recordOf = (name: string) => join(stateOf(name), 'record.json')
const ws = mkdtempSync(join(tmpdir(), 'bottle-update-ws-'))
afterAll(() => {
  rmSync(hostDir, { recursive: true, force: true })
  rmSync(ws, { recursive: true, force: true })
})

/** A secret value made per run: it must never be written anywhere but the guest's env. */
const secretValue = `s3cret-${randomBytes(8).toString('hex')}`

const bottle = (args: readonly string[], cwd: string, more: Record<string, string> = {}) => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome, ...more }
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A bottle's own workdir, with the manifest the user wrote. */
const project = (name: string, manifest: string): string => {
  const dir = join(ws, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'bottle.yaml'), manifest)
  return dir
}

/** The bottle keeps bwrap's own (no) network unless the body names one: these tests are not of egress. */
const manifestOf = (name: string, body: readonly string[]): string => {
  const lines = body.some((l) => l.startsWith('network:')) ? body : [...body, 'network: open']
  return ['backend: bwrap', 'bottles:', `  ${name}:`, ...lines.map((l) => `    ${l}`), ''].join('\n')
}

/** Interfaces in the sandbox's network namespace: `lo` alone without a network. */
const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '"

const haveBwrap = onPath('bwrap', process.env.PATH)
const haveScript = onPath('script', process.env.PATH)

describe.skipIf(!haveBwrap && !process.env.CI)('bottle run update on real bwrap', () => {
  it('a manifest the agent edits (a secret, another workdir, the host network) reaches no op; update applies the secret name only', () => {
    // A host directory the agent would like bound read-write, and a file in it.
    const hostSide = mkdtempSync(join(ws, 'host-side-'))
    const marker = `host-only-${randomBytes(6).toString('hex')}`
    writeFileSync(join(hostSide, 'marker'), marker)
    const dir = project('victim', manifestOf('victim', ['env: {A: "1"}']))
    expect(bottle(['run', 'launch', 'victim', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
    const probe = `echo "A=$A HOSTILE=\${HOSTILE_SECRET-unset}"; pwd; cat ${hostSide}/marker 2>/dev/null || echo no-marker; ${interfaces}`
    const before = bottle(['run', 'exec', 'victim', probe], dir, { HOSTILE_SECRET: secretValue })
    expect(before.status).toBe(0)

    // The agent rewrites the manifest in its workdir.
    const hostile = manifestOf('victim', ['env: {A: "2"}', 'secrets: [HOSTILE_SECRET]', `workdir: ${hostSide}`, 'network: host'])
    const edit = bottle(['run', 'exec', 'victim', `printf '%s' '${hostile}' > bottle.yaml`], dir)
    expect(edit.status).toBe(0)
    expect(readFileSync(join(dir, 'bottle.yaml'), 'utf8')).toBe(hostile)
    // CONTROL: the host has an interface besides lo, and the marker is readable on the host.
    const hostIfaces = spawnSync('sh', ['-c', interfaces], { encoding: 'utf8' }).stdout
    expect(hostIfaces.trim().split(' ').length).toBeGreaterThan(1)
    expect(readFileSync(join(hostSide, 'marker'), 'utf8')).toBe(marker)

    // Every op but update runs as launched: exec shows the same, and warns of the drift.
    const after = bottle(['run', 'exec', 'victim', probe], dir, { HOSTILE_SECRET: secretValue })
    expect(after.status).toBe(0)
    expect(after.stdout).toBe(before.stdout)
    expect(after.stdout).toBe(`A=1 HOSTILE=unset\n${dir}\nno-marker\nlo `)
    expect(after.stderr).toContain('drift: victim (bwrap)')
    const agentPlan = bottle(['plan', 'agent', 'victim', '--format', 'json'], dir)
    expect(agentPlan.status).toBe(0)
    // The steps: the notes name the drift (the secret's name among it), never applied.
    const steps = JSON.stringify((JSON.parse(agentPlan.stdout) as { steps: unknown }).steps)
    expect(steps).not.toContain('HOSTILE_SECRET')
    expect(steps).not.toContain(hostSide)
    expect(steps).not.toContain('--share-net')

    // update shows it all, applies the secret name and env, and leaves workdir and network.
    const recordBefore = readFileSync(recordOf('victim'), 'utf8')
    const upd = bottle(['run', 'update', 'victim', '--yes', '-q'], dir, { HOSTILE_SECRET: secretValue })
    expect(upd.status).toBe(0)
    expect(upd.stderr).toBe('')
    const verbose = bottle(['plan', 'update', 'victim'], dir)
    expect(verbose.stdout).toContain('note: nothing to update')
    expect(verbose.stdout).toContain(`note: not applied: workdir ${dir} → ${hostSide} (relaunch to apply)`)
    expect(verbose.stdout).toContain('note: not applied: network open → host (relaunch to apply)')
    const record = JSON.parse(readFileSync(recordOf('victim'), 'utf8')) as { spec: Record<string, unknown> }
    const old = JSON.parse(recordBefore) as { spec: Record<string, unknown> }
    expect(record.spec).toStrictEqual({ ...old.spec, env: [['A', '2']], secrets: ['HOSTILE_SECRET'] })
    expect(readFileSync(recordOf('victim'), 'utf8')).not.toContain(secretValue)

    const updated = bottle(['run', 'exec', 'victim', probe], dir, { HOSTILE_SECRET: secretValue })
    expect(updated.status).toBe(0)
    expect(updated.stdout).toBe(`A=2 HOSTILE=${secretValue}\n${dir}\nno-marker\nlo `)
  })

  it('after update, a new env key reaches the guest and ls shows no drift', () => {
    const dir = project('fresh', manifestOf('fresh', ['env: {A: "1"}']))
    expect(bottle(['run', 'launch', 'fresh', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
    writeFileSync(join(dir, 'bottle.yaml'), manifestOf('fresh', ['env: {A: "1", NEW_KEY: "new value"}']))
    const drifted = bottle(['ls', '-b', 'bwrap', '--json'], dir)
    const rowOf = (out: string) => (JSON.parse(out) as { bottles: { name: string; drift: { status: string } }[] }).bottles.find((b) => b.name === 'fresh')
    expect(rowOf(drifted.stdout)?.drift.status).toBe('drifted')
    expect(bottle(['run', 'exec', 'fresh', 'echo "${NEW_KEY-unset}"'], dir).stdout).toBe('unset\n')
    const upd = bottle(['run', 'update', 'fresh', '--yes'], dir)
    expect(upd.status).toBe(0)
    expect(upd.stderr).toContain('bottle: update: env NEW_KEY added')
    expect(bottle(['run', 'exec', 'fresh', 'echo "${NEW_KEY-unset}"'], dir).stdout).toBe('new value\n')
    expect(rowOf(bottle(['ls', '-b', 'bwrap', '--json'], dir).stdout)?.drift.status).toBe('same')
    // Atomic and private: mode 600, no temp file left beside it.
    expect(statSync(recordOf('fresh')).mode & 0o777).toBe(0o600)
    expect(readdirSync(stateOf('fresh')).filter((f) => f.startsWith('.record'))).toStrictEqual([])
    // Nothing left to apply: said, exit 0, the file untouched.
    const mtime = statSync(recordOf('fresh')).mtimeMs
    const again = bottle(['run', 'update', 'fresh'], dir)
    expect(again).toMatchObject({ status: 0, stdout: '' })
    expect(again.stderr).toMatch(/^bottle: nothing to update: fresh already runs with/)
    expect(statSync(recordOf('fresh')).mtimeMs).toBe(mtime)
  })

  it('a new prompt file is copied into the bottle, and the agent is handed it', () => {
    const dir = project('prompted', manifestOf('prompted', []))
    expect(bottle(['run', 'launch', 'prompted', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
    writeFileSync(join(dir, 'p.md'), 'be brief\n')
    writeFileSync(join(dir, 'bottle.yaml'), manifestOf('prompted', ['prompt: p.md']))
    const upd = bottle(['run', 'update', 'prompted', '--yes'], dir)
    expect(upd.status).toBe(0)
    expect(upd.stderr).toContain(`bottle: update: prompt (none) → ${dir}/p.md`)
    expect(readFileSync(join(stateOf('prompted'), 'system-prompt.md'), 'utf8')).toBe('be brief\n')
    const plan = bottle(['plan', 'agent', 'prompted', '--format', 'json'], dir)
    expect(plan.stdout).toContain('--append-system-prompt-file')
  })

  it('without a terminal and without --yes: exit 2, one line, nothing written', () => {
    const dir = project('asked', manifestOf('asked', []))
    expect(bottle(['run', 'launch', 'asked', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
    writeFileSync(join(dir, 'bottle.yaml'), manifestOf('asked', ['env: {B: "2"}']))
    const before = readFileSync(recordOf('asked'), 'utf8')
    const r = bottle(['run', 'update', 'asked'], dir)
    expect(r.status).toBe(2)
    expect(r.stderr.trim().split('\n').at(-1)).toBe('bottle: update asks before it writes, and stdin or stderr is not a terminal: pass --yes to apply it; nothing was written')
    expect(readFileSync(recordOf('asked'), 'utf8')).toBe(before)
    // plan never asks, runs nothing.
    expect(bottle(['plan', 'update', 'asked'], dir).status).toBe(0)
    expect(readFileSync(recordOf('asked'), 'utf8')).toBe(before)
  })

  it('a secret the update adds must be set in the host env: exit 2 naming it, nothing written', () => {
    const dir = project('needs', manifestOf('needs', []))
    expect(bottle(['run', 'launch', 'needs', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
    writeFileSync(join(dir, 'bottle.yaml'), manifestOf('needs', ['secrets: [UPDATE_TEST_MISSING]']))
    const before = readFileSync(recordOf('needs'), 'utf8')
    const r = bottle(['run', 'update', 'needs', '--yes'], dir)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('bottle: secret UPDATE_TEST_MISSING not set in the host environment; nothing was written')
    expect(readFileSync(recordOf('needs'), 'utf8')).toBe(before)
  })

  describe.skipIf(!haveScript)('on a terminal (util-linux script: a real pseudo-terminal)', () => {
    /** bottle run update NAME on a pty, with `answer` typed on it; its exit status (script -e). */
    const onTerminal = (name: string, dir: string, answer: string) => {
      const cmd = `${process.execPath} ${cli} run update ${name}`
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
        cwd: dir,
        env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome },
        input: answer,
        encoding: 'utf8',
        timeout: 30_000,
      })
      return { status: r.status, output: r.stdout }
    }

    it('asks "apply? [y/N]": "n" writes nothing (exit 2); "y" applies', () => {
      const dir = project('tty', manifestOf('tty', []))
      expect(bottle(['run', 'launch', 'tty', '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
      writeFileSync(join(dir, 'bottle.yaml'), manifestOf('tty', ['env: {C: "3"}']))
      const before = readFileSync(recordOf('tty'), 'utf8')
      const no = onTerminal('tty', dir, 'n\n')
      expect(no.output).toContain('apply to tty? [y/N]')
      expect(no.output).toContain('bottle: not applied; nothing was written')
      expect(no.status).toBe(2)
      expect(readFileSync(recordOf('tty'), 'utf8')).toBe(before)
      const yes = onTerminal('tty', dir, 'y\n')
      expect(yes.status).toBe(0)
      expect(JSON.parse(readFileSync(recordOf('tty'), 'utf8'))).toMatchObject({ spec: { env: [['C', '3']] } })
    })
  })

  describe('the record rewrite refuses what it must not follow or overwrite', () => {
    /** A launched bottle with a pending env change, and its update as a --format sh script. */
    const pending = (name: string) => {
      const dir = project(name, manifestOf(name, []))
      expect(bottle(['run', 'launch', name, '-q'], dir)).toMatchObject({ status: 0, stderr: '' })
      writeFileSync(join(dir, 'bottle.yaml'), manifestOf(name, ['env: {D: "4"}']))
      const script = bottle(['plan', 'update', name, '--format', 'sh'], dir)
      expect(script.status).toBe(0)
      return { dir, script: script.stdout }
    }
    const runScript = (text: string, dir: string) => spawnSync('sh', ['-c', text], { cwd: dir, encoding: 'utf8' })

    it('the script applies the update (the control for the refusals below)', () => {
      const { dir, script } = pending('scripted')
      expect(runScript(script, dir).status).toBe(0)
      expect(JSON.parse(readFileSync(recordOf('scripted'), 'utf8'))).toMatchObject({ spec: { env: [['D', '4']] } })
    })

    it('a record that changed since the plan was made: exit 2, left as it is', () => {
      const { dir, script } = pending('stale')
      const changed = `${readFileSync(recordOf('stale'), 'utf8')} `
      writeFileSync(recordOf('stale'), changed)
      const r = runScript(script, dir)
      expect(r.status).toBe(2)
      expect(r.stderr).toContain('changed since this plan was made: plan again')
      expect(readFileSync(recordOf('stale'), 'utf8')).toBe(changed)
    })

    it('a record that became a symlink: exit 2, the file it points to untouched', () => {
      const { dir, script } = pending('linked')
      const elsewhere = join(hostDir, 'elsewhere.json')
      renameSync(recordOf('linked'), elsewhere)
      symlinkSync(elsewhere, recordOf('linked'))
      const before = readFileSync(elsewhere, 'utf8')
      const r = runScript(script, dir)
      expect(r.status).toBe(2)
      expect(r.stderr).toContain('is a symlink or not a regular file: it is not rewritten')
      expect(readFileSync(elsewhere, 'utf8')).toBe(before)
      // bottle itself refuses it before planning.
      expect(bottle(['run', 'update', 'linked', '--yes'], dir).status).toBe(2)
    })

    it('a bottle directory that became a symlink: exit 2, nothing written where it points', () => {
      const { dir, script } = pending('dirlink')
      const moved = join(hostDir, 'moved-dirlink')
      renameSync(stateOf('dirlink'), moved)
      symlinkSync(moved, stateOf('dirlink'))
      const before = readFileSync(join(moved, 'record.json'), 'utf8')
      const r = runScript(script, dir)
      expect(r.status).toBe(2)
      expect(r.stderr).toContain('is a symlink or not a directory: the record is not rewritten')
      expect(readFileSync(join(moved, 'record.json'), 'utf8')).toBe(before)
      expect(existsSync(join(moved, 'record.json'))).toBe(true)
      chmodSync(moved, 0o700)
    })
  })
})
