// Stand-ins for the `smolvm` and `docker` CLIs, for the interpreter tests (kubectl's is kubectl.mjs,
// with its own log and state). NOT the real tools:
// there is no VM, container or daemon here. Each invocation
//
//   1. appends one JSON line {seq, tool, argv, env, stdin, cwd} to $BOTTLE_STANDIN_LOG, before
//      doing anything else (so a test can wait for "invocation N has started");
//   2. keeps a tiny state under $BOTTLE_STANDIN_STATE/<tool>/: NAME.json per machine/container,
//      and NAME.fs/ as that bottle's guest file system (only cp, mkdir, chown, tar, rm touch it);
//   3. answers with the exit codes and messages the real tools give, as recorded in
//      docs/backend-facts.md §1.5 (smolvm) and §2.2 (docker). Messages the
//      reference does not record are marked "stand-in wording" below.
//
// A guest command `sh -c SCRIPT` really runs (on the host, via /bin/sh, with the guest env the
// tool would give it; cwd is the bound workdir), so exit codes, env and secrets can be observed
// end to end. Other guest commands are simulated on NAME.fs/ or answer 127 (not found).
//
// Fault injection, by invocation number (seq, 1-based, counted over both tools in one log):
//   STANDIN_FAIL_AT=2,4     those invocations fail before changing anything, with exit
//                           $STANDIN_FAIL_CODE (default 1)
//   STANDIN_SLEEP_AT=2      that invocation sleeps $STANDIN_SLEEP_SECONDS (default 30) before it
//                           acts, or after (STANDIN_SLEEP_WHEN=after: the work is done, the
//                           process has not exited yet); a signal with the default action ends it
//   STANDIN_LATE_AT=1       that invocation, a docker create, exits 130 at once while a detached
//                           "engine" makes the container $STANDIN_LATE_MS (default 1500) ms later
//   STANDIN_IGNORE_SIGINT=1 SIGINT does not end it: it finishes what it was doing and exits with
//                           its own status, as a CLI that handles the signal may
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs'
import { constants } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'

// bottle starts a backend client with an allow-list of host variables (src/plan/client-env.ts),
// so a test's knobs for this stand-in (BOTTLE_STANDIN_*, STANDIN_*) come in a file in $HOME,
// written by the harness (tests/standins/knobs.ts). The log keeps the environment bottle gave.
const clientEnv = { ...process.env }
{
  const knobFile = process.env.HOME === undefined ? null : `${process.env.HOME}/.bottle-standin-knobs.json`
  if (knobFile !== null && existsSync(knobFile))
    for (const [k, v] of Object.entries(JSON.parse(readFileSync(knobFile, 'utf8')))) if (process.env[k] === undefined) process.env[k] = v
}

const [tool, ...argv] = process.argv.slice(2)

/** Programs of the stand-in image that differ from the host's (its passwd, for `id -u USER`). */
const guestBin = join(dirname(new URL(import.meta.url).pathname), 'guest-bin')

// -------------------------------------------------------------------------------------------------
// plumbing
// -------------------------------------------------------------------------------------------------

const say = (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
const complain = (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)

/** Ends the invocation with `code`; thrown, so every handler can stop with one statement. */
class Exit {
  constructor(code) {
    this.code = code
  }
}
const exit = (code, stderr) => {
  if (stderr !== undefined) complain(stderr)
  throw new Exit(code)
}

/** Our stdin, unless it is a terminal; /dev/null (the interpreter's `ignore`) reads as ''. */
const readStdin = () => {
  if (process.stdin.isTTY) return ''
  try {
    return readFileSync(0, 'utf8')
  } catch {
    return ''
  }
}

const numbers = (s) => (s ?? '').split(',').filter((x) => x !== '').map(Number)

const sleepSeconds = (s) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, s * 1000)

/**
 * Flags, clap- or cobra-style. `spec` maps each spelling to [key, 'bool' | 'value']; values are
 * collected in arrays (every repeatable flag keeps all). `stopAtPositional`: the first positional
 * and everything after it are `rest` (docker's SetInterspersed(false), clap's trailing_var_arg).
 */
