/**
 * Linux's exec limits (execve(2)): one argv or env string, NUL included, fits in MAX_ARG_STRLEN
 * (131072 bytes), and argv and env together in about a quarter of the stack limit. Over either,
 * exec fails with E2BIG, which once surfaced as "docker is not installed", exit 127. Against the
 * stand-in docker (tests/standins; not the real tool).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, lines, sandbox } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

/** `n` bytes of random hex: a value no message can contain by accident. */
const hexValue = (n: number): string => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n)

/** Lines that are not progress lines. */
const said = (stderr: string): string[] => lines(stderr).filter((l) => !l.startsWith('['))

describe('an env value over the limit for one exec string', () => {
  // `KEY=VALUE` plus its NUL: with KEY "BIG", 131072 - 4 - 1 bytes of value is the most that fits.
  const most = 131072 - 'BIG='.length - 1

  it('is refused in the spec: exit 2, one line naming the key and not the value, nothing run', async () => {
    sb = sandbox()
    const value = hexValue(most + 1)
    const file = sb.hostFile('bottle.yaml', `bottles:\n  demo:\n    env:\n      BIG: "${value}"\n`)
    const r = await bottle(['run', 'launch', 'demo', '-b', 'docker', '-f', file, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toHaveLength(1)
    expect(r.stderr).toContain('bottles.demo.env.BIG')
    expect(r.stderr).toContain('128 KiB')
    expect(r.stderr).not.toContain(value.slice(0, 32))
    expect(sb.log()).toEqual([])
  })

  it('one byte less fits, and reaches the guest on every exec', async () => {
    sb = sandbox()
    const value = hexValue(most)
    const file = sb.hostFile('bottle.yaml', `bottles:\n  demo:\n    env:\n      BIG: "${value}"\n`)
    const r = await bottle(['run', 'launch', 'demo', '-b', 'docker', '-f', file, '--workdir', sb.workdir, '-q', '--network', 'open'], sb.env)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    sb.clearLog()
    const e = await bottle(['run', 'exec', 'demo', 'true', '-b', 'docker'], sb.env)
    expect({ code: e.code, stderr: e.stderr }).toEqual({ code: 0, stderr: '' })
    expect(sb.log()[0]?.argv).toContain(`BIG=${value}`)
  })

  it('a multi-byte value counts in bytes, not characters', async () => {
    sb = sandbox()
    // 'é' is 2 bytes in UTF-8: this value is under the limit in characters, over it in bytes.
    const value = 'é'.repeat(Math.ceil((most + 1) / 2))
    const file = sb.hostFile('bottle.yaml', `bottles:\n  demo:\n    env:\n      BIG: "${value}"\n`)
    const r = await bottle(['plan', 'launch', 'demo', '-b', 'docker', '-f', file, '--workdir', sb.workdir, '--network', 'open'], sb.env)
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toHaveLength(1)
  })
})

describe('a secret value over the limit (from the host env: not known at plan time)', () => {
  it('is refused before anything runs: exit 2, one line naming the secret, not its value', async () => {
    sb = sandbox()
    // Only an in-process run can have such a value: exec would have refused it to bottle itself.
    const value = hexValue(131072)
    const r = await bottle(['run', 'launch', 'demo', '-b', 'docker', '--secret', 'TOKEN', '--workdir', sb.workdir, '--network', 'open'], { ...sb.env, TOKEN: value })
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^bottle: secret TOKEN too big: .*; nothing was run$/)])
    expect(r.stderr).not.toContain(value.slice(0, 32))
    expect(sb.log()).toEqual([])
  })
})

describe('argv and env together over the limit (E2BIG at spawn)', () => {
  it('says so in one line naming the program and the secrets by name, exit 126, not "not installed"', async () => {
    sb = sandbox()
    // 20 secrets of 120 KiB: each fits, together they are over 2 MiB (an 8 MiB stack / 4).
    // In-process, so that bottle's own host env can hold them.
    const names = Array.from({ length: 20 }, (_, i) => `TOKEN${i}`)
    const secrets = Object.fromEntries(names.map((n) => [n, hexValue(120 * 1024)]))
    const launched = await bottle(['run', 'launch', 'demo', '-b', 'docker', ...names.flatMap((n) => ['--secret', n]), '--workdir', sb.workdir, '-q', '--network', 'open'], { ...sb.env, ...secrets })
    expect(launched.code).toBe(0)
    sb.clearLog()
    const r = await bottle(['run', 'exec', 'demo', 'true', '-b', 'docker'], { ...sb.env, ...secrets })
    expect(said(r.stderr)).toEqual([
      `bottle: docker cannot be started: its arguments and environment are too big for exec (E2BIG); its environment holds the secrets ${names.join(', ')}`,
    ])
    expect(r.code).toBe(126)
    for (const v of Object.values(secrets)) expect(r.stderr).not.toContain(v.slice(0, 32))
    expect(sb.log()).toEqual([])
  })
})
