/**
 * The JSON Schema (draft 2020-12) of a plan as `bottle plan … --format json` prints it and
 * `bottle run --plan FILE` reads it back (src/plan/types.ts is the model). Published as
 * schema/plan.schema.json by scripts/write-schema.ts; bottle itself never loads it: the hand
 * decoder in src/plan/decode.ts checks the same rules, and a property test holds the two to
 * agreeing on generated plans and generated corruptions of them.
 *
 *   $ bottle plan exec demo 'npm test' -b docker --format json > plan.json
 *   $ npx ajv-cli validate --spec=draft2020 -s schema/plan.schema.json -d plan.json
 */
import { networkTextRule } from '../egress/policy.js'
import { envNamePattern, noNulPattern, specHashPattern } from './decode.js'
import { backendNames, opNames, planVersion } from './types.js'

const string = { type: 'string' } as const
const word = { type: 'string', pattern: noNulPattern } as const
const words = { type: 'array', items: word } as const
const envName = { type: 'string', pattern: envNamePattern } as const
const count = { type: 'integer', minimum: 0 } as const
const pair = { type: 'array', prefixItems: [string, string], items: false, minItems: 2 } as const

const object = (required: readonly string[], properties: Record<string, unknown>, description?: string) =>
  ({
    type: 'object',
    ...(description === undefined ? {} : { description }),
    required,
    properties,
    additionalProperties: false,
  }) as const

const tagged = (tag: string, more: Record<string, unknown> = {}, optional: Record<string, unknown> = {}) =>
  object(['_tag', ...Object.keys(more)], { _tag: { const: tag }, ...more, ...optional })

const stepRef = { $ref: '#/$defs/step' } as const

export const planSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'bottle plan',
  description:
    'What `bottle plan OP … --format json` prints and `bottle run --plan FILE` runs: every process a run starts, in order, with its argv, environment (secrets by name only) and stdin, and what undoes it. Version 1.',
  ...object(
    ['version', 'op', 'backend', 'bottle', 'steps', 'secrets', 'notes', 'exitCodeFrom'],
    {
      version: { const: planVersion, description: 'The plan format; bottle refuses any other.' },
      op: { enum: opNames },
      backend: { enum: backendNames },
      bottle: { ...word, description: "The bottle's name; empty for ls." },
      steps: { type: 'array', items: stepRef },
      secrets: { type: 'array', items: envName, description: 'Every host env var a step needs; checked before the first step runs.' },
      notes: { type: 'array', items: { $ref: '#/$defs/note' }, description: 'Facts for people, as typed values; `bottle plan` renders them as text.' },
      exitCodeFrom: { oneOf: [count, { type: 'null' }], description: "The step whose exit code becomes the run's; null: 0 when every step succeeded." },
      basis: { $ref: '#/$defs/basis' },
    },
  ),
  $defs: {
    step: object(
      ['title', 'argv', 'env', 'stdio', 'stdin', 'tolerate', 'undo'],
      {
        title: string,
        argv: { ...words, minItems: 1, description: 'The program and its arguments; argv[0] is looked up on PATH.' },
        env: object(['inheritHost', 'vars'], { inheritHost: { type: 'boolean' }, vars: { type: 'array', items: { $ref: '#/$defs/envVar' } } }),
        stdio: { enum: ['terminal', 'passthrough', 'quiet', 'capture'] },
        stdin: { $ref: '#/$defs/stdin' },
        guest: { $ref: '#/$defs/guest' },
        tolerate: { type: 'array', items: object(['exitCode', 'stderrIncludes'], { exitCode: { type: 'integer' }, stderrIncludes: string }) },
        undo: { type: 'array', items: stepRef },
        liveCheck: object(['codes', 'step', 'running'], { codes: { type: 'array', items: { type: 'integer' } }, step: stepRef, running: string }),
        pane: stepRef,
        timeoutMs: { type: 'integer', minimum: 1 },
        launchId: { type: 'array', items: count, description: 'Positions of the argv words the run\'s launch id is appended to when it runs.' },
        onInterrupt: { type: 'array', items: stepRef },
      },
      'One process: run in order; its undo steps run, newest first, if a later step fails or the run is interrupted.',
    ),
    envVar: {
      oneOf: [
        tagged('plain', { name: envName, value: word }),
        tagged('secret', { name: envName }, { from: { ...envName, description: 'The host env var the value is read from (absent: name).' } }),
      ],
    },
    jsonPath: { type: 'array', items: { oneOf: [string, count] } },
    stdin: {
      oneOf: [
        tagged('none'),
        tagged('text', { text: string }),
        tagged(
          'json',
          {
            document: { description: 'Any JSON; each slot holds an empty string, filled when the step runs.' },
            secrets: { type: 'array', items: object(['path', 'secret'], { path: { $ref: '#/$defs/jsonPath' }, secret: envName }) },
          },
          { launchId: { type: 'array', items: { $ref: '#/$defs/jsonPath' } } },
        ),
      ],
    },
    guest: object(['framing', 'tail', 'intent'], {
      framing: words,
      tail: words,
      intent: object(['user', 'home', 'env', 'secrets', 'cwd', 'argv', 'tty', 'stdin'], {
        user: string,
        home: string,
        env: { type: 'array', items: pair },
        secrets: { type: 'array', items: string },
        cwd: string,
        argv: { type: 'array', items: string },
        tty: { type: 'boolean' },
        stdin: { type: 'boolean' },
      }),
      wrapper: object(['before', 'after'], { before: words, after: words, prelude: string }),
    }),
    note: {
      oneOf: [
        tagged('backend', { backend: { enum: backendNames }, why: string }),
        tagged('drift', { against: { enum: ['manifest', 'live'] }, text: string }),
        tagged('update', { change: string }),
        tagged('notApplied', { change: string }),
        tagged('nothingToUpdate', { bottle: string }),
        tagged('signIn', { how: { enum: ['token', 'shared'] }, secrets: { type: 'array', items: string }, dir: { type: ['string', 'null'] } }),
        tagged('info', { text: string }),
      ],
    },
    basis: {
      description: "The bottle's launch record the plan was made against: a saved plan is refused once the bottle no longer matches it.",
      oneOf: [
        tagged('unlaunched'),
        tagged('recorded', {
          hash: { type: 'string', pattern: specHashPattern },
          record: object(['v', 'image', 'user', 'workdir', 'env', 'secrets', 'prompt', 'network', 'agent'], {
            v: { const: 1 },
            image: string,
            user: string,
            workdir: string,
            env: { type: 'array', items: pair, description: '[KEY, digest of KEY=VALUE]: never a value.' },
            secrets: { type: 'array', items: string },
            prompt: { type: ['string', 'null'] },
            network: { type: 'string', pattern: networkTextRule.source, description: 'open, none, host, or `allow` and the allow-list entries, sorted.' },
            agent: string,
            limits: { type: ['string', 'null'], description: 'cpus=N memory=SIZE pids=N, the set ones; absent or null: none.' },
            provision: { type: ['string', 'null'], description: 'install or off, then scripts=N:DIGEST and allow=ENTRIES when set; absent or null: the default install only.' },
            auth: { type: ['string', 'null'], description: 'shared for auth: shared; absent or null: a token (the default).' },
            workspace: { type: ['string', 'null'], description: "copy for workspace: copy; absent or null: bind, or the backend's default." },
          }),
        }),
      ],
    },
  },
} as const
