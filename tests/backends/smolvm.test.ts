/**
 * smolvm's argv shapes, as examples: `runuser -u U --` before the agent, `--secret-env K=K`,
 * `delete -f` with "vm not found" tolerated, and cp of a directory or of a path with ':'.
 */
import { commandWrapper } from '../../src/guest.js'
const runIdMark = '' // the launch id slot the wrapper's id word is
import { describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { smolvm } from '../../src/backends/smolvm.js'
import type { BottleOperation } from '../../src/plan/operation.js'
import type { Plan } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { argvLine, argvLines, backendExamples } from './examples.js'
import { demo, planFor } from './fixtures.js'

const host: HostFacts = {
  cwd: '/src/app',
  home: '/home/me',
  stateRoot: '/home/me/.local/state/bottle',
  stdinIsTTY: true,
  pathKinds: { '/src/app/prompt.md': 'file', '/src/app/notes': 'dir', '/src/app/a:b.txt': 'file' },
  tmpdir: '/tmp',
  bwrap: null,
  uid: 1000,
  cluster: { context: null, namespace: null },
}

const planOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host): Plan => planFor(smolvm, op, spec, facts)

/** Each step's argv as one line. */
const argvs = argvLines
/** A step as one line: `host: ARGV`, or `bottle: TAIL` for a guest command (its framing is the usual one). */
const where = (s: Plan['steps'][number]): string => (s.guest === undefined ? `host: ${s.argv.join(' ')}` : `bottle: ${s.guest.tail.join(' ')}`)