const parseFlags = (args, spec, { stopAtPositional }) => {
  const flags = {}
  const positional = []
  let rest = null
  let dashDash = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--') {
      rest = args.slice(i + 1)
      dashDash = true
      break
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.startsWith('--') ? a.indexOf('=') : -1
      const flag = eq === -1 ? a : a.slice(0, eq)
      const def = spec[flag]
      if (def === undefined) {
        // Combined short booleans, `-it`.
        const shorts = /^-[A-Za-z]{2,}$/.test(a) ? [...a.slice(1)].map((c) => spec[`-${c}`]) : []
        if (shorts.length > 0 && shorts.every((d) => d?.[1] === 'bool')) {
          for (const [key] of shorts) flags[key] = true
          continue
        }
        return { error: a }
      }
      const [key, kind] = def
      if (kind === 'bool') flags[key] = true
      else {
        const v = eq === -1 ? args[++i] : a.slice(eq + 1)
        if (v === undefined) return { error: a }
        ;(flags[key] ??= []).push(v)
      }
      continue
    }
    if (stopAtPositional) {
      rest = args.slice(i)
      break
    }
    positional.push(a)
  }
  return { flags, positional, rest: rest ?? [], dashDash }
}

const one = (flags, key) => flags[key]?.at(-1)

// -------------------------------------------------------------------------------------------------
// state
// -------------------------------------------------------------------------------------------------

const stateDir = process.env.BOTTLE_STANDIN_STATE
const logPath = process.env.BOTTLE_STANDIN_LOG

const store = {
  dir: () => join(stateDir, tool),
  file: (name) => join(stateDir, tool, `${encodeURIComponent(name)}.json`),
  fs: (name) => join(stateDir, tool, `${encodeURIComponent(name)}.fs`),
  load: (name) => (existsSync(store.file(name)) ? JSON.parse(readFileSync(store.file(name), 'utf8')) : null),
  save: (name, record) => {
    // Every image has a /tmp.
    mkdirSync(join(store.fs(name), 'tmp'), { recursive: true })
    // Whole or not at all: another invocation may be listing at the same moment.
    writeFileSync(`${store.file(name)}.tmp${process.pid}`, JSON.stringify(record))
    renameSync(`${store.file(name)}.tmp${process.pid}`, store.file(name))
  },
  remove: (name) => {
    if (process.env.STANDIN_RUN_TAG !== undefined && existsSync(store.file(name)))
      appendFileSync(join(stateDir, 'removed.jsonl'), `${JSON.stringify({ by: process.env.STANDIN_RUN_TAG, labels: store.load(name).labels ?? [] })}\n`)
    rmSync(`${store.file(name)}.reserved`, { force: true })
    rmSync(store.file(name), { force: true })
    rmSync(store.fs(name), { recursive: true, force: true })
  },
  all: () =>
    existsSync(store.dir())
      ? readdirSync(store.dir())
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(store.dir(), f), 'utf8')))
      : [],
}

/** A guest path inside NAME.fs/; `..` cannot climb out. */
const inGuest = (name, p) => {
  const root = store.fs(name)
  const full = resolve(root, `.${resolve('/', p)}`)
  return relative(root, full).startsWith('..') ? root : full
}

// -------------------------------------------------------------------------------------------------
// guest commands (shared)
// -------------------------------------------------------------------------------------------------

/** Where a guest cwd is on the host: through a bind mount, else inside NAME.fs/. */
const hostCwd = (name, record, cwd) => {
  for (const [src, dst] of record.mounts) {
    if (cwd === dst) return src
    if (cwd.startsWith(`${dst}/`)) return join(src, cwd.slice(dst.length))
  }
  const p = inGuest(name, cwd)
  return existsSync(p) ? p : store.fs(name)
}

/**
 * Runs one guest command and returns its exit code. `notFound` is the tool's message for a
 * command that does not exist in the guest.
 */
