/**
 * docker's argv shapes, as examples: flags before the container name, `-e NAME` secrets, the
 * prompt flag right after the agent, guest env on every exec, and `-t` only with a terminal.
 */
import { commandWrapper } from '../../src/guest.js'
const runIdMark = '' // the launch id slot the wrapper's id word is
import { describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { docker } from '../../src/backends/docker.js'
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

const planOf = (op: BottleOperation, spec: BottleSpec = demo, facts: HostFacts = host): Plan => planFor(docker, op, spec, facts)

/** Each step's argv as one line. */
const argvs = argvLines
const guestOf = (plan: Plan) => plan.steps[0]?.guest

backendExamples(docker, host, {
  ttyWords: (f) => f.slice(f.indexOf('exec') + 1, f.indexOf('-u')),
  withTty: ['-i', '-t'],
  withoutTty: ['-i'],
  userSwitch: (f) => f.slice(f.indexOf('-u'), f.indexOf('-u') + 6),
  userSwitchFor: (user, home) => ['-u', user, '-e', `HOME=${home}`, '-e', `USER=${user}`],
  envWords: [['-e', 'CI=1'], ['-e', 'CLAUDE_CODE_OAUTH_TOKEN']],
  // `-e NAME` takes the value from docker's own env: the step puts the secret there, by name.
  processEnv: [{ _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' }],
  promptPath: '/opt/bottle/system-prompt.md',
})

describe('docker examples', () => {
  it('puts every flag before the container name, and the tail right after it', () => {
    const guest = guestOf(planOf({ _tag: 'agent', args: ['-u', 'root'], tty: null }))
    // The container name ends docker's flags; bottle's command wrapper (src/guest.ts) follows.
    expect(guest?.framing.slice(-6)).toStrictEqual(['demo', '/bin/sh', '-c', commandWrapper, 'sh', runIdMark])
    expect(guest?.tail.slice(-2)).toStrictEqual(['-u', 'root'])
  })
})

describe('docker argv snapshots', () => {
  it('agent', () => {
    expect(argvLine(planOf({ _tag: 'agent', args: ['-p', 'hi there'], tty: null }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"docker exec -i -t -u node -e HOME=/home/node -e USER=node -e CI=1 -e CLAUDE_CODE_OAUTH_TOKEN -w /src/app demo /bin/sh -c <command wrapper> sh '' claude --append-system-prompt-file /opt/bottle/system-prompt.md -p 'hi there'"`)
  })

  it('exec as another user, no TTY', () => {
    expect(argvLine(planOf({ _tag: 'exec', script: 'echo "$HOME"', user: 'root' }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"docker exec -i -u root -e HOME=/root -e USER=root -e CI=1 -e CLAUDE_CODE_OAUTH_TOKEN -w /src/app demo /bin/sh -c <command wrapper> sh '' sh -c 'echo "$HOME"'"`)
  })

  it('resume', () => {
    expect(argvLine(planOf({ _tag: 'resume', args: ['x y'], tty: false }).steps[0]?.argv ?? [])).toMatchInlineSnapshot(`"docker exec -i -u node -e HOME=/home/node -e USER=node -e CI=1 -e CLAUDE_CODE_OAUTH_TOKEN -w /src/app demo /bin/sh -c <command wrapper> sh '' sh -c '(exec claude --append-system-prompt-file /opt/bottle/system-prompt.md --continue '\\''x y'\\'') || exec claude --append-system-prompt-file /opt/bottle/system-prompt.md '\\''x y'\\'''"`)
  })

  it('launch: create with its undo, start, then copy the prompt in', () => {
    const plan = planOf({ _tag: 'launch' })
    expect({ steps: argvs(plan), undo: plan.steps[0]?.undo.map((u) => argvLine(u.argv)) }).toMatchInlineSnapshot(`
      {
        "steps": [
          "docker create --name demo --label dev.bottle.managed=true --label dev.bottle.name=demo --label dev.bottle.spec-hash=ba2d5ad3cdfb --label dev.bottle.launch-id= --init -v /src/app:/src/app -w /src/app --entrypoint sleep node:22 infinity",
          "docker start demo",
          "docker exec -u root -e HOME=/root -e USER=root -w / demo /bin/sh -c 'id -u "$1" >/dev/null 2>&1 || { printf '\\''bottle: the image has no user %s: choose one it has (--user), or add it to the image\\n'\\'' "$1" >&2; exit 2; }' sh node",
          "/bin/sh -c 'umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/record.json"' sh /home/me/.local/state/bottle/docker/demo",
          "docker exec -u root -e HOME=/root -e USER=root -e CI=1 -w / demo /bin/sh -c 'if command -v "$1" >/dev/null 2>&1; then echo "bottle: $1 is in the image ($(command -v "$1")): nothing to install"; exit 0; fi
      if ! command -v npm >/dev/null 2>&1; then echo "bottle: the image has neither $1 nor npm to install it: add $1 to the image (npm install -g $2), or node and npm so that launch installs it" >&2; exit 127; fi
      echo "bottle: $1 is not in the image: npm install -g $2"
      exec npm install -g -- "$2"' sh claude @anthropic-ai/claude-code",
          "docker exec -u root -e HOME=/root -e USER=root -w / demo mkdir -p -- /opt/bottle",
          "docker cp /src/app/prompt.md demo:/opt/bottle/system-prompt.md",
          "docker exec -u root -e HOME=/root -e USER=root -w / demo chown -R -- node /opt/bottle/system-prompt.md",
        ],
        "undo": [
          "sh -c 'i=0
      while :; do
        ids=$("$0" ps -aq --no-trunc --filter "$1" --filter "$3") || exit
        if [ -n "$ids" ]; then exec "$0" rm -f $ids; fi
        i=$((i + 1)); [ "$i" -lt "$2" ] || exit 0
        sleep 1
      done' docker 'name=^/?demo$' 10 label=dev.bottle.launch-id=",
        ],
      }
    `)
  })

  it('cp of a directory copies its contents', () => {
    expect(argvs(planOf({ _tag: 'cp', source: '/src/app/notes', dest: '/home/node/notes' }))).toMatchInlineSnapshot(`
      [
        "docker exec -u root -e HOME=/root -e USER=root -w / demo mkdir -p -- /home/node/notes",
        "docker cp /src/app/notes/. demo:/home/node/notes",
        "docker exec -u root -e HOME=/root -e USER=root -w / demo chown -R -- node /home/node/notes",
      ]
    `)
  })

  it('down is rm -f, which exits 0 on a missing container', () => {
    const plan = planOf({ _tag: 'down' })
    expect({ steps: argvs(plan), tolerate: plan.steps.map((s) => s.tolerate) }).toMatchInlineSnapshot(`
      {
        "steps": [
          "docker rm -f demo",
          "/bin/sh -c 'rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }' sh /home/me/.local/state/bottle/docker/demo",
        ],
        "tolerate": [
          [],
          [],
        ],
      }
    `)
  })
})
