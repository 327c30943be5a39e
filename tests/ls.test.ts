/**
 * `bottle ls` output, from parsed rows: ages, the aligned table with its drift lines, the JSON,
 * and which manifest entry a listed bottle is compared with.
 */
import { agentHosts, agentProfiles } from '../src/bottle-spec/agent.js'
import { describe, expect, it } from 'vitest'
import { launchLabels, specHashLabel } from '../src/backends/backend.js'
import { encodeRecord, recordOf } from '../src/bottle-spec/record.js'
import type { BottleRow } from '../src/backends/backend.js'
import { type ListedBottle, ageText, driftFor, renderLsJson, renderLsText } from '../src/ls.js'
import type { Manifest } from '../src/bottle-spec/manifest.js'
import { type BottleSpec, noResources } from '../src/bottle-spec/spec.js'
import { noLimits } from '../src/bottle-spec/limits.js'
import { defaultProvision } from '../src/bottle-spec/provision.js'

const now = Date.UTC(2026, 10, 26, 12, 0, 0)
const ago = (seconds: number): number => now - seconds * 1000

describe('ageText', () => {
  it.each([
    [null, '-'],
    [ago(0), '0s'],
    [ago(59), '59s'],
    [ago(60), '1m'],
    [ago(3599), '59m'],
    [ago(3600), '1h'],
    [ago(47 * 3600 + 3599), '47h'],
    [ago(48 * 3600), '2d'],
    [ago(400 * 86400), '400d'],
    // A clock behind the daemon's: not a negative age.
    [now + 5000, '0s'],
  ] as const)('%s → %s', (createdAt, text) => {
    expect(ageText(createdAt, now)).toBe(text)
  })
})

const spec: BottleSpec = {
  name: 'demo', image: 'node:22', user: 'node', workdir: '/src/app', env: [['CI', '1']], secrets: ['TOKEN'],
  prompt: null, agent: agentProfiles.claude, allowRoot: false,
  // No network key: egress with the agent's hosts.
  network: { mode: 'egress', allow: agentHosts(agentProfiles.claude) }, context: null, namespace: null, resources: noResources, limits: noLimits, provision: defaultProvision, auth: 'token', workspace: null,
}
const labels = new Map(launchLabels(spec, 'node:22'))
const recorded = { specHash: labels.get(specHashLabel) ?? null, spec: encodeRecord(recordOf(spec, 'node:22')) }
const row = (more: Partial<BottleRow>): BottleRow => ({
  name: 'demo', backend: 'docker', state: 'running', createdAt: ago(300), image: 'node:22', specHash: null, spec: null, ...more,
})
const manifest = (bottles: Manifest['bottles'], backend?: Manifest['backend']): Manifest => ({ file: 'bottle.yaml', bottles, ...(backend === undefined ? {} : { backend }) })
const declared = { image: 'node:22', workdir: '/src/app', env: [['CI', '1']], secrets: ['TOKEN'] } as const

describe('driftFor', () => {
  it.each([
    ['no manifest', null, 'undeclared'],
    ['a manifest without the bottle', manifest({ other: {} }), 'undeclared'],
    ['the bottle declared for another backend', manifest({ demo: { ...declared, backend: 'smolvm' } }), 'undeclared'],
    ['the manifest default backend is another', manifest({ demo: declared }, 'smolvm'), 'undeclared'],
    ['declared as launched', manifest({ demo: declared }), 'same'],
    ['declared, since changed', manifest({ demo: { ...declared, image: 'node:24' } }), 'drifted'],
    // The allow-list is in the spec hash: one host more is drift.
    ['declared, a host allowed since', manifest({ demo: { ...declared, network: { mode: 'egress', allow: [{ host: 'github.com', port: 443, private: false }] } } }), 'drifted'],
    ['declared as network: open since', manifest({ demo: { ...declared, network: { mode: 'open' } } }), 'drifted'],
  ] as const)('%s', (_label, m, tag) => {
    expect(driftFor(row(recorded), m, '/elsewhere')._tag).toBe(tag)
  })

  it('a bottle named like an Object.prototype key is not declared by every manifest', () => {
    expect(driftFor(row({ name: 'constructor' }), manifest({}), '/src/app')._tag).toBe('undeclared')
  })
})