const runGuest = (name, record, { argv: cmd, env, cwd, stdin }, notFound) => {
  const [file, ...args] = cmd
  const guestPath = (p) => inGuest(name, p)
  // sh on PATH, or by path (bottle's command wrapper and stop step name /bin/sh).
  if ((file === 'sh' || file === '/bin/sh') && args[0] === '-c') {
    const r = spawnSync('/bin/sh', args, {
      // The image's PATH (with the stand-in image's own `id`, which knows its users), then the
      // env the tool was told to give the command.
      env: { PATH: `${guestBin}:/usr/local/bin:/usr/bin:/bin`, ...env },
      cwd: hostCwd(name, record, cwd),
      input: stdin,
      encoding: 'utf8',
    })
    process.stdout.write(r.stdout ?? '')
    process.stderr.write(r.stderr ?? '')
    return r.status ?? 128 + (constants.signals[r.signal] ?? 0)
  }
  if (file === 'mkdir' && args[0] === '-p' && args[1] === '--') {
    for (const p of args.slice(2)) mkdirSync(guestPath(p), { recursive: true })
    return 0
  }
  if (file === 'chown' && args[0] === '-R' && args[1] === '--' && args.length === 4) {
    if (existsSync(guestPath(args[3]))) return 0
    complain(`chown: cannot access '${args[3]}': No such file or directory`)
    return 1
  }
  if (file === 'rm' && args[0] === '-f' && args[1] === '--') {
    for (const p of args.slice(2)) rmSync(guestPath(p), { recursive: true, force: true })
    return 0
  }
  if (file === 'tar' && args[0] === '-xf' && args[2] === '-C' && args.length === 4) {
    const r = spawnSync('tar', ['-xf', guestPath(args[1]), '-C', guestPath(args[3])], { encoding: 'utf8' })
    process.stderr.write(r.stderr ?? '')
    return r.status ?? 1
  }
  complain(notFound(file))
  return 127
}

/** `K=V` sets, a bare `K` forwards our own value or, if we have none, is dropped. */
const envEntries = (specs) => {
  const out = {}
  for (const s of specs ?? []) {
    const i = s.indexOf('=')
    if (i > 0) out[s.slice(0, i)] = s.slice(i + 1)
    else if (i === -1 && s !== '' && process.env[s] !== undefined) out[s] = process.env[s]
  }
  return out
}

const mountsOf = (volumes) =>
  (volumes ?? []).map((v) => {
    const parts = v.split(':')
    return [parts[0], parts[1]]
  })

// -------------------------------------------------------------------------------------------------
// smolvm (reference §1)
// -------------------------------------------------------------------------------------------------

const clapError = (arg) =>
  exit(2, `error: unexpected argument '${arg}' found\n\nUsage: smolvm machine <COMMAND>\n\nFor more information, try '--help'.`)

// src/data/mod.rs::validate_vm_name
const validVmName = (n) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(n) && !n.endsWith('-') && !n.includes('--')

const vmNotFound = (name) => exit(1, `Error: vm not found: ${name}`)

const smolvmSpecs = {
  create: {
    '-n': ['name', 'value'], '--name': ['name', 'value'], '--label': ['label', 'value'], '-I': ['image', 'value'],
    '--image': ['image', 'value'], '--cpus': ['cpus', 'value'], '--mem': ['mem', 'value'], '-v': ['volume', 'value'],
    '--volume': ['volume', 'value'], '-p': ['port', 'value'], '--port': ['port', 'value'], '--net': ['net', 'bool'],
    '--allow-host': ['allowHost', 'value'], '--allow-cidr': ['allowCidr', 'value'], '-e': ['env', 'value'],
    '--env': ['env', 'value'], '-w': ['workdir', 'value'], '--workdir': ['workdir', 'value'],
    '--secret-env': ['secretEnv', 'value'], '--init': ['init', 'value'],
    // HOST_SOCKET:GUEST_PATH, repeatable: a Unix socket the VM sees (virtiofs cannot carry one).
    '--mount-socket': ['mountSocket', 'value'],
  },
  start: { '-n': ['name', 'value'], '--name': ['name', 'value'], '--proxy': ['proxy', 'value'], '--no-proxy': ['noProxy', 'value'] },
  stop: { '-n': ['name', 'value'], '--name': ['name', 'value'] },
  delete: { '-n': ['name', 'value'], '--name': ['name', 'value'], '-f': ['force', 'bool'], '--force': ['force', 'bool'], '--cascade': ['cascade', 'bool'] },
  status: { '-n': ['name', 'value'], '--name': ['name', 'value'], '--json': ['json', 'bool'] },
  ls: { '-v': ['verbose', 'bool'], '--verbose': ['verbose', 'bool'], '--json': ['json', 'bool'] },
  // exec has `--name` only: there is no `-n` (reference §1.2).
  exec: {
    '--name': ['name', 'value'], '-w': ['workdir', 'value'], '--workdir': ['workdir', 'value'], '-e': ['env', 'value'],
    '--env': ['env', 'value'], '--secret-env': ['secretEnv', 'value'], '--timeout': ['timeout', 'value'],
    '-i': ['interactive', 'bool'], '--interactive': ['interactive', 'bool'], '-t': ['tty', 'bool'], '--tty': ['tty', 'bool'],
    '--stream': ['stream', 'bool'],
  },
  cp: { '--mode': ['mode', 'value'], '--uid': ['uid', 'value'], '--gid': ['gid', 'value'] },
}

