/**
 * Names from users are looked up as own properties only: a secret, env key or bottle named like
 * an Object.prototype member (`toString`, `constructor`, `__proto__`, `hasOwnProperty`) is just a
 * name. Once, the guest got `function toString() { [native code] }`, kubectl got invalid JSON,
 * and an undeclared bottle named `constructor` launched. Against the stand-in docker and kubectl
 * (tests/standins; not the real tools).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, lines, sandbox } from '../standins/harness.js'

let sb: Sandbox
afterEach(() => sb.dispose())

const protoNames = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'] as const

/** An env with `name` as an own key (a literal `__proto__:` would set the prototype instead). */
const withVar = (env: Readonly<Record<string, string>>, name: string, value: string): Record<string, string> => {
  const out = { ...env }
  Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
  return out
}

describe.each(protoNames)('the name %s', (name) => {
  it('as a secret missing from the host env: exit 2 naming it, nothing run (not a function found on a prototype)', async () => {
    sb = sandbox()
    const r = await bottle(['run', 'launch', 'demo', '-b', 'docker', '--network', 'open', '--workdir', sb.workdir, '--secret', name], sb.env)
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toEqual([`bottle: secret ${name} not set in the host environment; nothing was run`])
    expect(sb.log()).toEqual([])
  })

  it('as a secret in the host env: the guest gets its value, never function text', async () => {
    sb = sandbox()
    const value = `value-of-${name}-${Math.random().toString(36).slice(2)}`
    const env = withVar(sb.env, name, value)
    const launched = await bottle(['run', 'launch', 'demo', '-b', 'docker', '--network', 'open', '--workdir', sb.workdir, '--secret', name, '-q'], env)
    expect({ code: launched.code, stderr: launched.stderr }).toEqual({ code: 0, stderr: '' })
    sb.clearLog()
    const r = await bottle(['run', 'exec', 'demo', 'true', '-b', 'docker'], env)
    expect(r.code).toBe(0)
    const exec = sb.log()[0]
    expect(exec?.env[name]).toBe(value)
    expect(JSON.stringify(sb.log())).not.toContain('[native code]')
  })

  it('as a plain env key: passed once, with its value', async () => {
    sb = sandbox()
    const launched = await bottle(['run', 'launch', 'demo', '-b', 'docker', '--network', 'open', '--workdir', sb.workdir, '-e', `${name}=plain-value`, '-q'], sb.env)
    expect({ code: launched.code, stderr: launched.stderr }).toEqual({ code: 0, stderr: '' })
    sb.clearLog()
    expect((await bottle(['run', 'exec', 'demo', 'true', '-b', 'docker'], sb.env)).code).toBe(0)
    const argv = sb.log()[0]?.argv ?? []
    expect(argv.filter((w) => w.startsWith(`${name}=`))).toEqual([`${name}=plain-value`])
    expect(argv.join(' ')).not.toContain('[native code]')
  })

  it('as a secret on kubernetes: the Secret on kubectl\'s stdin is valid JSON with the value', async () => {
    sb = sandbox()
    const value = `k8s-${name}-<&>"\\é`
    const log = join(sb.root, 'kubectl.jsonl')
    const env = withVar({ ...sb.env, BOTTLE_KUBECTL_LOG: log, BOTTLE_KUBECTL_STATE: join(sb.root, 'kubectl-state.json') }, name, value)
    const r = await bottle(['run', 'launch', 'demo', '-b', 'kubernetes', '--network', 'open', '--context', 'lab', '-n', 'agents', '--workdir', sb.workdir, '--secret', name, '-q'], env)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const calls = (existsSync(log) ? readFileSync(log, 'utf8') : '').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { argv: string[]; stdin: string | null })
    const secretDoc = calls.map((c) => c.stdin ?? '').find((t) => t.includes('"kind"') && t.includes('Secret'))
    expect(secretDoc).toBeDefined()
    const doc = JSON.parse(secretDoc ?? '') as { stringData?: Record<string, string>; data?: Record<string, string> }
    const held = doc.stringData !== undefined ? Object.getOwnPropertyDescriptor(doc.stringData, name)?.value : Buffer.from(String(Object.getOwnPropertyDescriptor(doc.data ?? {}, name)?.value ?? ''), 'base64').toString('utf8')
    expect(held).toBe(value)
  })

  it('as a bottle the manifest does not declare: refused, not taken from a prototype', async () => {
    sb = sandbox()
    const file = sb.hostFile('bottle.yaml', 'bottles:\n  other: {}\n')
    const r = await bottle(['run', 'launch', name, '-b', 'docker', '--network', 'open', '-f', file, '--workdir', sb.workdir], sb.env)
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toHaveLength(1)
    // (__proto__ is refused sooner, by the rule for names that become state directories.)
    expect(r.stderr).toMatch(name === '__proto__' ? /bottle name "__proto__" cannot name a state directory/ : new RegExp(`declares no bottle "${name}"`))
    expect(sb.log()).toEqual([])
  })
})
