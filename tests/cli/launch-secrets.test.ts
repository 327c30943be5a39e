/**
 * `launch` needs every secret the spec names in the host env (docs/security.md; the README
 * promises it): a missing one is exit 2, one line naming it, and nothing run, on every backend.
 * Through the built executable (node dist/bottle.js). "Nothing run" is seen two ways: every
 * backend client bottle could start (smolvm, docker, podman, bwrap, kubectl, and the programs a
 * launch runs beside them) is a recorder first on PATH (not the real tool) whose log must stay
 * empty, and bottle's state root (launch records, bwrap's state directories) must stay empty.
 */
import { fc, test } from '@fast-check/vitest'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import { backendNames } from '../../src/plan/types.js'
import { secretNameArb } from '../arbitraries.js'
import { bottleProcess, lines, spawnRuns } from '../standins/harness.js'

const root = mkdtempSync(join(tmpdir(), 'bottle-launch-secrets-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const recorders = join(root, 'bin')
const calls = join(root, 'calls.log')
mkdirSync(recorders)
// The log path is written into each recorder: bottle hands bwrap no host variable but PATH.
for (const tool of ['smolvm', 'docker', 'podman', 'bwrap', 'kubectl', 'tmux', 'script', 'cp', 'mkdir', 'rm', 'tar'])
  writeFileSync(join(recorders, tool), `#!/bin/sh\nprintf '%s\\n' "${tool} $*" >>'${calls}'\nexit 0\n`, { mode: 0o755 })
chmodSync(recorders, 0o755)

let n = 0
// Names a host env here never has (the recorders' env is only PATH, HOME, LANG and the state root).
const missingArb = fc.uniqueArray(secretNameArb, { minLength: 1, maxLength: 3 }).filter((ns) => ns.every((s) => !['PATH', 'HOME', 'LANG', 'XDG_STATE_HOME'].includes(s)))

describe.each(backendNames)('launch on %s with a secret missing from the host env', (backend) => {
  test.prop([missingArb, fc.boolean()], { numRuns: Math.ceil(spawnRuns / 2) })(
    'exit 2, one line naming each missing secret, nothing run, nothing written',
    async (missing, withPresent) => {
      const home = join(root, `home-${n}`)
      const work = join(root, `work-${n++}`)
      mkdirSync(home)
      mkdirSync(work)
      rmSync(calls, { force: true })
      // A secret that is present, beside the missing ones, changes nothing.
      const present = withPresent && !missing.includes('PRESENT_TOKEN') ? ['PRESENT_TOKEN'] : []
      const env = { PATH: `${recorders}:/usr/bin:/bin`, HOME: home, LANG: 'C.UTF-8', XDG_STATE_HOME: join(home, 'state'), PRESENT_TOKEN: 'here' }
      const args = ['run', 'launch', 'demo', '-b', backend, '--network', 'open', '--workdir', work, ...[...present, ...missing].flatMap((s) => ['--secret', s])]
      const r = await bottleProcess(args, env, { cwd: work })
      expect({ code: r.exitCode, stdout: r.stdout }).toEqual({ code: 2, stdout: '' })
      expect(lines(r.stderr)).toEqual([
        `bottle: secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set in the host environment; nothing was run`,
      ])
      expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').toBe('')
      const state = join(home, 'state')
      expect(existsSync(state) ? readdirSync(state, { recursive: true }) : []).toEqual([])
    },
  )
})