const notRunning = (name) =>
  exit(1, `Error: agent operation failed: connect: machine '${name}' is not running. Use 'smolvm machine start --name ${name}' first.`)

/** A machine that must exist and run (exec, cp). */
const runningMachine = (name) => {
  const m = store.load(name)
  if (m === null) return vmNotFound(name)
  if (m.state !== 'running') return notRunning(name)
  return m
}

const smolvm = (args, stdin) => {
  if (args[0] !== 'machine' && args[0] !== 'vm') exit(2, `error: unrecognized subcommand '${args[0]}'`)
  const sub = args[1] === 'rm' ? 'delete' : args[1] === 'list' ? 'ls' : args[1]
  const spec = smolvmSpecs[sub]
  if (spec === undefined) exit(2, `error: unrecognized subcommand '${args[1]}'`)
  const p = parseFlags(args.slice(2), spec, { stopAtPositional: sub === 'exec' })
  if (p.error !== undefined) clapError(p.error)
  const name = one(p.flags, 'name') ?? 'default'
  switch (sub) {
    case 'create': {
      // The workload command must follow `--` (clap `last = true`); a bare positional is an error.
      if (p.positional.length > 0) clapError(p.positional[0])
      if (!validVmName(name)) exit(1, `Error: invalid machine name: ${name}`) // stand-in wording
      if (store.load(name) !== null) exit(1, `Error: machine '${name}' already exists or is being created`)
      const mounts = mountsOf(p.flags.volume)
      for (const [src] of mounts)
        if (!existsSync(src) || !statSync(src).isDirectory())
          exit(1, 'Error: source path on host must be a directory (virtiofs limitation)')
      // The socket need not exist yet: the proxy that listens on it starts after the create.
      const sockets = (p.flags.mountSocket ?? []).map((m) => {
        const i = m.indexOf(':')
        if (i <= 0 || i === m.length - 1) exit(2, `error: invalid value '${m}' for '--mount-socket <HOST:GUEST>'`) // stand-in wording
        return [m.slice(0, i), m.slice(i + 1)]
      })
      store.save(name, {
        name, state: 'created', labels: p.flags.label ?? [], image: one(p.flags, 'image') ?? null, mounts, sockets,
        env: envEntries(p.flags.env), workdir: one(p.flags, 'workdir') ?? '/', secretEnv: p.flags.secretEnv ?? [],
      })
      return 0
    }
    case 'start': {
      const m = store.load(name)
      if (m === null) return vmNotFound(name)
      if (m.state === 'running') {
        say(`Machine '${name}' already running (PID: 4242)`)
        return 0
      }
      store.save(name, { ...m, state: 'running' })
      say(`Machine '${name}' started`) // stand-in wording
      return 0
    }
    case 'stop': {
      const m = store.load(name)
      if (m === null) return vmNotFound(name)
      if (m.state !== 'running') {
        say(`Machine '${name}' is not running (state: ${m.state})`)
        return 0
      }
      store.save(name, { ...m, state: 'stopped' })
      return 0
    }
    case 'delete': {
      if (one(p.flags, 'name') === undefined)
        exit(2, 'error: the following required arguments were not provided:\n  --name <NAME>')
      if (store.load(name) === null) return vmNotFound(name)
      if (p.flags.force !== true) {
        // Without -f it asks; anything but `y` (EOF included) cancels, exit 0, nothing deleted.
        process.stderr.write(`Delete machine '${name}'? [y/N] `)
        if (stdin.trim().toLowerCase() !== 'y') {
          complain('Cancelled')
          return 0
        }
      }
      store.remove(name)
      return 0
    }
    case 'status': {
      const m = store.load(name)
      if (m === null) return vmNotFound(name)
      say(`Machine '${name}': ${m.state}`)
      return 0
    }
    case 'ls': {
      // stand-in shape: the reference does not record `ls --json`'s fields.
      say(JSON.stringify(store.all().map((m) => ({ name: m.name, state: m.state, labels: m.labels }))))
      return 0
    }
    case 'exec': {
      if (p.rest.length === 0)
        exit(2, 'error: the following required arguments were not provided:\n  <COMMAND>...')
      const m = runningMachine(name)
      const secrets = {}
      for (const s of [...m.secretEnv, ...(p.flags.secretEnv ?? [])]) {
        const [guest, hostVar] = s.split('=')
        // Resolved from this process's env on every exec; unset fails (EnvUnset). Stand-in wording.
        if (process.env[hostVar] === undefined) exit(1, `Error: secret env ${guest}: host variable ${hostVar} is not set`)
        secrets[guest] = process.env[hostVar]
      }
      // There is no user flag: bottle switches user with `runuser -u U --` in the guest.
      let cmd = p.rest
      if (cmd[0] === 'runuser' && cmd[1] === '-u' && cmd[3] === '--') cmd = cmd.slice(4)
      return runGuest(
        name,
        m,
        {
          argv: cmd,
          env: { ...m.env, ...envEntries(p.flags.env), ...secrets },
          cwd: one(p.flags, 'workdir') ?? m.workdir,
          // Without -i the guest's stdin is /dev/null (reference §1.4).
          stdin: p.flags.interactive === true ? stdin : '',
        },
        (f) => `Error: exec failed: ${f}: command not found`, // stand-in wording
      )
    }
    case 'cp': {
      const [src, dst] = p.positional
      if (src === undefined || dst === undefined || p.positional.length > 2)
        exit(2, 'error: cp takes exactly SRC and DST')
      // SRC is split first: any `:` in it makes it remote (reference §1.6).
      if (src.includes(':')) {
        const [machine] = src.split(':')
        runningMachine(machine)
        exit(1, 'Error: stand-in: downloads are not simulated')
      }
      const colon = dst.indexOf(':')
      if (colon === -1) exit(1, 'Error: exactly one of SRC and DST must be remote (MACHINE:PATH)') // stand-in wording
      const machine = dst.slice(0, colon)
      runningMachine(machine)
      if (!existsSync(src)) exit(1, `Error: ${src}: No such file or directory`) // stand-in wording
      // A single file only: no directories (reference §1.6).
      if (!statSync(src).isFile()) exit(1, `Error: ${src} is not a regular file`) // stand-in wording
      const target = inGuest(machine, dst.slice(colon + 1))
      if (!existsSync(dirname(target))) exit(1, `Error: ${dirname(dst.slice(colon + 1))}: No such file or directory`) // stand-in wording
      copyFileSync(src, target)
      return 0
    }
  }
  return exit(2, `error: unrecognized subcommand '${args[1]}'`)
}