backendExamples(smolvm, host, {
  ttyWords: (f) => f.slice(f.indexOf('--name') + 2, f.indexOf('-e')),
  withTty: ['-i', '-t'],
  withoutTty: ['-i'],
  // runuser -u USER -- ends smolvm's framing; bottle's command wrapper, then the agent.
  userSwitch: (f) => f.slice(-9),
  userSwitchFor: (user) => ['runuser', '-u', user, '--', '/bin/sh', '-c', commandWrapper, 'sh', runIdMark],
  envWords: [['-e', 'CI=1'], ['--secret-env', 'CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN']],
  // smolvm resolves --secret-env from its own env: the step puts the secret there, by name.
  processEnv: [{ _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' }],
  promptPath: '/opt/bottle/system-prompt.md',
})

describe('smolvm examples', () => {
  it.each([
    ['stop', 0],
    ['delete', 1],
  ] as const)('down: %s tolerates "vm not found"', (verb, index) => {
    const step = planOf({ _tag: 'down' }).steps[index]
    expect(step?.argv[2]).toBe(verb)
    expect(step?.tolerate).toStrictEqual([{ exitCode: 1, stderrIncludes: 'vm not found: demo' }])
  })
})

describe('smolvm argv snapshots', () => {
  it('agent', () => {
    expect(argvLine(planOf({ _tag: 'agent', args: ['-p', 'hi there'], tty: null }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"smolvm machine exec --name demo -i -t -e HOME=/home/node -e USER=node -e CI=1 --secret-env CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN -w /src/app -- runuser -u node -- /bin/sh -c <command wrapper> sh '' claude --append-system-prompt-file /opt/bottle/system-prompt.md -p 'hi there'"`)
  })

  it('resume', () => {
    expect(argvLine(planOf({ _tag: 'resume', args: ['x y'], tty: false }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"smolvm machine exec --name demo -i -e HOME=/home/node -e USER=node -e CI=1 --secret-env CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN -w /src/app -- runuser -u node -- /bin/sh -c <command wrapper> sh '' sh -c '(exec claude --append-system-prompt-file /opt/bottle/system-prompt.md --continue '\\''x y'\\'') || exec claude --append-system-prompt-file /opt/bottle/system-prompt.md '\\''x y'\\'''"`)
  })

  it('launch: create and start, each with its undo, then copy the prompt in', () => {
    const plan = planOf({ _tag: 'launch' })
    expect({ steps: argvs(plan), undo: plan.steps.map((s) => s.undo.map((u) => argvLine(u.argv))) }).toMatchInlineSnapshot(`
      {
        "steps": [
          "smolvm machine create --name demo --label dev.bottle.managed=true --label dev.bottle.name=demo --label dev.bottle.spec-hash=ba2d5ad3cdfb --label dev.bottle.launch-id= --image node:22 -v /src/app:/src/app -w /src/app",
          "smolvm machine start --name demo",
          "smolvm machine exec --name demo -e HOME=/root -e USER=root -w / -- runuser -u root -- /bin/sh -c 'id -u "$1" >/dev/null 2>&1 || { printf '\\''bottle: the image has no user %s: choose one it has (--user), or add it to the image\\n'\\'' "$1" >&2; exit 2; }' sh node",
          "/bin/sh -c 'umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/record.json"' sh /home/me/.local/state/bottle/smolvm/demo",
          "smolvm machine exec --name demo -e HOME=/root -e USER=root -e CI=1 -w / -- runuser -u root -- /bin/sh -c 'if command -v "$1" >/dev/null 2>&1; then echo "bottle: $1 is in the image ($(command -v "$1")): nothing to install"; exit 0; fi
      if ! command -v npm >/dev/null 2>&1; then echo "bottle: the image has neither $1 nor npm to install it: add $1 to the image (npm install -g $2), or node and npm so that launch installs it" >&2; exit 127; fi
      echo "bottle: $1 is not in the image: npm install -g $2"
      exec npm install -g -- "$2"' sh claude @anthropic-ai/claude-code",
          "smolvm machine exec --name demo -e HOME=/root -e USER=root -w / -- runuser -u root -- mkdir -p -- /opt/bottle",
          "smolvm machine cp /src/app/prompt.md demo:/opt/bottle/system-prompt.md",
          "smolvm machine exec --name demo -e HOME=/root -e USER=root -w / -- runuser -u root -- chown -R -- node /opt/bottle/system-prompt.md",
        ],
        "undo": [
          [
            "sh -c 'i=0
      while :; do
        out=$("$0" machine ls --json) || exit
        case $out in *"$3"*) exec "$0" machine delete --name "$1" -f ;; esac
        i=$((i + 1)); [ "$i" -lt "$2" ] || exit 0
        sleep 1
      done' smolvm demo 10 ''",
          ],
          [
            "smolvm machine stop --name demo",
          ],
          [],
          [
            "/bin/sh -c 'rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }' sh /home/me/.local/state/bottle/smolvm/demo",
          ],
          [],
          [],
          [],
          [],
        ],
      }
    `)
  })

  it('down: stop, then delete -f (without -f smolvm prompts and deletes nothing)', () => {
    expect(argvs(planOf({ _tag: 'down' }))).toMatchInlineSnapshot(`
      [
        "smolvm machine stop --name demo",
        "smolvm machine delete --name demo -f",
        "/bin/sh -c 'rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }' sh /home/me/.local/state/bottle/smolvm/demo",
      ]
    `)
  })

  it('cp of a directory travels as a tar archive', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/notes', dest: '/home/node/notes' })
    expect(plan.steps.map(where)).toMatchInlineSnapshot(`
      [
        "bottle: mkdir -p -- /home/node/notes",
        "host: tar -C /src/app/notes -cf /tmp/bottle-cp-7e0c3b6e377fbac3.tar .",
        "host: smolvm machine cp /tmp/bottle-cp-7e0c3b6e377fbac3.tar demo:/tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "bottle: tar -xf /tmp/bottle-cp-7e0c3b6e377fbac3.tar -C /home/node/notes",
        "bottle: rm -f -- /tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "host: rm -f -- /tmp/bottle-cp-7e0c3b6e377fbac3.tar",
        "bottle: chown -R -- node /home/node/notes",
      ]
    `)
  })

  it('cp of a path with ":" is staged at a path without one', () => {
    const plan = planOf({ _tag: 'cp', source: '/src/app/a:b.txt', dest: '/home/node/a:b.txt' })
    expect(plan.steps.map(where)).toMatchInlineSnapshot(`
      [
        "bottle: mkdir -p -- /home/node",
        "host: cp -- /src/app/a:b.txt /tmp/bottle-cp-3ebc999d3ecd277c",
        "host: smolvm machine cp /tmp/bottle-cp-3ebc999d3ecd277c demo:/home/node/a:b.txt",
        "host: rm -f -- /tmp/bottle-cp-3ebc999d3ecd277c",
        "bottle: chown -R -- node /home/node/a:b.txt",
      ]
    `)
  })
})
