/**
 * docker's test kit (tests/backends/kit.ts): an independent decoder of `docker exec` argv, and
 * what the law suite must know about docker's CLI.
 *
 *   decodeDockerExec(['docker','exec','-i','-u','node','-e','HOME=/home/node','-e','USER=node','-w','/w','demo','claude'])
 *   // { user: 'node', home: '/home/node', env: [], secrets: [], cwd: '/w', argv: ['claude'], tty: false, stdin: true }
 */
import { docker } from '../../src/backends/docker.js'
import type { Step } from '../../src/plan/types.js'
import { type ArgvDecoder, type ExecFlags, envFlag, intentOf, noFlags, unwrapCommand } from '../laws/decode.js'
import { type BackendKit, count } from './kit.js'

// -------------------------------------------------------------------------------------------------
// docker: `docker exec [OPTIONS] CONTAINER COMMAND [ARG...]`, pflag with SetInterspersed(false)
// -------------------------------------------------------------------------------------------------

const dockerBool: Record<string, (f: ExecFlags) => void> = {
  i: (f) => void (f.stdin = true),
  interactive: (f) => void (f.stdin = true),
  t: (f) => void (f.tty = true),
  tty: (f) => void (f.tty = true),
}

const dockerValued: Record<string, (f: ExecFlags, v: string) => void> = {
  u: (f, v) => void (f.user = v),
  user: (f, v) => void (f.user = v),
  e: envFlag,
  env: envFlag,
  w: (f, v) => void (f.cwd = v),
  workdir: (f, v) => void (f.cwd = v),
}

/** docker's grammar; podman's exec has the same flags (plus ones bottle never uses). */
export const containerExec = (binary: 'docker' | 'podman'): ArgvDecoder => (argv) => {
  const start = argv[0] === binary && argv[1] === 'exec' ? 2 : argv[0] === binary && argv[1] === 'container' && argv[2] === 'exec' ? 3 : -1
  if (start < 0) throw new Error(`not a ${binary} exec: ${JSON.stringify(argv.slice(0, 3))}`)
  const flags = noFlags()
  let i = start
  const next = (flag: string): string => {
    const v = argv[++i]
    if (v === undefined) throw new Error(`docker: flag needs an argument: ${flag}`)
    return v
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a.startsWith('--')) {
      const [long, attached] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), null]
      const bool = dockerBool[long]
      const valued = dockerValued[long]
      if (bool !== undefined && attached === null) bool(flags)
      else if (valued !== undefined) valued(flags, attached ?? next(a))
      else throw new Error(`docker: unknown flag: ${a}`)
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      // A cluster of shorthands: `-it`, `-uroot`, `-e=K=V` (pflag drops one `=` after a shorthand).
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string
        const bool = dockerBool[c]
        const valued = dockerValued[c]
        if (bool !== undefined) { bool(flags); continue }
        if (valued === undefined) throw new Error(`docker: unknown shorthand flag: '${c}' in ${a}`)
        const rest = a.slice(j + 1)
        valued(flags, rest === '' ? next(a) : rest.startsWith('=') ? rest.slice(1) : rest)
        break
      }
      continue
    }
    break // the container name: flag parsing stops here
  }
  const container = argv[i]
  if (container === undefined) throw new Error('docker exec: a container name is required')
  const tail = argv.slice(i + 1)
  if (tail.length === 0) throw new Error('docker exec: a command is required')
  return intentOf(flags, flags.user, unwrapCommand(tail))
}

export const decodeDockerExec: ArgvDecoder = containerExec('docker')

/** Flags stop at the container name, so `-u USER` must be a flag pair before it, and the name last. */
export const containerUserSwitch = (framing: readonly string[], user: string, bottle: string): boolean =>
  framing.at(-1) === bottle && framing.slice(0, -1).some((w, i) => w === '-u' && framing[i + 1] === user && i + 1 < framing.length - 1)

/** `create` makes the container; every other launch step runs in it, or only reads. */
export const containerCreates = (binary: string) => (s: Step): boolean => s.guest === undefined && s.argv[0] === binary && s.argv[1] === 'create'

export const kit: BackendKit = {
  backend: docker,
  decode: (step) => decodeDockerExec(step.argv),
  fit: (s) => s,
  userSwitchPrecedesTail: (framing, user, bottle) => containerUserSwitch(framing, user, bottle),
  envCount: (framing, k, v) => count(framing, `${k}=${v}`),
  ttyMarks: (framing) => count(framing, '-t'),
  secretsReachGuestVia: 'process env',
  createsSomething: containerCreates('docker'),
  scratchMadeBy: () => undefined,
  idempotentAsIs: (s) => s.argv[0] === 'docker' && s.argv[1] === 'rm' && s.argv.includes('-f'),
  listsWithItsBinary: true,
}