// -------------------------------------------------------------------------------------------------
// docker (reference §2)
// -------------------------------------------------------------------------------------------------

// cobra flag errors are StatusError{StatusCode: 125} for every docker subcommand.
const flagError = (sub, arg) => exit(125, `unknown flag: ${arg}\nSee 'docker ${sub} --help'.`)

const noSuchContainer = (name) => `Error response from daemon: No such container: ${name}`

const runFlags = {
  '-d': ['detach', 'bool'], '--detach': ['detach', 'bool'], '--name': ['name', 'value'], '--label': ['label', 'value'],
  '-l': ['label', 'value'], '--init': ['init', 'bool'], '-v': ['volume', 'value'], '--volume': ['volume', 'value'],
  '-w': ['workdir', 'value'], '--workdir': ['workdir', 'value'], '-e': ['env', 'value'], '--env': ['env', 'value'],
  '--network': ['network', 'value'], '--entrypoint': ['entrypoint', 'value'], '-u': ['user', 'value'],
  '--user': ['user', 'value'], '--read-only': ['readOnly', 'bool'], '--tmpfs': ['tmpfs', 'value'],
  '-i': ['interactive', 'bool'], '-t': ['tty', 'bool'], '--rm': ['rm', 'bool'], '--userns': ['userns', 'value'],
}

