/**
 * The argv parser (src/cli/request.ts), in-process and pure: argv generated from the ops table
 * parses back to the Request it was written from; every flag of every operation is taken, and
 * every other flag refused with one line; the arguments each operation takes, no more, no fewer.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { type FlagDoc, type FlagName, type Mode, flagDocs, flagsOf, modes, opList, ops } from '../../src/cli/ops.js'
import { type Flags, type Request, parseRequest } from '../../src/cli/request.js'
import type { OpName } from '../../src/plan/types.js'
import { nastyStringArb } from '../arbitraries.js'
import { runs } from '../runs.js'

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
const allFlags = Object.keys(flagDocs) as FlagName[]
const docOf = (name: FlagName): FlagDoc => flagDocs[name]

// -------------------------------------------------------------------------------------------------
// Request → argv, the other way round from the parser
// -------------------------------------------------------------------------------------------------

/** One flag as the user might write it: `--name value`, `--name=value`, `-s value` or `-svalue`. */
const spellings = (name: FlagName, value: string | boolean): string[][] => {
  const d = docOf(name)
  if (typeof value === 'boolean') return value ? [[`--${name}`], ...(d.short === undefined ? [] : [[`-${d.short}`]])] : [[`--no-${name}`]]
  const short = d.short === undefined ? [] : [[`-${d.short}`, value], ...(value === '' ? [] : [[`-${d.short}${value}`]])]
  return [[`--${name}`, value], [`--${name}=${value}`], ...short]
}

/** A value of a flag: one of its choices, or any string (a repeatable flag: one or more). */
const valueArb = (name: FlagName): fc.Arbitrary<string | boolean | string[]> => {
  const d = docOf(name)
  if (d.value === undefined) return d.negatable === true ? fc.boolean() : fc.constant(true)
  const one = d.choices === undefined ? nastyStringArb : fc.constantFrom(...d.choices)
  return d.multiple === true ? fc.array(one, { minLength: 1, maxLength: 3 }) : one
}

/** The positional arguments of an operation: each required one, then maybe the optional ones. */
const positionalArb = (op: OpName): fc.Arbitrary<string[]> =>
  fc.tuple(...ops[op].args.map((a) => (a.variadic ? fc.array(nastyStringArb, { maxLength: 3 }) : a.required ? nastyStringArb.map((s) => [s]) : fc.option(nastyStringArb, { nil: undefined }).map((s) => (s === undefined ? [] : [s]))))).map((parts) => parts.flat())

interface Written {
  readonly request: Request
  readonly argv: string[]
}

/**
 * A request and an argv that says it: flags in any order and spelling, the positionals that
 * cannot be read as flags among them, and the rest after `--`.
 */
const writtenArb: fc.Arbitrary<Written> = fc
  .tuple(fc.constantFrom(...modes), fc.constantFrom(...opList), fc.boolean())
  .chain(([mode, op, viaLs]) =>
    fc
      .tuple(
        fc.subarray([...flagsOf(mode, op)]).chain((names) => fc.tuple(...names.map((n) => valueArb(n).map((v) => [n, v] as const)))),
        positionalArb(op),
        fc.infiniteStream(fc.nat()),
      )
      .chain(([given, positional, seeds]) => {
        const flagWords = given.flatMap(([name, v]) => (Array.isArray(v) ? v.map((x) => [name, x] as const) : [[name, v] as const]))
        return fc.tuple(...flagWords.map(([name, v]) => fc.constantFrom(...spellings(name, v)))).map((spelled) => {
          const seed = seeds.take(spelled.length + positional.length + 1)
          const order = [...seed]
          // Positionals before the first one that starts with "-" may sit among the flags, in order.
          const cut = positional.findIndex((p) => p.startsWith('-'))
          const free = cut === -1 ? positional : positional.slice(0, cut)
          const rest = cut === -1 ? [] : positional.slice(cut)
          const words: string[][] = [...spelled]
          let last = -1
          for (const [i, p] of free.entries()) {
            last += 1 + ((order[i] ?? 0) % (words.length - last))
            words.splice(last, 0, [p])
          }
          const head = viaLs && op === 'ls' && mode === 'run' ? ['ls'] : [mode, op]
          const argv = [...head, ...words.flat(), ...(rest.length > 0 || (order.at(-1) ?? 0) % 2 === 0 ? ['--', ...rest] : [])]
          const values = Object.fromEntries(given.map(([name, v]) => [camel(name), v]))
          const flags = { env: [], secret: [], format: 'text', pane: 'split', ...values } as Flags
          return { request: { mode, op, positional, flags }, argv }
        })
      }),
  )

