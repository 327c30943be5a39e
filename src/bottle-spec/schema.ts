/**
 * The JSON Schema of `bottle.yaml`, for editors (completion, hover text, red squiggles). It is
 * published as schema/bottle.schema.json by scripts/write-schema.ts; a property test shows that it
 * accepts exactly the manifests parseManifest accepts.
 *
 *   # yaml-language-server: $schema=./schema/bottle.schema.json
 *   bottles: { demo: { image: node:22, secrets: [CLAUDE_CODE_OAUTH_TOKEN] } }
 */
import { backendNames } from '../plan/types.js'
import { networkWords } from '../egress/policy.js'
import { quantityRule } from './validate.js'
import { maxPids } from './limits.js'

// The same rules as the smart constructors in validate.ts (which keep their regexes private).
const envKeyPattern = '^[A-Za-z_][A-Za-z0-9_]*$'
const userPattern = '^[a-z_][a-z0-9_-]{0,31}$'
const imagePattern = '^[A-Za-z0-9/][A-Za-z0-9._/:@+-]*$'
// An agent command: one argv word, not empty, not a flag (validate.ts agentCommand).
const agentPattern = '^[^\\u0000-][^\\u0000]*$'
const noNulPattern = '^[^\\u0000]*$'
const bottleNamePattern = '^[^\\u0000-][^\\u0000]*$'
const contextPattern = '^[^\\u0000-\\u001f\\u007f]+$'
// An allow-list entry's shape only; its full rules (public suffixes, ports) are parseEntry's.
const allowEntryPattern = '^[^\\s]+$'
const dns1123LabelPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
const resourceNamePattern = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$'

const resourceMap = (what: string) =>
  ({
    description: `${what} by resource name (cpu, memory, nvidia.com/gpu): a quantity such as 500m, 2, 512Mi or 4Gi.`,
    type: 'object',
    propertyNames: { pattern: resourceNamePattern },
    additionalProperties: { type: ['string', 'number'], pattern: quantityRule.source, minimum: 0 },
  }) as const

const hostPath = (what: string) =>
  ({
    type: 'string',
    minLength: 1,
    pattern: noNulPattern,
    description: `${what} A relative path starts at the directory of this file.`,
  }) as const

