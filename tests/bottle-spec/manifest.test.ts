import { readFileSync } from 'node:fs'
import { fc, test } from '@fast-check/vitest'
// The named export: under NodeNext the default import of this CommonJS module is not the class.
import { Ajv2020 } from 'ajv/dist/2020.js'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { agentProfiles } from '../../src/bottle-spec/agent.js'
import { type Manifest, parseManifest } from '../../src/bottle-spec/manifest.js'
import { manifestSchema } from '../../src/bottle-spec/schema.js'

const file = 'bottle.yaml'
const base = '/work/proj'

const parsed = (text: string): Manifest => {
  const r = parseManifest(file, text, base)
  if (E.isLeft(r)) throw new Error(`expected a manifest, got: ${r.left.message}`)
  return r.right
}

const errorOf = (text: string): string => {
  const r = parseManifest(file, text, base)
  if (E.isRight(r)) throw new Error(`expected an error, got: ${JSON.stringify(r.right)}`)
  return r.left.message
}

describe('parseManifest', () => {
  it('parses a full manifest into one layer per bottle', () => {
    const text = [
      'backend: docker',
      'bottles:',
      '  demo:',
      '    image: node:22',
      '    user: node',
      '    workdir: ./app',
      '    env: { CI: "1", DEBUG: true, N: 3, V: 1.10 }',
      '    secrets: [CLAUDE_CODE_OAUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN]',
      '    prompt: ./prompt.md',
      '    agent: claude',
      '    allow_root: true',
      '    network: none',
      '    backend: smolvm',
      '    context: arn:aws:eks:eu-west-1:123456789012:cluster/agents',
      '    namespace: agents',
      '    resources: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: 2, nvidia.com/gpu: 1, memory: 0.5 } }',
      '  bare: {}',
      '',
    ].join('\n')
    expect(parsed(text)).toEqual<Manifest>({
      file,
      backend: 'docker',
      bottles: {
        demo: {
          image: 'node:22',
          user: 'node',
          workdir: '/work/proj/app',
          env: [
            ['CI', '1'],
            ['DEBUG', 'true'],
            ['N', '3'],
            ['V', '1.10'],
          ],
          secrets: ['CLAUDE_CODE_OAUTH_TOKEN'],
          prompt: '/work/proj/prompt.md',
          agent: agentProfiles.claude,
          allowRoot: true,
          network: { mode: 'none' },
          backend: 'smolvm',
          context: 'arn:aws:eks:eu-west-1:123456789012:cluster/agents',
          namespace: 'agents',
          resources: {
            requests: [
              ['cpu', '500m'],
              ['memory', '1Gi'],
            ],
            limits: [
              ['cpu', '2'],
              ['nvidia.com/gpu', '1'],
              ['memory', '0.5'],
            ],
          },
        },
        bare: {},
      },
    })
  })

  it.each([
    ['claude', agentProfiles.claude],
    ['codex', agentProfiles.codex],
    ['/opt/bin/my agent', { name: 'custom', command: '/opt/bin/my agent', promptFlag: null, continueArgs: [], refusesRoot: false, rootEnv: [] }],
    [
      '{ command: aider, promptFlag: --read, continueArgs: [--restore-chat-history], refusesRoot: true }',
      { name: 'custom', command: 'aider', promptFlag: '--read', continueArgs: ['--restore-chat-history'], refusesRoot: true, rootEnv: [] },
    ],
    ['{ command: "x;", promptFlag: null }', { name: 'custom', command: 'x;', promptFlag: null, continueArgs: [], refusesRoot: false, rootEnv: [] }],
  ] as const)('reads agent: %s as a profile', (agent, profile) => {
    expect(parsed(`bottles: { demo: { agent: ${agent} } }`).bottles['demo']).toEqual({ agent: profile })
  })

  it.each(['', '# only a comment\n', '---\n', 'bottles: {}\n'])('reads %j as no bottles', (text) => {
    expect(parsed(text)).toEqual<Manifest>({ file, bottles: {} })
  })

  it('resolves relative paths against the manifest directory, lexically', () => {
    const layer = (workdir: string, prompt: string) =>
      parsed(stringify({ bottles: { b: { workdir, prompt } } })).bottles['b']
    expect(layer('./app', 'prompt.md')).toEqual({ workdir: '/work/proj/app', prompt: '/work/proj/prompt.md' })
    expect(layer('.', '../common/p.md')).toEqual({ workdir: '/work/proj', prompt: '/work/common/p.md' })
    expect(layer('/abs//dir/', '/etc/./p.md')).toEqual({ workdir: '/abs/dir', prompt: '/etc/p.md' })
  })

  it('keeps a bottle named __proto__ as an own key', () => {
    const m = parsed('bottles:\n  __proto__: { user: root }\n')
    expect(Object.keys(m.bottles)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(m.bottles)).toBe(Object.prototype)
  })

  const errors: readonly (readonly [string, string])[] = [
    // unknown keys
    ['colour: red', 'bottle.yaml: colour: unknown key (known: backend, bottles)'],
    [
      'bottles: { demo: { colour: red } }',
      'bottle.yaml: bottles.demo.colour: unknown key (known: image, user, workdir, env, secrets, prompt, agent, allow_root, network, backend, context, namespace, resources, limits, auth, provision, provision_allow, workspace)',
    ],
    // wrong types
    ['- a\n- b', 'bottle.yaml: must be a mapping, not a list'],
    ['bottles: [demo]', 'bottle.yaml: bottles: must be a mapping of bottle names, not a list'],
    ['bottles: { demo: x }', 'bottle.yaml: bottles.demo: must be a mapping, not a string'],
    ['bottles: { demo: { image: 3 } }', 'bottle.yaml: bottles.demo.image: must be a string, not a number'],
    ['bottles: { demo: { user: } }', 'bottle.yaml: bottles.demo.user: must be a string, not null'],
    ['bottles: { demo: { env: [A] } }', 'bottle.yaml: bottles.demo.env: must be a mapping of names to values, not a list'],
    ['bottles: { demo: { env: { A: [1] } } }', 'bottle.yaml: bottles.demo.env.A: must be a string, number or boolean, not a list'],
    ['bottles: { demo: { secrets: TOKEN } }', 'bottle.yaml: bottles.demo.secrets: must be a list of names, not a string'],
    ['bottles: { demo: { secrets: [A, 1] } }', 'bottle.yaml: bottles.demo.secrets[1]: must be a string, not a number'],
    // values, checked by the shared smart constructors
    ['bottles: { demo: { env: { 1X: a } } }', 'bottle.yaml: bottles.demo.env.1X: env key "1X" must match [A-Za-z_][A-Za-z0-9_]*'],
    ['bottles: { demo: { env: { HOME: /h } } }', 'bottle.yaml: bottles.demo.env.HOME: env HOME is set by bottle from the user (set user instead)'],
    ['bottles: { demo: { env: { A: "x\\0y" } } }', 'bottle.yaml: bottles.demo.env.A: the value of env A "x\\u0000y" contains a NUL byte'],
    ['bottles: { demo: { secrets: [_] } }', 'bottle.yaml: bottles.demo.secrets[0]: secret name "_" cannot be used: shells set $_ to the path of the command they run'],
    ['bottles: { demo: { secrets: [OK, 9X] } }', 'bottle.yaml: bottles.demo.secrets[1]: secret name "9X" must match [A-Za-z_][A-Za-z0-9_]*'],
    ['bottles: { demo: { env: { T: x }, secrets: [T] } }', 'bottle.yaml: bottles.demo.secrets[0]: T is both a plain env entry and a secret'],
    ['bottles: { demo: { user: Bob } }', 'bottle.yaml: bottles.demo.user: user "Bob" must be a user name matching [a-z_][a-z0-9_-]{0,31}'],
    ['bottles: { demo: { image: -v } }', 'bottle.yaml: bottles.demo.image: image "-v" must match ^[A-Za-z0-9/][A-Za-z0-9._/:@+-]*$'],
    ['bottles: { demo: { agent: "-x" } }', 'bottle.yaml: bottles.demo.agent: agent command "-x" must not start with "-" (it would be read as a flag)'],
    ['bottles: { demo: { agent: "" } }', 'bottle.yaml: bottles.demo.agent: agent command must not be empty'],
    ['bottles: { demo: { agent: [claude] } }', 'bottle.yaml: bottles.demo.agent: must be claude, codex, a command, or a mapping with command, promptFlag, continueArgs, refusesRoot; not a list'],
    ['bottles: { demo: { agent: { promptFlag: -p } } }', 'bottle.yaml: bottles.demo.agent.command: is required (the agent\'s binary)'],
    ['bottles: { demo: { agent: { command: a, colour: red } } }', 'bottle.yaml: bottles.demo.agent.colour: unknown key (known: command, promptFlag, continueArgs, refusesRoot)'],
    ['bottles: { demo: { agent: { command: -a } } }', 'bottle.yaml: bottles.demo.agent.command: agent command "-a" must not start with "-" (it would be read as a flag)'],
    ['bottles: { demo: { agent: { command: a, promptFlag: "" } } }', 'bottle.yaml: bottles.demo.agent.promptFlag: must not be empty (leave it out if the agent takes no prompt file)'],
    ['bottles: { demo: { agent: { command: a, promptFlag: 1 } } }', 'bottle.yaml: bottles.demo.agent.promptFlag: must be a string, not a number'],
    ['bottles: { demo: { agent: { command: a, continueArgs: --c } } }', 'bottle.yaml: bottles.demo.agent.continueArgs: must be a list of words, not a string'],
    ['bottles: { demo: { agent: { command: a, continueArgs: [ok, "x\\0"] } } }', 'bottle.yaml: bottles.demo.agent.continueArgs[1]: agent argument "x\\u0000" contains a NUL byte'],
    ['bottles: { demo: { agent: { command: a, refusesRoot: yes } } }', 'bottle.yaml: bottles.demo.agent.refusesRoot: must be true or false, not "yes"'],
    ['bottles: { demo: { allow_root: 1 } }', 'bottle.yaml: bottles.demo.allow_root: must be true or false, not a number'],
    ['bottles: { demo: { workdir: "" } }', 'bottle.yaml: bottles.demo.workdir: workdir must not be empty'],
    ['bottles: { demo: { prompt: "p\\0" } }', 'bottle.yaml: bottles.demo.prompt: prompt file "/work/proj/p\\u0000" contains a NUL byte'],
    ['bottles: { demo: { network: bridge } }', 'bottle.yaml: bottles.demo.network: must be one of open, none, host, default, not "bridge"'],
    // kubernetes keys
    ['bottles: { demo: { context: "" } }', 'bottle.yaml: bottles.demo.context: context "" must be a kubeconfig context name: not empty, no control characters'],
    ['bottles: { demo: { context: "a\tb" } }', 'bottle.yaml: bottles.demo.context: context "a\\tb" must be a kubeconfig context name: not empty, no control characters'],
    ['bottles: { demo: { namespace: Agents } }', 'bottle.yaml: bottles.demo.namespace: namespace "Agents" must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'],
    ['bottles: { demo: { namespace: 7 } }', 'bottle.yaml: bottles.demo.namespace: must be a string, not a number'],
    ['bottles: { demo: { resources: { cpu: 1 } } }', 'bottle.yaml: bottles.demo.resources.cpu: unknown key (known: requests, limits)'],
    ['bottles: { demo: { resources: { limits: [cpu] } } }', 'bottle.yaml: bottles.demo.resources.limits: must be a mapping of resource names to quantities, not a list'],
    ['bottles: { demo: { resources: { limits: { cpu: 1 cpu } } } }', 'bottle.yaml: bottles.demo.resources.limits.cpu: limits cpu "1 cpu" must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi'],
    ['bottles: { demo: { resources: { limits: { cpu: -1 } } } }', 'bottle.yaml: bottles.demo.resources.limits.cpu: must be a non-negative quantity, not -1'],
    ['bottles: { demo: { resources: { requests: { memory: [1] } } } }', 'bottle.yaml: bottles.demo.resources.requests.memory: must be a quantity (a string or a number), not a list'],
    ['bottles: { demo: { resources: { requests: { "-gpu": 1 } } } }', 'bottle.yaml: bottles.demo.resources.requests.-gpu: resource name "-gpu" must be a Kubernetes resource name such as cpu, memory or nvidia.com/gpu'],
    // provision (issue 14): false or a list of scripts; provision_allow: allow-list entries
    ['bottles: { demo: { provision: "npm i -g x" } }', 'bottle.yaml: bottles.demo.provision: must be a list of scripts (strings) or false, not a string'],
    ['bottles: { demo: { provision: true } }', 'bottle.yaml: bottles.demo.provision: must be a list of scripts (strings) or false, not true'],
    ['bottles: { demo: { provision: { run: x } } }', 'bottle.yaml: bottles.demo.provision: must be a list of scripts (strings) or false, not a mapping'],
    ['bottles: { demo: { provision: [echo, 3] } }', 'bottle.yaml: bottles.demo.provision[1]: must be a script (a string), not a number'],
    ['bottles: { demo: { provision: [echo, [x]] } }', 'bottle.yaml: bottles.demo.provision[1]: must be a script (a string), not a list'],
    ['bottles: { demo: { provision: ["  "] } }', 'bottle.yaml: bottles.demo.provision[0]: a provision script must not be empty'],
    ['bottles: { demo: { provision: ["a\\0b"] } }', 'bottle.yaml: bottles.demo.provision[0]: script "a\\u0000b" contains a NUL byte'],
    ['bottles: { demo: { provision_allow: deb.debian.org } }', 'bottle.yaml: bottles.demo.provision_allow: must be a list of hosts, not a string'],
    ['bottles: { demo: { provision_allow: [80] } }', 'bottle.yaml: bottles.demo.provision_allow[0]: must be a host name or address (a string), not a number'],
    ['backend: vmware', 'bottle.yaml: backend: must be one of smolvm, docker, podman, bwrap, kubernetes, not "vmware"'],
    ['bottles: { demo: { backend: [docker] } }', 'bottle.yaml: bottles.demo.backend: must be one of smolvm, docker, podman, bwrap, kubernetes, not a list'],
    // bottle names, and keys that need quoting to keep the path readable
    ['bottles: { -x: {} }', 'bottle.yaml: bottles.-x: bottle name "-x" must not start with "-" (it would be read as a flag)'],
    ['bottles: { "a.b": { user: 1 } }', 'bottle.yaml: bottles["a.b"].user: must be a string, not a number'],
    ['bottles: { "a\\nb": { x: 1 } }', 'bottle.yaml: bottles["a\\nb"].x: unknown key (known: image, user, workdir, env, secrets, prompt, agent, allow_root, network, backend, context, namespace, resources, limits, auth, provision, provision_allow, workspace)'],
    // YAML itself
    ['bottles:\n  demo: { image: [x }\n', 'bottle.yaml:2:21: YAML: expected "," or "]", not "}"'],
    ['bottles:\n  demo: {}\n  demo: {}\n', 'bottle.yaml:3:3: YAML: duplicate key "demo"'],
    ['a: 1\n---\nb: 2\n', 'bottle.yaml:2:1: YAML: several documents in one file are not supported'],
    ['bottles: !custom {}\n', 'bottle.yaml:1:10: YAML: tags (!) are not supported'],
    ['bottles: { demo: { image: !!binary aGk= } }', 'bottle.yaml:1:27: YAML: tags (!) are not supported'],
    ['bottles:\n  a: &x { image: x }\n  b: *x\n', 'bottle.yaml:2:6: YAML: anchors (&) are not supported'],
    ['bottles:\n\tdemo: {}\n', 'bottle.yaml:2:1: YAML: a tab in indentation (indent with spaces)'],
    ['bottles:\n  demo:\n    user: a\n   image: x\n', 'bottle.yaml:4:4: YAML: bad indentation: this line is indented more than the mapping it follows'],
    ['bottles:\n  demo: { user: "node }\n', 'bottle.yaml:2:17: YAML: an unterminated double-quoted string'],
    ['%YAML 1.2\n---\nbottles: {}\n', 'bottle.yaml:1:1: YAML: YAML directives (%) are not supported'],
    ['bottles:\n  ? demo\n  : {}\n', 'bottle.yaml:2:3: YAML: complex keys (?) are not supported'],
    ['bottles:\n' + '- '.repeat(100) + 'x\n', 'bottle.yaml:2:129: YAML: nested more than 64 levels deep'],
    [`bottles: ${'['.repeat(100)}`, 'bottle.yaml:1:74: YAML: nested more than 64 levels deep'],
  ]

  it.each(errors)('rejects %j with one line naming the file and key', (text, message) => {
    const got = errorOf(text)
    expect(got).toBe(message)
    expect(got).not.toMatch(/[\n\r]/)
  })

  test.prop([fc.string({ unit: 'binary' })])('any text gives a manifest or one line starting with the file', (text) => {
    const r = parseManifest(file, text, base)
    return E.isRight(r) || (r.left.message.startsWith(file) && !/[\u0000-\u001f]/.test(r.left.message))
  })
})

