/**
 * smolvm's test kit (tests/backends/kit.ts): an independent decoder of `smolvm machine exec`
 * argv (clap), runuser in the guest, and what the law suite must know about smolvm's CLI.
 */
import { smolvm } from '../../src/backends/smolvm.js'
import type { Step } from '../../src/plan/types.js'
import { type ArgvDecoder, type ExecFlags, decodeRunuser, envFlag, intentOf, noFlags, unwrapCommand } from '../laws/decode.js'
import { type BackendKit, count } from './kit.js'

// -------------------------------------------------------------------------------------------------
// smolvm: `smolvm machine exec [OPTIONS] [--] COMMAND...`, clap with trailing_var_arg; in the
// guest, `runuser [-u USER] [--] COMMAND...` switches user without a login shell
// -------------------------------------------------------------------------------------------------

const smolBool: Record<string, (f: ExecFlags) => void> = {
  i: (f) => void (f.stdin = true),
  interactive: (f) => void (f.stdin = true),
  t: (f) => void (f.tty = true),
  tty: (f) => void (f.tty = true),
  stream: () => undefined,
}

/** `--secret-env GUEST=HOSTVAR`: an intent forwards a host var under its own name only. */
const secretEnvFlag = (f: ExecFlags, v: string): void => {
  const [guest, hostVar] = [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]
  if (!v.includes('=') || guest !== hostVar) throw new Error(`smolvm: --secret-env ${v} renames a host variable`)
  f.forwarded.push(guest)
}

// exec has `--name` only (no `-n`) and no user flag.
const smolValued: Record<string, (f: ExecFlags, v: string) => void> = {
  name: (f, v) => void (f.name = v),
  e: envFlag,
  env: envFlag,
  'secret-env': secretEnvFlag,
  w: (f, v) => void (f.cwd = v),
  workdir: (f, v) => void (f.cwd = v),
  timeout: () => undefined,
}

export const decodeSmolvmExec: ArgvDecoder = (argv) => {
  if (argv[0] !== 'smolvm' || (argv[1] !== 'machine' && argv[1] !== 'vm') || argv[2] !== 'exec')
    throw new Error(`not a smolvm machine exec: ${JSON.stringify(argv.slice(0, 3))}`)
  const flags = noFlags()
  let i = 3
  const next = (flag: string): string => {
    const v = argv[++i]
    // clap will not take a value that looks like a flag unless allow_hyphen_values is set.
    if (v === undefined || (v.startsWith('-') && v !== '-')) throw new Error(`smolvm: ${flag} needs a value`)
    return v
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { i++; break }
    if (a.startsWith('--')) {
      const [long, attached] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), null]
      const bool = smolBool[long]
      const valued = smolValued[long]
      if (bool !== undefined && attached === null) bool(flags)
      else if (valued !== undefined) valued(flags, attached ?? next(a))
      else throw new Error(`smolvm: unexpected argument '${a}'`)
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string
        const bool = c === 'i' || c === 't' ? smolBool[c] : undefined
        const valued = c === 'e' || c === 'w' ? smolValued[c] : undefined
        if (bool !== undefined) { bool(flags); continue }
        if (valued === undefined) throw new Error(`smolvm: unexpected argument '-${c}' in ${a}`)
        const rest = a.slice(j + 1)
        valued(flags, rest === '' ? next(a) : rest.startsWith('=') ? rest.slice(1) : rest)
        break
      }
      continue
    }
    break // trailing_var_arg: the first positional starts the command
  }
  if (flags.name === null) throw new Error('smolvm exec without --name runs in the machine "default"')
  const { user, command } = decodeRunuser(argv.slice(i))
  return intentOf(flags, user, unwrapCommand(command))
}

// -------------------------------------------------------------------------------------------------

/** The host scratch path a staging step makes (a copy of a file, or a tarball of a directory). */
export const stagedOnHost = (s: Step): string | undefined =>
  s.argv[0] === 'cp' ? s.argv.at(-1) : s.argv[0] === 'tar' ? s.argv[s.argv.indexOf('-cf') + 1] : undefined

export const kit: BackendKit = {
  backend: smolvm,
  decode: (step) => decodeSmolvmExec(step.argv),
  fit: (s) => s,
  userSwitchPrecedesTail: (framing, user) => JSON.stringify(framing.slice(-4)) === JSON.stringify(['runuser', '-u', user, '--']),
  envCount: (framing, k, v) => count(framing, `${k}=${v}`),
  ttyMarks: (framing) => count(framing, '-t'),
  secretsReachGuestVia: 'process env',
  // The machine (create, start); staged copies of the prompt on the host.
  createsSomething: (s) =>
    s.guest === undefined &&
    (s.argv[0] === 'smolvm' ? ['create', 'start'].some((verb) => s.argv.slice(1, 3).includes(verb)) : s.argv[0] === 'cp' || s.argv[0] === 'tar'),
  scratchMadeBy: stagedOnHost,
  idempotentAsIs: () => false,
  listsWithItsBinary: true,
}
