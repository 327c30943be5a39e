/**
 * The saved-plan property, against the stand-in smolvm and docker (tests/standins; not the real
 * tools): for generated op sequences (launch, then exec, cp, agent or resume, then down),
 * `bottle run --plan FILE` with FILE from `bottle plan … --format json` hands the backend the same
 * argv, environment and stdin, in the same order, and exits with the same code, as `bottle run …`.
 * Both go through the built CLI (dist/bottle.js) in a subprocess: the saved file is read by a
 * process that did not compile it. Each run has a launch id of its own, so ids are compared
 * normalized.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { type Invocation, type Sandbox, bottleProcess, sandbox, standinBackends } from '../standins/harness.js'

/** One op after launch: its words after `run` / `plan`, given the bottle's backend and sandbox. */
type OpWords = (backend: string, sb: Sandbox) => string[]

const scriptArb = fc.constantFrom('true', 'exit 3', 'echo "$A" "$TOKEN"', 'printf %s err >&2; exit 1', 'cat /etc/hostname')
const opArb: fc.Arbitrary<{ name: string; words: OpWords }> = fc.oneof(
  fc.record({ script: scriptArb, user: fc.constantFrom(null, 'root') }).map(({ script, user }) => ({
    name: `exec ${script}`,
    words: (b: string) => ['exec', 'demo', script, '-b', b, ...(user === null ? [] : ['--user', user])],
  })),
  fc.constantFrom('a.txt', 'dir').map((what) => ({
    name: `cp ${what}`,
    words: (b: string, sb: Sandbox) => ['cp', 'demo', what === 'dir' ? sb.root : sb.hostFile('a.txt', 'hello\n'), '/home/node/copied', '-b', b],
  })),
  fc.array(fc.constantFrom('-p', 'hi there', '--', '$(id)'), { maxLength: 3 }).map((args) => ({
    name: `agent ${args.join(' ')}`,
    words: (b: string) => ['agent', 'demo', '-b', b, '--', ...args],
  })),
  fc.constant({ name: 'resume', words: (b: string) => ['resume', 'demo', '-b', b] }),
)

const launchArb = fc.record({
  // Distinct keys: a key given twice is refused (exit 2) by plan and run alike, and the property is about plans that run.
  env: fc.uniqueArray(fc.tuple(fc.constantFrom('A', 'B', 'CI'), fc.stringMatching(/^[a-z0-9 =]{0,8}$/)), { maxLength: 2, selector: ([k]) => k }),
  token: fc.option(fc.stringMatching(/^[A-Za-z0-9]{1,12}$/), { nil: null }),
  network: fc.constantFrom('open', 'none', 'default'),
})

/** The op's words with `more` flags, before a `--` that hands the rest to the agent. */
const withFlags = (words: readonly string[], ...more: string[]): string[] => {
  const end = words.indexOf('--')
  return end < 0 ? [...words, ...more] : [...words.slice(0, end), ...more, ...words.slice(end)]
}

/** What a stand-in was handed, with each run's launch id (16 hex digits) made one placeholder. */
const seen = (log: readonly Invocation[]): string[] =>
  log.map(({ tool, argv, env, stdin }) => JSON.stringify({ tool, argv, env, stdin }).replace(/[0-9a-f]{16}/g, '<launch id>'))

describe.each(standinBackends)('run --plan (plan --format json X) is run X, on %s, against a stand-in', (backend) => {
  test.prop([launchArb, fc.array(opArb, { minLength: 1, maxLength: 2 })], { numRuns: process.env.CI ? 10 : 2, endOnFailure: true })(
    'the same argv, env and stdin sequence, and the same exit codes',
    async (launch, ops) => {
      const sb = sandbox()
      try {
        const env = { ...sb.env, ...(launch.token === null ? {} : { TOKEN: launch.token }) }
        const launchWords = [
          'launch', 'demo', '-b', backend, '--workdir', sb.workdir,
          ...launch.env.flatMap(([k, v]) => ['-e', `${k}=${v}`]),
          ...(launch.token === null ? [] : ['--secret', 'TOKEN']),
          ...(launch.network === null ? [] : ['--network', launch.network]),
        ]
        const sequence: string[][] = [launchWords, ...ops.map((o) => o.words(backend, sb)), ['down', 'demo', '-b', backend]]

        /** Each op's invocations and exit code, ran one way. */
        const each = async (runOne: (words: string[], i: number) => Promise<number>): Promise<{ code: number; seen: string[] }[]> => {
          const out: { code: number; seen: string[] }[] = []
          for (const [i, words] of sequence.entries()) {
            const before = sb.log().length
            const code = await runOne(words, i)
            out.push({ code, seen: seen(sb.log().slice(before)) })
          }
          return out
        }

        const direct = await each(async (words) => (await bottleProcess(['run', ...withFlags(words, '-q')], env)).exitCode ?? -1)
        expect(sb.live(backend)).toEqual([])
        const saved = await each(async (words, i) => {
          const planned = await bottleProcess(['plan', ...withFlags(words, '--format', 'json')], env)
          expect(planned.exitCode).toBe(0)
          const file = sb.hostFile(`plan-${i}.json`, String(planned.stdout))
          return (await bottleProcess(['run', '--plan', file, '-q'], env)).exitCode ?? -1
        })
        for (const [i, d] of direct.entries()) expect({ op: sequence[i]?.[0], ...saved[i] }).toStrictEqual({ op: sequence[i]?.[0], ...d })
        // The launch ran, and down removed it, both ways.
        expect(direct[0]?.code).toBe(0)
        expect(sb.live(backend)).toEqual([])
      } finally {
        sb.dispose()
      }
    },
    600_000,
  )
})