// -------------------------------------------------------------------------------------------------
// the published schema agrees with the parser
// -------------------------------------------------------------------------------------------------

describe('manifestSchema', () => {
  it('is what schema/bottle.schema.json holds', () => {
    const onDisk = readFileSync(new URL('../../schema/bottle.schema.json', import.meta.url), 'utf8')
    expect(onDisk).toBe(JSON.stringify(manifestSchema, null, 2) + '\n')
  })

  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true })
  const validate = ajv.compile(manifestSchema)

  // Each value is mostly one the parser should take, sometimes anything at all (a nasty string, a
  // wrong type): the property does not need to know which, only that both sides decide alike.
  const wrongType = fc.constantFrom<unknown>(3, 1.5, true, null, [], {}, ['a'], { a: 1 })
  const nasty = fc.constantFrom('', '-x', 'a b', 'x\0y', 'Bob', '1X', 'é', 'a;b', '$(id)', '..')
  const other = fc.oneof({ weight: 2, arbitrary: nasty }, fc.string(), wrongType)
  const mostly = <A, B>(valid: fc.Arbitrary<A>, invalid: fc.Arbitrary<B>): fc.Arbitrary<A | B> =>
    fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid })
  const mostlyMatching = (rule: RegExp, ...edges: string[]) =>
    mostly(fc.oneof(fc.stringMatching(rule), fc.constantFrom(...edges)), other)
  const path = mostly(
    fc.oneof(fc.constantFrom('./app', 'app/x', '/abs/dir', '../up', '/a/./b/', '.', 'é 🙂'), fc.string({ minLength: 1 })),
    fc.oneof(fc.constantFrom('', 'a\0b'), wrongType),
  )

  // Env names and secret names come from disjoint pools (secrets all start with S_, env names
  // never do): "a name both in env and in secrets" is the one rule JSON Schema cannot express, so
  // it never arises here (the example table covers it). HOME/USER are in the schema, and `.`/`..`
  // never reach absolutePath (paths are joined lexically), so both are generated. Not generated:
  // YAML-only values (.inf, tags, binary), and a null top level (an empty file is no bottles).
  const notSecret = (s: string) => !s.startsWith('S_')
  const envMap = fc.dictionary(
    mostly(
      fc.oneof(fc.stringMatching(/^[a-z_][A-Za-z0-9_]*$/), fc.constantFrom('CI', 'DEBUG', 'N')),
      fc.oneof(fc.constantFrom('HOME', 'USER', '1X', 'A-B', '', 'é'), fc.string().filter(notSecret)),
    ),
    mostly(
      fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
      fc.oneof(fc.constantFrom('a\0b'), wrongType),
    ),
    { maxKeys: 4 },
  )
  const secretNames = fc.array(
    mostly(fc.oneof(fc.stringMatching(/^S_[A-Z0-9_]*$/), fc.constant('S_TOKEN')), fc.oneof(fc.constantFrom('9X', 'a b', '', 'S_\0'), wrongType)),
    { maxLength: 3 },
  )
  const withUnknownKey = <T extends object>(arb: fc.Arbitrary<T>) =>
    fc
      .tuple(arb, mostly(fc.constant(null), fc.constantFrom('colour', 'Image', 'env ')))
      .map(([o, extra]) => (extra === null ? o : { ...o, [extra]: 1 }))

  const quantityArb = mostly(
    fc.oneof(
      fc.constantFrom('500m', '2', '0.5', '.5', '1Gi', '1e3', '1E', '1e-3'),
      fc.stringMatching(/^\d{1,4}(\.\d{1,3})?(Ki|Mi|Gi|m|k|M|G)?$/),
      fc.integer({ min: 0, max: 64 }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
    ),
    fc.oneof(fc.constantFrom('1 cpu', '5.', '-1', '', '1K', 'lots'), fc.constantFrom(-1, -0.5), wrongType),
  )
  const resourceNameArb = mostly(
    fc.constantFrom('cpu', 'memory', 'ephemeral-storage', 'nvidia.com/gpu', 'hugepages-2Mi'),
    fc.constantFrom('-gpu', 'a b', '', 'x/', '/y', 'é'),
  )
  const resourceMapArb = mostly(fc.dictionary(resourceNameArb, quantityArb, { maxKeys: 3 }), fc.oneof(fc.constant(['cpu']), wrongType))
  const resourcesArb = withUnknownKey(fc.record({ requests: resourceMapArb, limits: resourceMapArb }, { requiredKeys: [] }))

  // Numbers only as YAML writes them back the way they were made (no exponent, no long fraction).
  const limitsArb = withUnknownKey(
    fc.record(
      {
        cpus: mostly(
          fc.oneof(fc.constantFrom('1.5', '2', '0.25', '1.500', '0.001', '007'), fc.constantFrom(1, 2, 0.5, 1.25, 16)),
          fc.oneof(fc.constantFrom('0', '0.0', '-1', '1.2345', '1,5', '2 cpus', '', '.5'), fc.constantFrom(0, -1), wrongType),
        ),
        memory: mostly(
          fc.oneof(fc.constantFrom('512m', '4g', '1024k', '1.5G', '100b', '1T', '65536'), fc.integer({ min: 1, max: 2 ** 40 })),
          fc.oneof(fc.constantFrom('0', '0m', '512mb', '4Gi', '-1m', '1 g', '', 'm'), fc.constantFrom(0, -5, 1.5), wrongType),
        ),
        pids: mostly(
          fc.oneof(fc.integer({ min: 1, max: 4194304 }), fc.constantFrom('100', '1')),
          fc.oneof(fc.constantFrom('0', '-1', '1.5', '01', '', '1e3'), fc.constantFrom(0, -3, 2.5), wrongType),
        ),
      },
      { requiredKeys: [] },
    ),
  )

  const bottleArb = withUnknownKey(
    fc.record(
      {
        image: mostlyMatching(/^[A-Za-z0-9/][A-Za-z0-9._/:@+-]*$/, 'node:22', 'ghcr.io/a/b@sha256:ab12'),
        user: mostly(
          fc.oneof(fc.stringMatching(/^[a-z_][a-z0-9_-]{0,31}$/), fc.constantFrom('node', 'root', 'a'.repeat(32))),
          fc.oneof(other, fc.constant('a'.repeat(33))),
        ),
        workdir: path,
        env: mostly(envMap, fc.oneof(fc.constant('A=B'), wrongType)),
        secrets: mostly(secretNames, fc.oneof(fc.constant('S_TOKEN'), wrongType)),
        prompt: path,
        agent: mostly(
          fc.oneof(
            fc.oneof(fc.string({ minLength: 1 }).filter((s) => !s.startsWith('-')), fc.constantFrom('claude', 'codex', '/usr/bin/codex', 'a;')),
            withUnknownKey(
              fc.record(
                {
                  command: mostlyMatching(/^[a-z/][a-z0-9 ;/]*$/, 'aider', 'x;'),
                  promptFlag: mostly(fc.oneof(fc.constant(null), fc.string({ minLength: 1 })), fc.oneof(fc.constantFrom('', 'a\0'), wrongType)),
                  continueArgs: mostly(fc.array(fc.string(), { maxLength: 2 }), fc.oneof(fc.constant(['a\0']), wrongType)),
                  refusesRoot: mostly(fc.boolean(), fc.oneof(fc.constantFrom('yes', 'true'), wrongType)),
                },
                { requiredKeys: [] },
              ),
            ),
          ),
          fc.oneof(fc.constantFrom('', '-x', 'a\0b'), wrongType),
        ),
        allow_root: mostly(fc.boolean(), fc.oneof(fc.constantFrom('yes', 'true', 1), wrongType)),
        network: mostly(
          fc.oneof(fc.constantFrom('open', 'default', 'none', 'host'), fc.constant({ allow: ['github.com', '*.githubusercontent.com', 'github.com:443', '10.1.2.3:5432', '[::1]:8080', 'db.internal:5432/private'] }), fc.constant({})),
          fc.oneof(fc.constantFrom('bridge', 'None'), fc.constant({ allow: 'github.com' }), fc.constant({ deny: [] }), wrongType),
        ),
        backend: mostly(fc.constantFrom('smolvm', 'docker', 'bwrap', 'kubernetes'), fc.oneof(fc.constantFrom('vmware', 'Docker'), wrongType)),
        context: mostly(fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('lab', 'arn:aws:eks:x:1:cluster/a', 'a b')), fc.oneof(fc.constantFrom('', 'a\nb', 'x\0'), wrongType)),
        namespace: mostlyMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'default', 'a'.repeat(63), 'a'.repeat(64), 'Agents', '-a', 'a-'),
        resources: mostly(resourcesArb, fc.oneof(fc.constant({ cpu: 1 }), wrongType)),
        limits: mostly(limitsArb, fc.oneof(fc.constant([]), wrongType)),
      },
      { requiredKeys: [] },
    ),
  )
  const manifestArb = mostly(
    withUnknownKey(
      fc.record(
        {
          backend: mostly(fc.constantFrom('smolvm', 'docker', 'kubernetes'), fc.oneof(fc.constant('bwrap'), wrongType)),
          bottles: mostly(
            fc.dictionary(
              mostly(
                fc.oneof(fc.constantFrom('demo', 'web', 'a.b', 'my bottle', '1', 'é'), fc.string().map((s) => `b${s}`)),
                fc.oneof(fc.constantFrom('-x', '', 'x\0y'), fc.string()),
              ),
              bottleArb,
              { maxKeys: 3 },
            ),
            fc.oneof(fc.constant(['demo']), wrongType),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    fc.constantFrom<unknown>('text', 3, [], [{ bottles: {} }]),
  )

  test.prop([manifestArb], { numRuns: 1000 })('parseManifest accepts exactly what the schema accepts', (data) => {
    // One object generated twice (an fc.constant in two bottles) would be written once with an
    // anchor and then an alias: YAML bottle.yaml files do not use, and the manifest reader refuses.
    const text = stringify(data, { aliasDuplicateObjects: false })
    expect(parse(text)).toEqual(data) // both sides see the same data
    expect(E.isRight(parseManifest(file, text, base))).toBe(validate(data))
  })
})
