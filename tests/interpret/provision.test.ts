/**
 * Provisioning against the stand-in smolvm and docker (tests/standins; not the real tools, which
 * do not run here): the provision steps reach the backend client as root commands in the bottle,
 * after it is created and started, in the manifest's order, before the prompt copy; one that
 * fails undoes the launch, and leaves no bottle and no record.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Sandbox, bottle, sandbox, standinBackends } from '../standins/harness.js'

let sb: Sandbox | null = null
afterEach(() => {
  sb?.dispose()
  sb = null
})

/** The words of a stand-in call that say which guest command ran as whom: the user, and the sh script. */
const guestCommand = (tool: string, argv: readonly string[]): { user: string; script: string } | null => {
  const c = argv.indexOf('-c')
  if (argv[0] !== 'exec' && !(argv[0] === 'machine' && argv[1] === 'exec')) return null
  const user = tool === 'docker' ? argv[argv.indexOf('-u') + 1] : argv[argv.indexOf('runuser') + 2]
  return c < 0 ? null : { user: user ?? '', script: argv[c + 1] ?? '' }
}

describe.each(standinBackends)('provision against a stand-in %s', (backend) => {
  const manifest = (s: Sandbox, provision: string) => {
    const prompt = s.hostFile('prompt.md', 'be brief\n')
    writeFileSync(join(s.workdir, 'bottle.yaml'), [
      'bottles:',
      '  demo:',
      '    network: open',
      `    workdir: ${s.workdir}`,
      `    prompt: ${prompt}`,
      '    secrets: [TOKEN]',
      `    provision: ${provision}`,
      '',
    ].join('\n'))
  }

  it('the scripts run as root, in order, after create and start and the record, before the prompt copy', async () => {
    sb = sandbox()
    manifest(sb, '["echo first-script", "echo second-script"]')
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '-f', join(sb.workdir, 'bottle.yaml')], { ...sb.env, TOKEN: 'tok-value-1' })
    expect(r.code).toBe(0)
    expect(existsSync(join(sb.root, '.local', 'state', 'bottle', backend, 'demo', 'record.json'))).toBe(true)
    const calls = sb.log()
    const scripts = calls.map((c) => ({ c, g: guestCommand(c.tool, c.argv) }))
    const at = (needle: string) => scripts.findIndex(({ g }) => g?.script === needle)
    const first = at('echo first-script')
    const second = at('echo second-script')
    expect(first).toBeGreaterThan(0)
    expect(second).toBe(first + 1)
    expect(scripts[first]?.g?.user).toBe('root')
    expect(scripts[second]?.g?.user).toBe('root')
    // The install comes right before the scripts.
    expect(scripts[first - 1]?.g?.script).toMatch(/^if command -v "\$1"/)
    // Created before; the prompt goes in after.
    const created = calls.findIndex((c) => c.argv.includes('create'))
    expect(created).toBeGreaterThanOrEqual(0)
    expect(created).toBeLessThan(first)
    const promptCopy = calls.findIndex((c, i) => i > second && c.argv.some((a) => a.includes('system-prompt') || a.endsWith('prompt.md')))
    expect(promptCopy).toBeGreaterThan(second)
    // No secret reaches a provision step: not in its argv, not in the client's env.
    for (const i of [first - 1, first, second]) {
      const call = calls[i]
      expect(JSON.stringify(call?.argv)).not.toContain('TOKEN')
      expect(Object.values(call?.env ?? {})).not.toContain('tok-value-1')
    }
  })

  it('a provision script that fails undoes the launch: no bottle, no record, its exit code', async () => {
    sb = sandbox()
    manifest(sb, '["echo about to fail; exit 3", "echo never"]')
    const r = await bottle(['run', 'launch', 'demo', '-b', backend, '-f', join(sb.workdir, 'bottle.yaml')], { ...sb.env, TOKEN: 'tok-value-1' })
    expect(r.code).toBe(3)
    expect(sb.log().some((c) => guestCommand(c.tool, c.argv)?.script === 'echo never')).toBe(false)
    expect(sb.live(backend)).toStrictEqual([])
    expect(existsSync(join(sb.root, '.local', 'state', 'bottle', backend, 'demo', 'record.json'))).toBe(false)
  })
})
