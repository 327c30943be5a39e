/**
 * docker (and, with its own binary and differences, podman): a long-lived container that every
 * op execs into.
 *
 *   docker.exec(spec, intent).framing
 *   // ['docker','exec','-i','-t','-u','node','-e','HOME=/home/node','-e','USER=node',
 *   //  '-e','CI=1','-e','CLAUDE_CODE_OAUTH_TOKEN','-w','/src/app','demo']
 *
 * docker stops reading flags at the container name (SetInterspersed(false)), so every flag goes
 * before it and the tail follows with no `--`. Secrets are `-e NAME`: docker reads the value from
 * its own environment, so it never reaches argv.
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, show } from '../plan/errors.js'
import { type BackendName, type Step, type Tolerated, inheritEnv, secret, step } from '../plan/types.js'
import type { BottleSpec } from '../spec/spec.js'
import { type Backend, type HostFacts, managedLabel, nameLabel } from './backend.js'

/** What differs between container CLIs that share docker's grammar. */
export interface ContainerCli {
  readonly name: BackendName
  readonly binary: string
  readonly install: string
  /** The engine's own container-name rule. */
  readonly nameRule: RegExp
  readonly defaultImage: string
  /** Extra `run` flags from host facts (podman's `--userns=keep-id` when rootless). */
  readonly runFlags: (host: HostFacts) => readonly string[]
  /** Failures of `rm -f` that mean the container is already gone. */
  readonly removeTolerates: readonly Tolerated[]
}

export const containerBackend = (cli: ContainerCli): Backend => {
  const bin = cli.binary

  const checkSpec = (spec: BottleSpec) => {
    if (!cli.nameRule.test(spec.name))
      return E.left(compileError(`bottle name ${show(spec.name)} is not a valid ${cli.name} container name: it must match ${cli.nameRule.source}`))
    // `-v SRC:DST` splits on `:`; a workdir containing one cannot be bound.
    if (spec.workdir.includes(':'))
      return E.left(compileError(`workdir ${show(spec.workdir)} contains ":", which ${cli.name} -v cannot bind`))
    return E.right(spec)
  }

  const networkFlags = (spec: BottleSpec): string[] =>
    spec.network === 'default' ? [] : ['--network', spec.network]

  const create = (spec: BottleSpec, host: HostFacts): Step[] => [
    step(`create and start the container ${spec.name}`, [
      bin, 'run', '-d',
      '--name', spec.name,
      '--label', `${managedLabel}=true`,
      '--label', `${nameLabel}=${spec.name}`,
      ...cli.runFlags(host),
      ...networkFlags(spec),
      '--init',
      '-v', `${spec.workdir}:${spec.workdir}`,
      '-w', spec.workdir,
      // A container that lives until `down`: the image's own entrypoint is not the workload.
      '--entrypoint', 'sleep',
      spec.image ?? backend.defaultImage,
      'infinity',
    ], { undo: [removeStep(spec)] }),
  ]

  const removeStep = (spec: BottleSpec): Step =>
    step(`remove the container ${spec.name}`, [bin, 'rm', '-f', spec.name], { tolerate: cli.removeTolerates })

  const backend: Backend = {
    name: cli.name,
    binary: bin,
    install: cli.install,
    checkSpec,
    defaultImage: cli.defaultImage,
    promptPath: () => '/opt/bottle/system-prompt.md',
    create,
    exec: (spec, intent) => ({
      framing: [
        bin, 'exec',
        ...(intent.stdin ? ['-i'] : []),
        ...(intent.tty ? ['-t'] : []),
        '-u', intent.user,
        '-e', `HOME=${intent.home}`,
        '-e', `USER=${intent.user}`,
        ...intent.env.flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        ...intent.secrets.flatMap((k) => ['-e', k]),
        '-w', intent.cwd,
        spec.name,
      ],
      env: { ...inheritEnv, vars: intent.secrets.map(secret) },
    }),
    copyIn: (spec, copy) =>
      E.right([
        step(`copy ${copy.source} to ${copy.dest} in the bottle`, [
          bin, 'cp',
          // `DIR/.` copies the directory's contents into dest, whether or not dest exists.
          copy.kind === 'dir' ? `${copy.source}/.` : copy.source,
          `${spec.name}:${copy.dest}`,
        ]),
      ]),
    // `rm -f` on a missing container exits 0 (docker, podman 4+): down is idempotent as it stands.
    down: (spec) => [removeStep(spec)],
    list: () => [
      step('list the containers bottle created', [
        bin, 'ps', '-a',
        '--filter', `label=${managedLabel}=true`,
        '--format', 'table {{.Names}}\t{{.State}}\t{{.RunningFor}}\t{{.Image}}',
      ], { stdio: 'passthrough' }),
    ],
  }
  return backend
}

export const docker = containerBackend({
  name: 'docker',
  binary: 'docker',
  install: 'install Docker Engine (https://docs.docker.com/engine/install/) and start its daemon',
  // moby's RestrictedNamePattern: at least two characters.
  nameRule: /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/,
  defaultImage: 'node:22',
  runFlags: () => [],
  removeTolerates: [],
})