describe('argv written from a Request parses back to it', () => {
  test.prop([writtenArb], { numRuns: runs * 20 })('every operation, flag, spelling and order', ({ request, argv }) => {
    expect(parseRequest(argv)).toStrictEqual({ _tag: 'request', request })
  })

  it('a repeatable flag keeps every value in order; another flag the last one', () => {
    const r = parseRequest(['plan', 'exec', 'demo', 'true', '-e', 'A=1', '--env=B=2', '-eC=3', '--user', 'a', '--user', 'b'])
    expect(r._tag === 'request' && r.request.flags).toMatchObject({ env: ['A=1', 'B=2', 'C=3'], user: 'b' })
  })

  it('--tty and --no-tty: the last one counts', () => {
    const last = (words: string[]) => {
      const r = parseRequest(['plan', 'agent', 'demo', ...words])
      return r._tag === 'request' ? r.request.flags.tty : r
    }
    expect(last(['--tty', '--no-tty'])).toBe(false)
    expect(last(['--no-tty', '--tty'])).toBe(true)
    expect(last([])).toBeUndefined()
  })

  it('after --, words are the agent\'s own, --help included', () => {
    const r = parseRequest(['run', 'agent', 'demo', '--', '-p', '--help', '--tty'])
    expect(r._tag === 'request' && r.request).toMatchObject({ positional: ['demo', '-p', '--help', '--tty'], flags: { env: [] } })
  })

  it('a value that starts with "-" is the value of the flag before it', () => {
    const r = parseRequest(['plan', 'launch', 'demo', '--image', '-v'])
    expect(r._tag === 'request' && r.request.flags.image).toBe('-v')
  })
})

// -------------------------------------------------------------------------------------------------
// which flags each operation takes
// -------------------------------------------------------------------------------------------------

const cells = modes.flatMap((mode) => opList.map((op) => [mode, op] as const))
const argsFor = (op: OpName): string[] => ops[op].args.filter((a) => a.required).map((a) => (a.name === 'host-path' ? '/etc/hostname' : a.name === 'guest-path' ? '/x' : 'demo'))
const sample = (name: FlagName): string[] => {
  const d = docOf(name)
  return d.value === undefined ? [`--${name}`] : [`--${name}`, d.choices?.[0] ?? 'x']
}

describe.each(cells)('bottle %s %s', (mode: Mode, op: OpName) => {
  it.each(allFlags)('--%s: taken if the table says so, else refused in one line', (name) => {
    const r = parseRequest([mode, op, ...argsFor(op), ...sample(name)])
    if (flagsOf(mode, op).includes(name)) {
      expect(r._tag).toBe('request')
      expect(r._tag === 'request' && r.request.flags[camel(name) as keyof Flags]).toBeDefined()
    } else expect(r).toStrictEqual({ _tag: 'invalid', message: `unknown option '--${name}': ${mode} ${op} does not take it (bottle ${mode} ${op} --help)` })
  })
})

describe('refusals: one line each, never a Request', () => {
  it.each([
    [['plan', 'launch', 'demo', '--bogus'], "unknown option '--bogus' (bottle plan launch --help)"],
    [['plan', 'launch', 'demo', '-x'], "unknown option '-x' (bottle plan launch --help)"],
    [['plan', 'launch', 'demo', '--a\nb'], "unknown option '--a\\x0ab' (bottle plan launch --help)"],
    [['plan', 'launch', 'demo', '--image'], "option '--image <image>' argument missing"],
    [['plan', 'launch', 'demo', '-b'], "option '-b <backend>' argument missing"],
    [['plan', 'launch', 'demo', '--allow-root=yes'], "option '--allow-root' takes no value"],
    [['plan', 'launch', 'demo', '--format', 'yaml'], '--format "yaml" must be one of text, json, sh'],
    [['plan', 'attach', 'demo', '--pane', 'tab'], '--pane "tab" must be one of split, respawn, window'],
    [['plan', 'launch', 'demo', '--no-image'], "unknown option '--no-image' (bottle plan launch --help)"],
    [['run', 'exec', 'demo'], "missing required argument 'script' (bottle run exec --help)"],
    [['run', 'launch'], "missing required argument 'name' (bottle run launch --help)"],
    [['run', 'launch', 'demo', 'extra'], 'too many arguments: run launch takes <name> (bottle run launch --help)'],
    [['ls', 'demo'], 'too many arguments: ls takes none (bottle ls --help)'],
    [['run', 'ls', '--workdir', '.'], "unknown option '--workdir': run ls does not take it (bottle run ls --help)"],
    [['plan', 'update', 'demo', '--yes'], "unknown option '--yes': plan update does not take it (bottle plan update --help)"],
    [['plan', 'ls', '--json'], "unknown option '--json': plan ls does not take it (bottle plan ls --help)"],
    [[], 'say plan or run, then an operation (bottle --help)'],
    [['launch', 'demo'], 'say plan or run before "launch": bottle plan launch …, bottle run launch … (bottle --help)'],
    [['bogus'], 'unknown command "bogus": say plan or run, then an operation (bottle --help)'],
    [['--bogus'], "unknown option '--bogus': say plan or run, then an operation (bottle --help)"],
    [['run'], 'say which operation to run: launch, agent, exec, shell, cp, resume, attach, update, probe, fetch, down, ls, auth (bottle run --help)'],
    [['plan', 'Launch'], 'unknown operation "Launch": choose one of launch, agent, exec, shell, cp, resume, attach, update, probe, fetch, down, ls, auth (bottle plan --help)'],
    [['plan', '-b', 'docker', 'launch'], "unknown option '-b': say which operation to plan first (bottle plan --help)"],
    [['help', 'bogus'], 'unknown command "bogus": say plan or run (bottle --help)'],
    [['run', 'help', 'bogus'], 'unknown operation "bogus": choose one of launch, agent, exec, shell, cp, resume, attach, update, probe, fetch, down, ls, auth (bottle run --help)'],
  ])('%j', (argv, message) => {
    expect(parseRequest(argv)).toStrictEqual({ _tag: 'invalid', message })
  })

  test.prop([fc.array(fc.oneof(nastyStringArb, fc.constantFrom('plan', 'run', 'ls', 'help', 'dash', '--', '-b', '--help', '--plan', ...opList, ...allFlags.map((f) => `--${f}`))), { maxLength: 8 })], { numRuns: runs * 10 })(
    'any argv: a Request, help, the version, a saved plan, the dashboard, or one line with no control character',
    (argv) => {
      const r = parseRequest(argv)
      // `run --plan FILE` (a saved plan) and `dash` are whole answers too: ['run', '--plan', 'claude'] is one.
      expect(['request', 'help', 'version', 'savedPlan', 'dash', 'invalid']).toContain(r._tag)
      if (r._tag === 'invalid') expect(r.message).toMatch(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/)
    },
  )
})