// `create` takes run's flags but -d, -i and -t; `start` here only -a and -i (reference §2.1).
const { '-d': _d, '--detach': _detach, ...createFlags } = runFlags

const dockerSpecs = {
  run: runFlags,
  create: createFlags,
  start: { '-a': ['attach', 'bool'], '--attach': ['attach', 'bool'], '-i': ['interactive', 'bool'], '--interactive': ['interactive', 'bool'] },
  exec: {
    '-d': ['detach', 'bool'], '--detach': ['detach', 'bool'], '-i': ['interactive', 'bool'],
    '--interactive': ['interactive', 'bool'], '-t': ['tty', 'bool'], '--tty': ['tty', 'bool'], '-u': ['user', 'value'],
    '--user': ['user', 'value'], '-e': ['env', 'value'], '--env': ['env', 'value'], '-w': ['workdir', 'value'],
    '--workdir': ['workdir', 'value'], '--privileged': ['privileged', 'bool'],
  },
  rm: { '-f': ['force', 'bool'], '--force': ['force', 'bool'], '-v': ['volumes', 'bool'], '--volumes': ['volumes', 'bool'] },
  cp: { '-a': ['archive', 'bool'], '-L': ['follow', 'bool'], '-q': ['quiet', 'bool'] },
  ps: {
    '-a': ['all', 'bool'], '--all': ['all', 'bool'], '--filter': ['filter', 'value'], '-f': ['filter', 'value'],
    '--format': ['format', 'value'], '-q': ['quiet', 'bool'], '--quiet': ['quiet', 'bool'], '--no-trunc': ['noTrunc', 'bool'],
  },
}

/** This invocation is a create the engine finishes after its client has exited (STANDIN_LATE_AT). */
let lateCreate = false

