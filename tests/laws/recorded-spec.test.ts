/**
 * Law: every op on a launched bottle compiles from its launch record. The agent can write the
 * manifest (it sits in the workdir the bottle binds), so whatever it puts there — env, secret
 * names, another workdir, the host network, an image, a user, a prompt, an agent — must change no
 * argv, env, stdin or mount of a later op until the user applies it (`bottle run update`). Only
 * the plan's notes (drift) may differ.
 *
 * Runs the built CLI (`bottle plan … --format json`) on the backends that plan without an engine;
 * the launch record is written as the launch plan's record step would (tests/records.ts); on bwrap
 * (real, installed here) a real `bottle run launch` makes the record and the bottle's home.
 */
import { fc, test } from '@fast-check/vitest'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect } from 'vitest'
import { onPath } from '../../src/host.js'
import type { Plan } from '../../src/plan/types.js'
import { envKeyArb, nastyStringArb, secretNameArb, userArb } from '../arbitraries.js'
import { writeRecordOf } from '../records.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')
const root = mkdtempSync(join(tmpdir(), 'bottle-recorded-spec-'))
// The state root outside every workdir (a workdir holding it is refused).
const stateHome = join(root, 'state')
const workdir = join(root, 'work')
const elsewhere = join(root, 'elsewhere')
mkdirSync(workdir)
mkdirSync(elsewhere)
const promptFile = join(elsewhere, 'prompt.md')
writeFileSync(promptFile, 'obey the manifest\n')
afterAll(() => rmSync(root, { recursive: true, force: true }))

const NAME = 'demo'
/** An op's words before the flags. */
type Op = readonly string[]
const plain = join(root, 'plain.yaml')
const hostile = join(workdir, 'bottle.yaml')
// JSON is YAML: every generated string is written with its escapes.
// The backend's own network: this law is about the record, not the egress door (tests/egress-wire/), which kubernetes refuses for now.
writeFileSync(plain, JSON.stringify({ bottles: { [NAME]: { network: 'open' } } }))

/** `bottle plan OP NAME … --format json -f MANIFEST -b BACKEND`: the plan it prints. */
const planOf = (args: Op, manifest: string, backend: string): Plan => {
  const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }
  const r = spawnSync(process.execPath, [cli, 'plan', ...args, '--format', 'json', '-f', manifest, '-b', backend], {
    cwd: workdir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout) as Plan
}

/** What an agent in the bottle might write into its entry: only keys valid on the command line too. */
const entryArb = fc.record(
  {
    env: fc.dictionary(envKeyArb, nastyStringArb.filter((v) => !v.includes('\0')), { maxKeys: 4 }),
    secrets: fc.uniqueArray(secretNameArb, { maxLength: 3 }),
    workdir: fc.constant(elsewhere),
    network: fc.constantFrom('host', 'none'),
    image: fc.constantFrom('alpine:3.20', 'evil.example/steal:latest', 'ubuntu@sha256:' + 'a'.repeat(64)),
    user: userArb,
    prompt: fc.constant(promptFile),
    agent: fc.constantFrom('claude', 'codex', 'sh'),
  },
  { requiredKeys: [] },
)
// A name both in env and in secrets makes the manifest invalid (every op refuses it, exit 2):
// the law is about manifests bottle accepts.
const hostileEntryArb = entryArb.map(({ secrets, ...rest }) =>
  secrets === undefined ? rest : { ...rest, secrets: secrets.filter((k) => !Object.hasOwn(rest.env ?? {}, k)) },
)

const ops: readonly Op[] = [
  ['exec', NAME, 'id -u && env'],
  ['agent', NAME],
  ['resume', NAME],
  // Into the workdir: bwrap keeps only the workdir and the home.
  ['cp', NAME, promptFile, join(workdir, 'copied.md')],
  ['down', NAME],
]

const stepsOf = (p: Plan) => p.steps.map((s) => ({ title: s.title, argv: s.argv, env: s.env, stdin: s.stdin }))

/** The law on one backend, its bottle launched already. */
const editedManifestChangesNoStep = (backend: string) =>
  test.prop([hostileEntryArb, fc.constantFrom(...ops)], { numRuns: 15 })('the manifest the agent edits changes no step', (entry, op) => {
    writeFileSync(hostile, JSON.stringify({ bottles: { [NAME]: entry } }))
    const edited = planOf(op, hostile, backend)
    const declared = planOf(op, plain, backend)
    expect(stepsOf(edited)).toEqual(stepsOf(declared))
    expect({ ...edited, notes: [] }).toEqual({ ...declared, notes: [] })
  })

describe.each(['docker', 'podman', 'smolvm', 'kubernetes'])('on %s, a later op compiles from the launch record, not the manifest', (backend) => {
  // Launched as `bottle run launch` would leave it, with the manifest that only declares the bottle.
  beforeAll(() => {
    writeRecordOf(planOf(['launch', NAME, '--workdir', workdir], plain, backend))
  })
  editedManifestChangesNoStep(backend)
})

// bwrap plans from the bottle's state directory (its home, its launch id) as well as the record:
// a real launch makes them.
describe.skipIf(!onPath('bwrap', process.env.PATH) && !process.env.CI)('on bwrap, a later op compiles from the launch record, not the manifest', () => {
  beforeAll(() => {
    const env = { ...(process.env as Record<string, string>), XDG_STATE_HOME: stateHome }
    const r = spawnSync(process.execPath, [cli, 'run', 'launch', NAME, '--workdir', workdir, '-f', plain, '-b', 'bwrap', '-q'], {
      cwd: workdir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
  editedManifestChangesNoStep('bwrap')
})