describe('renderLsText', () => {
  const bottles: ListedBottle[] = [
    { ...row(recorded), drift: { _tag: 'same' } },
    {
      ...row({ name: 'web-é', state: 'exited', createdAt: ago(3 * 86400), image: 'ghcr.io/acme/agent:1.2' }),
      drift: {
        _tag: 'drifted',
        differences: [
          { field: 'image', key: null, change: 'changed', from: 'ghcr.io/acme/agent:1.2', to: 'ghcr.io/acme/agent:1.3', appliesAt: 'launch' },
          { field: 'env', key: 'CI', change: 'changed', from: null, to: null, appliesAt: 'exec' },
        ],
      },
    },
    { ...row({ name: 'old', backend: 'smolvm', state: 'stopped', createdAt: null, image: null }), drift: { _tag: 'unknown', reason: 'it was launched without a recorded spec' } },
    { ...row({ name: 'stray' }), drift: { _tag: 'undeclared' } },
  ]

  it('aligns the columns and explains each drift below the table', () => {
    expect(renderLsText(bottles, now, 'bottle.yaml')).toMatchInlineSnapshot(`
      "NAME   BACKEND  STATE    AGE  IMAGE                   NETWORK            DRIFT
      demo   docker   running  5m   node:22                 egress: 3 allowed  no
      web-é  docker   exited   3d   ghcr.io/acme/agent:1.2  -                  image,env CI
      old    smolvm   stopped  -    -                       -                  unknown
      stray  docker   running  5m   node:22                 -                  -

      web-é (docker) has drifted from bottle.yaml: image ghcr.io/acme/agent:1.2 → ghcr.io/acme/agent:1.3 (relaunch to apply); env CI changed (bottle run update applies it)
      old (smolvm): cannot tell whether it has drifted from bottle.yaml: it was launched without a recorded spec
      "
    `)
  })

  it('prints only the header when there are no bottles', () => {
    expect(renderLsText([], now, 'bottle.yaml')).toBe('NAME  BACKEND  STATE  AGE  IMAGE  NETWORK  DRIFT\n')
  })

  it('shows control characters from a backend as escapes, not as terminal input', () => {
    const text = renderLsText([{ ...row({ name: 'x\u001b[2Jy', image: 'a\nb' }), drift: { _tag: 'undeclared' } }], now, 'bottle.yaml')
    expect(text).not.toMatch(/[\u001b]/)
    expect(text.split('\n')).toHaveLength(3)
  })
})

describe('renderLsJson', () => {
  it('one object per bottle: the recorded spec with env names only, and the drift', () => {
    const json = (JSON.parse(renderLsJson([{ ...row(recorded), drift: { _tag: 'same' } }], [], now, 'bottle.yaml')) as { bottles: unknown }).bottles
    expect(json).toMatchInlineSnapshot(`
      [
        {
          "age": "5m",
          "backend": "docker",
          "created": "2026-11-26T11:55:00.000Z",
          "drift": {
            "differences": [],
            "source": "bottle.yaml",
            "status": "same",
          },
          "image": "node:22",
          "name": "demo",
          "spec": {
            "agent": "claude",
            "auth": null,
            "env": [
              "CI",
            ],
            "image": "node:22",
            "limits": null,
            "network": "allow api.anthropic.com:443 claude.ai:443 platform.claude.com:443",
            "prompt": null,
            "provision": null,
            "secrets": [
              "TOKEN",
            ],
            "user": "node",
            "workdir": "/src/app",
            "workspace": null,
          },
          "specHash": "a7d129f7a259",
          "state": "running",
        },
      ]
    `)
  })
})

describe('renderLsJson: backends not listed', () => {
  it('lists them under unreachable, each with its reason, beside the bottles of the others', () => {
    const json = JSON.parse(renderLsJson([], [{ backend: 'docker', reason: 'Cannot connect to the Docker daemon' }], now, 'bottle.yaml')) as unknown
    expect(json).toStrictEqual({ bottles: [], unreachable: [{ backend: 'docker', reason: 'Cannot connect to the Docker daemon' }] })
  })
})