const docker = (args, stdin) => {
  // `docker container inspect --format '{{.State.Running}}' NAME`: the one template bottle uses.
  if (args[0] === 'container' && args[1] === 'inspect') {
    const p = parseFlags(args.slice(2), { '--format': ['format', 'value'], '-f': ['format', 'value'] }, { stopAtPositional: false })
    if (p.error !== undefined) flagError('container inspect', p.error)
    if (one(p.flags, 'format') !== '{{.State.Running}}') exit(1, 'stand-in: only --format {{.State.Running}} is played')
    let code = 0
    for (const name of p.positional) {
      const c = store.load(name)
      if (c === null) {
        say('')
        complain(noSuchContainer(name))
        code = 1
      } else say(String(c.state === 'running'))
    }
    return code
  }
  const [sub, ...rest] = args
  const spec = dockerSpecs[sub]
  if (spec === undefined) exit(1, `docker: unknown command: docker ${sub}`)
  // run and exec stop reading flags at IMAGE / CONTAINER (SetInterspersed(false)).
  const p = parseFlags(rest, spec, { stopAtPositional: sub === 'run' || sub === 'create' || sub === 'exec' })
  if (p.error !== undefined) flagError(sub, p.error)
  switch (sub) {
    case 'run':
    case 'create': {
      const [image, ...cmd] = p.rest
      if (image === undefined) exit(125, `"docker ${sub}" requires at least 1 argument.`)
      const name = one(p.flags, 'name') ?? `standin_${randomBytes(4).toString('hex')}`
      // The engine reserves the name at once, atomically (two creates racing for a name: one
      // wins); the reservation is dropped when the container is removed.
      mkdirSync(store.dir(), { recursive: true })
      let reserved = true
      try {
        writeFileSync(`${store.file(name)}.reserved`, '', { flag: 'wx' })
      } catch {
        reserved = false
      }
      const existing = store.load(name) ?? (reserved ? null : { id: 'a container being created' })
      // Interrupted: the client gives up at once; the engine refuses the name all the same.
      if (existing !== null && lateCreate) exit(130, 'context canceled')
      if (existing !== null)
        exit(125, `docker: Error response from daemon: Conflict. The container name "/${name}" is already in use by container "${existing.id}". You have to remove (or rename) that container to be able to reuse that name.\n\nRun 'docker ${sub} --help' for more information`)
      const id = randomBytes(32).toString('hex')
      const record = {
        name, id, state: sub === 'run' ? 'running' : 'created', labels: p.flags.label ?? [], image, cmd, entrypoint: one(p.flags, 'entrypoint') ?? null,
        mounts: mountsOf(p.flags.volume), env: envEntries(p.flags.env), workdir: one(p.flags, 'workdir') ?? '/',
      }
      if (lateCreate) {
        // The engine finishes the create after the client has gone (seen with docker: the
        // client exits 130 within ~30 ms of a SIGINT, the engine completes seconds later).
        const engine = spawn(process.execPath, ['-e', `setTimeout(() => {
          const fs = require('node:fs')
          fs.mkdirSync(${JSON.stringify(join(store.fs(name), 'tmp'))}, { recursive: true })
          fs.writeFileSync(${JSON.stringify(store.file(name))}, ${JSON.stringify(JSON.stringify(record))})
        }, ${Number(process.env.STANDIN_LATE_MS ?? 1500)})`], { detached: true, stdio: 'ignore' })
        engine.unref()
        exit(130, 'context canceled')
      }
      store.save(name, record)
      say(id)
      return 0
    }
    case 'start': {
      if (p.positional.length === 0) exit(1, '"docker start" requires at least 1 argument.')
      for (const name of p.positional) {
        const c = store.load(name)
        // The CLI reports each failure, then exits 1 naming the containers it could not start.
        if (c === null) exit(1, `${noSuchContainer(name)}\nError: failed to start containers: ${name}`)
        store.save(name, { ...c, state: 'running' })
        say(name)
      }
      return 0
    }
    case 'rm': {
      if (p.positional.length === 0) exit(1, '"docker rm" requires at least 1 argument.')
      let code = 0
      for (const ref of p.positional) {
        // A container is named by its name, its id or a unique prefix of its id (12+ here).
        const byId = ref.length >= 12 && /^[0-9a-f]+$/.test(ref) ? store.all().filter((x) => x.id.startsWith(ref)) : []
        const name = byId.length === 1 ? byId[0].name : ref
        const c = store.load(name)
        if (c === null) {
          complain(noSuchContainer(name))
          // `rm -f` on a missing container still exits 0 (reference §2.2).
          if (p.flags.force !== true) code = 1
          continue
        }
        if (c.state === 'running' && p.flags.force !== true) {
          complain(`Error response from daemon: cannot remove container "/${name}": container is running: stop the container before removing or force remove`)
          code = 1
          continue
        }
        store.remove(name)
        say(ref)
      }
      return code
    }
    case 'exec': {
      const [name, ...cmd] = p.rest
      if (name === undefined || cmd.length === 0) exit(1, '"docker exec" requires at least 2 arguments.')
      const c = store.load(name)
      if (c === null) exit(1, noSuchContainer(name))
      if (c.state !== 'running') exit(1, `Error response from daemon: container ${name} is not running`)
      return runGuest(
        name,
        c,
        {
          argv: cmd,
          env: { ...c.env, ...envEntries(p.flags.env) },
          cwd: one(p.flags, 'workdir') ?? c.workdir,
          stdin: p.flags.interactive === true ? stdin : '',
        },
        // Engine >= 28 (reference §2.2).
        (f) => `OCI runtime exec failed: exec failed: unable to start container process: exec: "${f}": executable file not found in $PATH: unknown`,
      )
    }
    case 'cp': {
      const [src, dst] = p.positional
      if (src === undefined || dst === undefined || p.positional.length > 2)
        exit(1, '"docker cp" requires exactly 2 arguments.')
      const colon = dst.indexOf(':')
      if (colon <= 0) exit(1, 'stand-in: only copies into a container are simulated')
      const name = dst.slice(0, colon)
      if (store.load(name) === null) exit(1, noSuchContainer(name))
      const contentsOnly = src.endsWith('/.')
      const from = contentsOnly ? src.slice(0, -2) : src
      if (!existsSync(from)) exit(1, `lstat ${from}: no such file or directory`)
      const guestDest = dst.slice(colon + 1)
      const target = inGuest(name, guestDest)
      // Parent directories of DEST are not created (reference §2.3).
      if (!existsSync(dirname(target)))
        exit(1, `Error response from daemon: Could not find the file ${dirname(guestDest)} in container ${name}`) // stand-in wording
      if (statSync(from).isDirectory()) cpSync(from, contentsOnly || !existsSync(target) ? target : join(target, from.split('/').at(-1)), { recursive: true })
      else copyFileSync(from, existsSync(target) && statSync(target).isDirectory() ? join(target, from.split('/').at(-1)) : target)
      return 0
    }
    case 'ps': {
      // `label=K=V` must be one of the container's labels; `name=REGEX` is matched, as the engine
      // does, against the name with and without its leading "/".
      const matches = (c, f) =>
        f.startsWith('name=')
          ? [c.name, `/${c.name}`].some((n) => new RegExp(f.slice('name='.length)).test(n))
          : c.labels.includes(f.replace(/^label=/, ''))
      const shown = store.all().filter((c) => (p.flags.all === true || c.state === 'running') && (p.flags.filter ?? []).every((f) => matches(c, f)))
      // -q: the engine's ids, one a line (--no-trunc: whole); else (stand-in output) names only,
      // whatever --format asks for.
      if (p.flags.quiet === true) {
        if (shown.length > 0) say(shown.map((c) => (p.flags.noTrunc === true ? c.id : c.id.slice(0, 12))).join('\n'))
      } else say(['NAMES', ...shown.map((c) => c.name)].join('\n'))
      return 0
    }
  }
  return exit(1, `docker: unknown command: docker ${sub}`)
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

/** Runs one handler to its exit code (an `exit(...)` inside it is caught here). */
const settle = (f) => {
  try {
    return f()
  } catch (e) {
    if (!(e instanceof Exit)) throw e
    return e.code
  }
}

const main = () => {
  if (logPath === undefined || stateDir === undefined)
    exit(99, `${tool} stand-in: BOTTLE_STANDIN_LOG and BOTTLE_STANDIN_STATE must be set`)
  const stdin = readStdin()
  const seq = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').filter((l) => l !== '').length + 1 : 1
  appendFileSync(logPath, `${JSON.stringify({ seq, tool, argv, env: clientEnv, stdin, cwd: process.cwd() })}\n`)
  const sleepHere = numbers(process.env.STANDIN_SLEEP_AT).includes(seq)
  const sleepAfter = process.env.STANDIN_SLEEP_WHEN === 'after'
  if (sleepHere && !sleepAfter) sleepSeconds(Number(process.env.STANDIN_SLEEP_SECONDS ?? 30))
  if (numbers(process.env.STANDIN_FAIL_AT).includes(seq)) {
    const code = Number(process.env.STANDIN_FAIL_CODE ?? 1)
    exit(code, tool === 'docker'
      ? `Error response from daemon: stand-in failure injected at invocation ${seq}`
      : `Error: stand-in failure injected at invocation ${seq}`)
  }
  lateCreate = numbers(process.env.STANDIN_LATE_AT).includes(seq) || process.env.STANDIN_LATE_CREATE === '1'
  const code = settle(() =>
    tool === 'smolvm' ? smolvm(argv, stdin) : tool === 'docker' ? docker(argv, stdin) : exit(99, `unknown stand-in ${tool}`),
  )
  if (sleepHere && sleepAfter) sleepSeconds(Number(process.env.STANDIN_SLEEP_SECONDS ?? 30))
  return code
}

if (process.env.STANDIN_IGNORE_SIGINT === '1') process.on('SIGINT', () => {})
process.exitCode = settle(main)