describe('help and version', () => {
  it.each([
    [['--help'], { _tag: 'bottle' }],
    [['-h', 'anything'], { _tag: 'bottle' }],
    [['help'], { _tag: 'bottle' }],
    [['help', 'run'], { _tag: 'mode', mode: 'run' }],
    [['help', 'plan', 'exec'], { _tag: 'op', mode: 'plan', op: 'exec' }],
    [['help', 'ls'], { _tag: 'op', mode: 'run', op: 'ls', ls: true }],
    [['run', '--help'], { _tag: 'mode', mode: 'run' }],
    [['run', 'help', 'exec'], { _tag: 'op', mode: 'run', op: 'exec' }],
    [['plan', 'exec', '--bogus', '-h'], { _tag: 'op', mode: 'plan', op: 'exec' }],
    [['ls', '--help'], { _tag: 'op', mode: 'run', op: 'ls', ls: true }],
  ])('%j', (argv, topic) => {
    expect(parseRequest(argv)).toStrictEqual({ _tag: 'help', topic })
  })

  it('"help" after an operation is a bottle name', () => {
    const r = parseRequest(['plan', 'launch', 'help'])
    expect(r._tag === 'request' && r.request.positional).toStrictEqual(['help'])
  })

  it.each([['--version'], ['-V']])('%s', (flag) => {
    expect(parseRequest([flag])).toStrictEqual({ _tag: 'version' })
  })
})

describe('bottle run --plan FILE [-q]: a saved plan, and no operation', () => {
  it.each([
    [['run', '--plan', 'p.json'], { _tag: 'savedPlan', file: 'p.json', quiet: false }],
    [['run', '--plan=p.json', '-q'], { _tag: 'savedPlan', file: 'p.json', quiet: true }],
    [['run', '--plan', 'p.json', 'exec'], { _tag: 'invalid', message: 'bottle run --plan FILE takes only -q besides (the plan says the rest): not "exec"; nothing was run' }],
    [['run', '--plan', 'p.json', '-b', 'docker'], { _tag: 'invalid', message: "bottle run --plan FILE takes only -q besides (the plan says the rest): unknown option '-b': run --plan does not take it (bottle run --plan --help); nothing was run" }],
    [['run', '--plan='], { _tag: 'invalid', message: '--plan needs a file: bottle run --plan FILE [-q]; nothing was run' }],
    [['run', 'exec', 'demo', 'true', '--plan', 'p.json'], { _tag: 'invalid', message: "unknown option '--plan': run exec does not take it (bottle run exec --help)" }],
    [['plan', '--plan', 'p.json'], { _tag: 'invalid', message: "unknown option '--plan': say which operation to plan first (bottle plan --help)" }],
  ])('%j', (argv, parsed) => {
    expect(parseRequest(argv)).toStrictEqual(parsed)
  })
})