export const manifestSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'bottle.yaml',
  description: 'Bottles for `bottle`: sandboxes that run a coding agent. CLI flags override these values.',
  type: 'object',
  additionalProperties: false,
  properties: {
    backend: {
      description: 'The default backend for every bottle here (`-b` overrides it).',
      enum: [...backendNames],
    },
    bottles: {
      description: 'The bottles, by name: `bottle run launch NAME` uses the entry NAME.',
      type: 'object',
      propertyNames: {
        pattern: bottleNamePattern,
        description: 'A bottle name: not empty, not starting with "-".',
      },
      additionalProperties: { $ref: '#/$defs/bottle' },
    },
  },
  $defs: {
    bottle: {
      description: 'One bottle. Every key is optional.',
      type: 'object',
      additionalProperties: false,
      properties: {
        image: {
          description: 'An image reference (smolvm, docker) or a rootfs directory; default: the backend\'s.',
          type: 'string',
          pattern: imagePattern,
        },
        user: {
          description: 'The non-root user the agent runs as (HOME and USER follow it); default: node.',
          type: 'string',
          pattern: userPattern,
        },
        workdir: hostPath(
          'A host directory, bound into the bottle at the same path and used as the cwd; default: the current directory.',
        ),
        env: {
          description: 'Plain environment variables for every command in the bottle. Values are passed as text.',
          type: 'object',
          propertyNames: {
            pattern: envKeyPattern,
            not: { enum: ['HOME', 'USER'] },
            description: 'An env name; HOME and USER are set from `user`.',
          },
          additionalProperties: {
            type: ['string', 'number', 'boolean'],
            pattern: noNulPattern,
          },
        },
        secrets: {
          description:
            'Names of host environment variables handed to the bottle. Only names are stored; values stay in the host env.',
          type: 'array',
          items: { type: 'string', pattern: envKeyPattern, not: { const: '_' } },
        },
        prompt: hostPath('A host file, copied in at launch and passed to the agent as its system prompt.'),
        agent: {
          description:
            'The agent: claude (the default), codex, a command (no prompt flag, no resume, does not refuse root), or a profile.',
          oneOf: [
            {
              description: 'claude or codex for their built-in profiles; anything else is a command on the guest PATH or a path.',
              type: 'string',
              pattern: agentPattern,
            },
            {
              description: 'A profile for an agent bottle has none built in.',
              type: 'object',
              additionalProperties: false,
              required: ['command'],
              properties: {
                command: { description: 'The binary: a name on the guest PATH, or a path.', type: 'string', pattern: agentPattern },
                promptFlag: {
                  description: 'The flag that takes a system-prompt file (the path follows as the next word); leave out or null if none.',
                  type: ['string', 'null'],
                  minLength: 1,
                  pattern: noNulPattern,
                },
                continueArgs: {
                  description: 'Words that resume the last session (claude: [--continue]); none: the agent cannot resume.',
                  type: 'array',
                  items: { type: 'string', pattern: noNulPattern },
                },
                refusesRoot: {
                  description: 'The agent will not run as root: planning it as user root is an error unless allow_root is true.',
                  type: 'boolean',
                },
              },
            },
          ],
        },
        auth: {
          description:
            "How the agent signs in. token (the default): a secret in its env (CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`, or ANTHROPIC_API_KEY). shared: one directory bottle keeps on the host, per backend and agent, mounted read-write as the bottle user's ~/.claude in every bottle that says shared (not on kubernetes); every such bottle can write it.",
          enum: ['token', 'shared'],
        },
        workspace: {
          description:
            "How the workdir is filled at launch. bind (the default but on kubernetes): the host directory is bound in, its .git read-only. copy (the default on kubernetes): the git repository the workdir is in is copied into the bottle's workdir as a repository of its own (HEAD, same branch; tracked, modified and untracked files that are not ignored; the index at HEAD), and nothing of the host is bound; the agent's commits come back with bottle run fetch.",
          enum: ['bind', 'copy'],
        },
        allow_root: {
          description: 'Let an agent that refuses root run as user root (the sandbox is the boundary); claude then gets IS_SANDBOX=1.',
          type: 'boolean',
        },
        network: {
          description:
            'Leave out: only the agent\'s hosts, through the bottle\'s proxy. {allow: [...]}: those and these hosts. open: the backend\'s own network (default is its old name); none: no network; host: the host\'s.',
          oneOf: [
            { enum: [...networkWords] },
            {
              type: 'object',
              additionalProperties: false,
              properties: {
                allow: {
                  description: 'Hosts the agent may reach besides its own: NAME, *.DOMAIN (subdomains only), an IPv4 address or [IPv6], each with an optional :PORT (default 443); /private lets a name resolve to a private address.',
                  type: 'array',
                  items: { type: 'string', pattern: allowEntryPattern },
                },
              },
            },
          ],
        },
        backend: {
          description: 'The backend for this bottle (`-b` overrides it).',
          enum: [...backendNames],
        },
        context: {
          description: 'kubernetes only: the kubeconfig context (`--context` overrides it); default: kubectl\'s current context.',
          type: 'string',
          pattern: contextPattern,
        },
        namespace: {
          description: 'kubernetes only: the namespace (`-n` overrides it); default: the context\'s.',
          type: 'string',
          maxLength: 63,
          pattern: dns1123LabelPattern,
        },
        resources: {
          description: 'kubernetes only: the container\'s resource requests and limits, as in a Pod spec.',
          type: 'object',
          additionalProperties: false,
          properties: {
            requests: resourceMap('What the scheduler reserves'),
            limits: resourceMap('The most the container may use'),
          },
        },
        limits: {
          description: 'The most the bottle may use, on every backend that can enforce it (a backend that cannot refuses the bottle).',
          type: 'object',
          additionalProperties: false,
          properties: {
            cpus: {
              description: 'A positive decimal number of CPUs, at most 3 decimals: 2, 1.5.',
              type: ['string', 'number'],
              pattern: '^(?!0*(\\.0*)?$)\\d+(\\.\\d{1,3})?$',
              exclusiveMinimum: 0,
            },
            memory: {
              description: 'A whole number of bytes, or of b, k, m, g or t (powers of 1024, as docker reads them): 512m, 4g, 1536m.',
              type: ['string', 'integer'],
              pattern: '^(?!0+[bkmgtBKMGT]?$)\\d+[bkmgtBKMGT]?$',
              minimum: 1,
            },
            pids: {
              description: 'The most processes (threads count) at once.',
              type: ['string', 'integer'],
              pattern: '^[1-9]\\d{0,6}$',
              minimum: 1,
              maximum: maxPids,
            },
          },
        },
        provision: {
          description: 'Run as root in the bottle at launch, after start: false turns it off (the agent\'s default install too); a list of sh scripts runs after the default install, each a plan step.',
          oneOf: [
            { const: false },
            { type: 'array', items: { type: 'string', pattern: '\\S', not: { pattern: '\\u0000' } } },
          ],
        },
        provision_allow: {
          description: 'Hosts the egress proxy lets through while the provision steps run, and not after (entry syntax as network.allow).',
          type: 'array',
          items: { type: 'string', pattern: allowEntryPattern },
        },
      },
      // limits.cpus with resources.limits.cpu (or memory with memory) says the same thing twice.
      allOf: ([['cpus', 'cpu'], ['memory', 'memory']] as const).map(([limit, resource]) => ({
        not: {
          type: 'object',
          required: ['limits', 'resources'],
          properties: {
            limits: { type: 'object', properties: { [limit]: true }, required: [limit] },
            resources: {
              type: 'object',
              properties: { limits: { type: 'object', properties: { [resource]: true }, required: [resource] } },
              required: ['limits'],
            },
          },
        },
      })),
    },
  },
} as const
