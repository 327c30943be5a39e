/**
 * `bottle plan|run auth import` through the built executable, on this host's real files: it
 * copies the host's own credentials file into the backend's shared sign-in directory (mode 600,
 * the directories 700), once; a file there already is kept (exit 2, one line) unless --force; the
 * content (a generated value) is in no plan and no output; a missing host file is exit 2 with
 * nothing made; a symlink a bottle left in the shared directory is replaced, never written through.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-auth-import-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let n = 0
/** A fresh host: a home with (or without) a credentials file of generated content, an empty state root. */
const freshHost = (withCredentials: boolean) => {
  const home = join(root, `home-${n}`)
  const state = join(root, `state-${n++}`)
  mkdirSync(join(home, '.claude'), { recursive: true })
  const content = `{"claudeAiOauth":{"accessToken":"${randomBytes(16).toString('hex')}"}}`
  if (withCredentials) writeFileSync(join(home, '.claude', '.credentials.json'), content, { mode: 0o600 })
  const bottle = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: home, env: { PATH: process.env.PATH ?? '', HOME: home, XDG_STATE_HOME: state }, encoding: 'utf8' })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  return { home, state, content, bottle, dir: join(state, 'bottle', 'auth', 'bwrap', 'claude') }
}

describe('auth import', () => {
  it('copies the host file once, mode 600 in 700 directories; the content is in no plan and no output; a second import is refused unless --force', () => {
    const h = freshHost(true)
    for (const format of ['text', 'json', 'sh']) {
      const plan = h.bottle('plan', 'auth', 'import', '-b', 'bwrap', '--format', format)
      expect(plan.status).toBe(0)
      expect(plan.stdout + plan.stderr).not.toContain(h.content)
    }
    expect(existsSync(join(h.state, 'bottle'))).toBe(false)
    const run = h.bottle('run', 'auth', 'import', '-b', 'bwrap')
    expect(run).toMatchObject({ status: 0 })
    expect(run.stdout + run.stderr).not.toContain(h.content)
    const copied = join(h.dir, '.credentials.json')
    expect(readFileSync(copied, 'utf8')).toBe(h.content)
    expect(statSync(copied).mode & 0o777).toBe(0o600)
    for (const d of [join(h.state, 'bottle', 'auth'), join(h.state, 'bottle', 'auth', 'bwrap'), h.dir]) expect(statSync(d).mode & 0o777).toBe(0o700)
    // The host's file changes (a refresh on the host); a second import keeps the copy.
    writeFileSync(join(h.home, '.claude', '.credentials.json'), 'newer')
    const again = h.bottle('run', 'auth', 'import', '-b', 'bwrap')
    expect(again.status).toBe(2)
    expect(again.stderr).toBe(`bottle: auth import: "${copied}" is there already: bottle keeps it (--force replaces it)\n`)
    expect(readFileSync(copied, 'utf8')).toBe(h.content)
    expect(h.bottle('run', 'auth', 'import', '-b', 'bwrap', '--force')).toMatchObject({ status: 0 })
    expect(readFileSync(copied, 'utf8')).toBe('newer')
  })

  it('a missing host file is exit 2, one line, and nothing is made', () => {
    const h = freshHost(false)
    const r = h.bottle('run', 'auth', 'import', '-b', 'bwrap')
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`bottle: auth import: there is no "${join(h.home, '.claude', '.credentials.json')}" to import: sign in with claude on this host first, or sign the bottles in with a token secret\n`)
    expect(existsSync(join(h.state, 'bottle'))).toBe(false)
  })

  it('kubernetes has no shared directory, and auth takes only import: exit 2, one line', () => {
    const h = freshHost(true)
    expect(h.bottle('run', 'auth', 'import', '-b', 'kubernetes')).toMatchObject({ status: 2, stdout: '' })
    const other = h.bottle('run', 'auth', 'export', '-b', 'bwrap')
    expect(other).toMatchObject({ status: 2, stderr: 'bottle: auth takes one action, import, not "export" (bottle run auth import -b docker)\n' })
  })

  it('a symlink a bottle left where the copy goes is replaced by the file, never written through (--force)', () => {
    const h = freshHost(true)
    mkdirSync(h.dir, { recursive: true, mode: 0o700 })
    const victim = join(root, `victim-${n}`)
    writeFileSync(victim, 'untouched')
    symlinkSync(victim, join(h.dir, '.credentials.json'))
    expect(h.bottle('run', 'auth', 'import', '-b', 'bwrap', '--force')).toMatchObject({ status: 0 })
    expect(readFileSync(victim, 'utf8')).toBe('untouched')
    expect(lstatSync(join(h.dir, '.credentials.json')).isFile()).toBe(true)
    expect(readFileSync(join(h.dir, '.credentials.json'), 'utf8')).toBe(h.content)
  })

  it('a dangling symlink there counts as a file there: kept, exit 2, without --force', () => {
    const h = freshHost(true)
    mkdirSync(h.dir, { recursive: true, mode: 0o700 })
    const nowhere = join(root, `nowhere-${n}`)
    symlinkSync(nowhere, join(h.dir, '.credentials.json'))
    const r = h.bottle('run', 'auth', 'import', '-b', 'bwrap')
    expect(r.status).toBe(2)
    expect(existsSync(nowhere)).toBe(false)
  })
})
