/**
 * smolvm's argv shapes, as examples: `runuser -u U --` before the agent, `--secret-env K=K`,
 * `delete -f` with "vm not found" tolerated, and cp of a directory or of a path with ':'.
 */
import { commandWrapper } from '../../src/guest.js'
const runIdMark = '' // the launch id slot the wrapper's id word is
import { describe, expect, it } from 'vitest'
import type { HostFacts } from '../../src/backends/backend.js'
import { smolvm } from '../../src/backends/smolvm.js'
import type { BottleOperation } from '../../src/compile.js'
import type { Plan } from '../../src/plan/types.js'
import type { BottleSpec } from '../../src/bottle-spec/spec.js'
import { demo, planFor } from './fixtures.js'

const noPrompt: BottleSpec = { ...demo, prompt: null }

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

const argvs = (plan: Plan): (readonly string[])[] => plan.steps.map((s) => s.argv)
const guestOf = (plan: Plan) => plan.steps[0]?.guest
/** A step as one line: `host: ARGV`, or `bottle: TAIL` for a guest command (its framing is the usual one). */
const where = (s: Plan['steps'][number]): string => (s.guest === undefined ? `host: ${s.argv.join(' ')}` : `bottle: ${s.guest.tail.join(' ')}`)

describe('smolvm examples', () => {
  it.each([
    ['agent: a terminal on stdin', { _tag: 'agent', args: [], tty: null }, true, true],
    ['agent: no terminal', { _tag: 'agent', args: [], tty: null }, false, false],
    ['agent --no-tty with a terminal', { _tag: 'agent', args: [], tty: false }, true, false],
    ['resume --tty without one', { _tag: 'resume', args: [], tty: true }, false, true],
    ['exec never has a TTY', { _tag: 'exec', script: 'ls', user: null }, true, false],
  ] as const)('TTY toggle, %s', (_label, op, stdinIsTTY, hasTty) => {
    expect(guestOf(planOf(op, demo, { ...host, stdinIsTTY }))?.framing.includes('-t')).toBe(hasTty)
  })

  it.each([
    ['with a prompt', demo, ['claude', '--append-system-prompt-file', '/opt/bottle/system-prompt.md', '-p', 'hi']],
    ['without a prompt', noPrompt, ['claude', '-p', 'hi']],
  ] as const)('the prompt flag sits directly after the agent binary, %s', (_label, spec, tail) => {
    expect(guestOf(planOf({ _tag: 'agent', args: ['-p', 'hi'], tty: null }, spec))?.tail).toStrictEqual(tail)
  })

  it.each([
    ['node', 'node'],
    ['claude', 'claude'],
    ['root', 'root'],
  ] as const)('runuser -u %s -- ends smolvm\'s framing; bottle\'s command wrapper, then the agent', (_label, user) => {
    // claude refuses root unless the spec allows it.
    const guest = guestOf(planOf({ _tag: 'agent', args: ['--', '-u', 'claude'], tty: null }, { ...demo, user, allowRoot: true }))
    expect(guest?.framing.slice(-9)).toStrictEqual(['runuser', '-u', user, '--', '/bin/sh', '-c', commandWrapper, 'sh', runIdMark])
    expect(guest?.tail[0]).toBe('claude')
  })

  it.each([
    ['agent', { _tag: 'agent', args: [], tty: null }],
    ['resume', { _tag: 'resume', args: [], tty: null }],
    ['exec', { _tag: 'exec', script: 'ls', user: 'root' }],
  ] as const)('guest env and secrets go with every exec: %s', (_label, op) => {
    const step = planOf(op).steps[0]
    const framing = step?.guest?.framing ?? []
    const pair = (flag: string, value: string) => framing.some((w, i) => w === flag && framing[i + 1] === value)
    expect([pair('-e', 'CI=1'), pair('--secret-env', 'CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN')]).toStrictEqual([true, true])
    // smolvm resolves --secret-env from its own env: the step puts the secret there, by name.
    expect(step?.env.vars).toStrictEqual([{ _tag: 'secret', name: 'CLAUDE_CODE_OAUTH_TOKEN' }])
  })

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
    expect(planOf({ _tag: 'agent', args: ['-p', 'hi there'], tty: null }).steps[0]?.argv).toMatchInlineSnapshot(`
      [
        "smolvm",
        "machine",
        "exec",
        "--name",
        "demo",
        "-i",
        "-t",
        "-e",
        "HOME=/home/node",
        "-e",
        "USER=node",
        "-e",
        "CI=1",
        "--secret-env",
        "CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN",
        "-w",
        "/src/app",
        "--",
        "runuser",
        "-u",
        "node",
        "--",
        "/bin/sh",
        "-c",
        "BOTTLE_RUN_ID=$1; export BOTTLE_RUN_ID; shift; command -v -- "$1" >/dev/null 2>&1 || { printf 'bottle: %s: command not found in the bottle\\n' "$1" >&2; exit 127; }; exec "$@"",
        "sh",
        "",
        "claude",
        "--append-system-prompt-file",
        "/opt/bottle/system-prompt.md",
        "-p",
        "hi there",
      ]
    `)
  })

  it('resume', () => {
    expect(planOf({ _tag: 'resume', args: ['x y'], tty: false }).steps[0]?.argv).toMatchInlineSnapshot(`
      [
        "smolvm",
        "machine",
        "exec",
        "--name",
        "demo",
        "-i",
        "-e",
        "HOME=/home/node",
        "-e",
        "USER=node",
        "-e",
        "CI=1",
        "--secret-env",
        "CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_CODE_OAUTH_TOKEN",
        "-w",
        "/src/app",
        "--",
        "runuser",
        "-u",
        "node",
        "--",
        "/bin/sh",
        "-c",
        "BOTTLE_RUN_ID=$1; export BOTTLE_RUN_ID; shift; command -v -- "$1" >/dev/null 2>&1 || { printf 'bottle: %s: command not found in the bottle\\n' "$1" >&2; exit 127; }; exec "$@"",
        "sh",
        "",
        "sh",
        "-c",
        "(exec claude --append-system-prompt-file /opt/bottle/system-prompt.md --continue 'x y') || exec claude --append-system-prompt-file /opt/bottle/system-prompt.md 'x y'",
      ]
    `)
  })

  it('launch: create and start, each with its undo, then copy the prompt in', () => {
    const plan = planOf({ _tag: 'launch' })
    expect({ steps: argvs(plan), undo: plan.steps.map((s) => s.undo.map((u) => u.argv)) }).toMatchInlineSnapshot(`
      {
        "steps": [
          [
            "smolvm",
            "machine",
            "create",
            "--name",
            "demo",
            "--label",
            "dev.bottle.managed=true",
            "--label",
            "dev.bottle.name=demo",
            "--label",
            "dev.bottle.spec-hash=a0b7545b5857",
            "--label",
            "dev.bottle.launch-id=",
            "--image",
            "node:22",
            "-v",
            "/src/app:/src/app",
            "-w",
            "/src/app",
          ],
          [
            "smolvm",
            "machine",
            "start",
            "--name",
            "demo",
          ],
          [
            "smolvm",
            "machine",
            "exec",
            "--name",
            "demo",
            "-e",
            "HOME=/root",
            "-e",
            "USER=root",
            "-w",
            "/",
            "--",
            "runuser",
            "-u",
            "root",
            "--",
            "/bin/sh",
            "-c",
            "id -u "$1" >/dev/null 2>&1 || { printf 'bottle: the image has no user %s: choose one it has (--user), or add it to the image\\n' "$1" >&2; exit 2; }",
            "sh",
            "node",
          ],
          [
            "/bin/sh",
            "-c",
            "umask 077 && mkdir -p -- "$1" && set -C && cat > "$1/record.json"",
            "sh",
            "/home/me/.local/state/bottle/smolvm/demo",
          ],
          [
            "smolvm",
            "machine",
            "exec",
            "--name",
            "demo",
            "-e",
            "HOME=/root",
            "-e",
            "USER=root",
            "-w",
            "/",
            "--",
            "runuser",
            "-u",
            "root",
            "--",
            "mkdir",
            "-p",
            "--",
            "/opt/bottle",
          ],
          [
            "smolvm",
            "machine",
            "cp",
            "/src/app/prompt.md",
            "demo:/opt/bottle/system-prompt.md",
          ],
          [
            "smolvm",
            "machine",
            "exec",
            "--name",
            "demo",
            "-e",
            "HOME=/root",
            "-e",
            "USER=root",
            "-w",
            "/",
            "--",
            "runuser",
            "-u",
            "root",
            "--",
            "chown",
            "-R",
            "--",
            "node",
            "/opt/bottle/system-prompt.md",
          ],
        ],
        "undo": [
          [
            [
              "sh",
              "-c",
              "i=0
      while :; do
        out=$("$0" machine ls --json) || exit
        case $out in *"$3"*) exec "$0" machine delete --name "$1" -f ;; esac
        i=$((i + 1)); [ "$i" -lt "$2" ] || exit 0
        sleep 1
      done",
              "smolvm",
              "demo",
              "10",
              "",
            ],
          ],
          [
            [
              "smolvm",
              "machine",
              "stop",
              "--name",
              "demo",
            ],
          ],
          [],
          [
            [
              "/bin/sh",
              "-c",
              "rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }",
              "sh",
              "/home/me/.local/state/bottle/smolvm/demo",
            ],
          ],
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
        [
          "smolvm",
          "machine",
          "stop",
          "--name",
          "demo",
        ],
        [
          "smolvm",
          "machine",
          "delete",
          "--name",
          "demo",
          "-f",
        ],
        [
          "/bin/sh",
          "-c",
          "rm -f -- "$1/record.json" && { rmdir -- "$1" 2>/dev/null || :; }",
          "sh",
          "/home/me/.local/state/bottle/smolvm/demo",
        ],
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
