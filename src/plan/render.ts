/**
 * Prints a plan three ways: for people (text), for programs (json), and as a POSIX sh script that,
 * run with the same host env, does what `bottle run` does (secrets as "$NAME" references).
 *
 *   renderText(plan)   // "[1/1] run claude as node\n  docker exec -i -u node … demo claude\n"
 *   renderJson(plan)   // '{"op":"agent","backend":"docker","steps":[{"argv":["docker",…]}]…}'
 *   renderSh(plan)     // "#!/bin/sh\n…"
 *
 * A plan holds secret names only, so nothing here can print a secret's value.
 */
import { oneLine } from './errors.js'
import { type JsonPart, jsonParts } from './json.js'
import { quoteSh, quoteShArgv, quoteShWords } from './quote.js'
import {
  type EnvVar,
  type Note,
  type Plan,
  type Stdin,
  type Step,
  absurd,
  launchIdShown,
  secretSource,
  usesLaunchId,
  withLaunchId,
} from './types.js'

export const formats = ['text', 'json', 'sh'] as const
export type Format = (typeof formats)[number]

export const render = (plan: Plan, format: Format): string =>
  format === 'json' ? renderJson(plan) : format === 'sh' ? renderSh(plan) : renderText(plan)

export const renderJson = (plan: Plan): string => `${JSON.stringify(plan, null, 2)}\n`

/**
 * The progress line `bottle run` prints as a step starts: `[2/4] smolvm machine start --name demo`,
 * with the run's launch id in its slots (`bottle plan` has none: it shows `<launch id>`).
 */
export const progressLine = (plan: Plan, index: number, launchId = launchIdShown): string => {
  const s = plan.steps[index]
  return `[${index + 1}/${plan.steps.length}] ${quoteShArgv(s === undefined ? [] : withLaunchId(s, launchId))}`
}

/**
 * A note as the one line people read after `note: ` (and `bottle run` after `bottle: `). Control
 * characters are shown as escapes: a note can quote a name or a path, and must stay one line.
 */
export const noteText = (n: Note): string => oneLine(noteSentence(n))

const noteSentence = (n: Note): string => {
  switch (n._tag) {
    case 'backend':
      return `backend ${n.backend}: ${n.why}`
    case 'drift':
      return `drift: ${n.text}`
    case 'update':
      return `update: ${n.change}`
    case 'notApplied':
      return `not applied: ${n.change}`
    case 'nothingToUpdate':
      return `nothing to update: ${n.bottle} already runs with what can change on a live bottle (env, secrets, agent, prompt); nothing is written`
    case 'signIn':
      return signInSentence(n)
    case 'info':
      return n.text
    default:
      return absurd(n)
  }
}

const signInSentence = (n: Extract<Note, { _tag: 'signIn' }>): string => {
  if (n.how === 'shared')
    return `sign-in: shared: ${n.dir ?? ''} is the agent's config directory in the bottle, read-write, kept on the host by undo and down; every bottle with auth: shared on this backend writes it too, so settings or hooks one bottle writes there run in the next`
  return n.secrets.length === 0
    ? 'sign-in: by token, and no sign-in secret is set: the agent starts signed out (--secret CLAUDE_CODE_OAUTH_TOKEN from claude setup-token, or ANTHROPIC_API_KEY; or auth: shared)'
    : `sign-in: by token, from the secret ${n.secrets.join(', ')}`
}

/**
 * What `bottle run` says on stderr before it runs: each drift note, as a warning (the op still
 * runs, on the bottle as it is). Chosen by tag: a note's words are never read back.
 */
export const runWarnings = (plan: Plan): string[] => plan.notes.filter((n) => n._tag === 'drift').map((n) => `bottle: ${noteText(n)}`)

/** What `bottle run update` shows before it asks: each change, applied or not, or that there is none. */
export const updateLines = (plan: Plan): string[] =>
  plan.notes.filter((n) => n._tag === 'update' || n._tag === 'notApplied' || n._tag === 'nothingToUpdate').map(noteText)

const describeVar = (v: EnvVar): string =>
  v._tag === 'plain'
    ? `${v.name}=${quoteSh(v.value)}`
    : secretSource(v) === v.name
      ? `${v.name} (secret, from the host env)`
      : `${v.name} (secret: the host env's ${secretSource(v)})`

/** A JSON stdin as indented lines, each secret as its name: `"TOKEN": <secret TOKEN, from the host env>`. */
const jsonStdinLines = (stdin: Extract<Stdin, { _tag: 'json' }>, indent: string): string[] =>
  jsonParts(stdin.document, stdin.secrets, 2, stdin.launchId)
    .map((p) => (p._tag === 'text' ? p.text : p._tag === 'secret' ? `<secret ${p.name}, from the host env>` : launchIdShown))
    .join('')
    .split('\n')
    .map((line) => `${indent}      ${line}`)

/** `5 s`, `0.5 s`: a time limit for people. */
const seconds = (ms: number): string => `${ms / 1000} s`

/** `inherited`: what the step's process starts from (a pane starts from the tmux server's env). */
const stepText = (s: Step, label: string, indent: string, inherited = 'host env'): string[] => {
  const lines = [`${indent}${label} ${s.title}`, `${indent}    ${quoteShArgv(withLaunchId(s, launchIdShown))}`]
  const env = s.env.vars.map(describeVar)
  if (!s.env.inheritHost) lines.push(`${indent}    env: only ${env.length === 0 ? '(nothing)' : env.join(' ')}`)
  else if (env.length > 0) lines.push(`${indent}    env: ${inherited}, with ${env.join(' ')}`)
  if (s.guest !== undefined) {
    const i = s.guest.intent
    lines.push(`${indent}    in the bottle: as ${i.user} (HOME=${quoteSh(i.home)}) in ${quoteSh(i.cwd)}, ${i.tty ? 'with a TTY' : 'no TTY'}: ${quoteShArgv(s.guest.tail)}`)
  }
  if (s.stdin._tag === 'text') lines.push(`${indent}    stdin: ${s.stdin.text.length} characters, shown in --format json`)
  if (s.stdin._tag === 'json') lines.push(`${indent}    stdin:`, ...jsonStdinLines(s.stdin, indent))
  if (s.stdio === 'capture') lines.push(`${indent}    stdout: read by bottle, not shown`)
  if (s.timeoutMs !== undefined) lines.push(`${indent}    time limit: ${seconds(s.timeoutMs)}; bottle run stops it (SIGTERM) after that`)
  for (const t of s.tolerate) lines.push(`${indent}    ok if it exits ${t.exitCode} with ${JSON.stringify(t.stderrIncludes)} on stderr`)
  if (s.pane !== undefined) lines.push(...stepText(s.pane, 'in the pane:', `${indent}    `, "the tmux server's env"))
  for (const u of s.undo) lines.push(...stepText(u, 'undo:', `${indent}    `))
  for (const h of s.onInterrupt ?? []) lines.push(...stepText(h, 'if interrupted:', `${indent}    `))
  if (s.liveCheck !== undefined)
    lines.push(...stepText(
      s.liveCheck.step,
      `if it exits ${s.liveCheck.codes.join(' or ')}: unless this prints ${JSON.stringify(s.liveCheck.running)}, the code was ${s.argv[0] ?? 'the backend'}'s own and bottle exits 125:`,
      `${indent}    `,
    ))
  return lines
}

export const renderText = (plan: Plan): string => {
  const head = `${plan.op}${plan.bottle === '' ? '' : ` ${plan.bottle}`} on ${plan.backend}: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}`
  const lines = [head]
  if (plan.secrets.length > 0) lines.push(`secrets, by name, from the host env: ${plan.secrets.join(' ')}`)
  plan.steps.forEach((s, i) => lines.push(...stepText(s, `[${i + 1}/${plan.steps.length}]`, '')))
  if (plan.exitCodeFrom !== null) lines.push(`exit code: step ${plan.exitCodeFrom + 1}'s`)
  if (usesLaunchId(plan))
    lines.push(`${launchIdShown}: a fresh id for each run of this plan; an undo removes only what carries this run's`)
  for (const n of plan.notes) lines.push(`note: ${noteText(n)}`)
  return `${lines.join('\n')}\n`
}

// -------------------------------------------------------------------------------------------------
// sh
// -------------------------------------------------------------------------------------------------

/**
 * Prints a JSON document with secret values read from the environment, JSON-escaped. Operands
 * alternate: text to print as it is, then the name of an env var to print as a JSON string.
 * awk reads the value from ENVIRON, so it is never in an argv; POSIX awk, tested with mawk.
 */
const awkJsonProgram = String.raw`BEGIN {
  for (i = 1; i < 32; i++) esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
  esc["\\"] = "\\\\"; esc["\""] = "\\\""
  for (i = 1; i < ARGC; i++) {
    if (i % 2 == 1) { printf "%s", ARGV[i]; continue }
    v = ENVIRON[ARGV[i]]; s = ""
    for (j = 1; j <= length(v); j++) { c = substr(v, j, 1); s = s ((c in esc) ? esc[c] : c) }
    printf "\"%s\"", s
  }
  exit
}`

/** awk's operands for a document's parts: text and name, alternating, starting with text. */
const awkOperands = (parts: readonly Exclude<JsonPart, { _tag: 'launchId' }>[]): string[] => {
  const ops: string[] = []
  for (const p of parts) {
    if (p._tag === 'secret') ops.push(...(ops.length % 2 === 0 ? ['', p.name] : [p.name]))
    else if (ops.length % 2 === 1) ops[ops.length - 1] += p.text
    else ops.push(p.text)
  }
  return ops
}

/**
 * Stands for a launch id slot in the text of a JSON stdin until it is quoted: JSON.stringify
 * escapes every control character, so the text never holds one of its own.
 */
const launchIdMark = '\u0001'

/**
 * A quoted word with `launchIdMark` in it, each mark made into the script's launch id: the mark is
 * inside single quotes (quoteSh quotes any word holding a control character), so it becomes
 * `'"$bottle_launch_id"'`. The id is 16 hex digits: nothing in it needs a JSON escape.
 */
const withShLaunchId = (quoted: string): string => quoted.split(launchIdMark).join(`'"$bottle_launch_id"'`)

/** The start of a pipeline that writes the step's stdin, or '' for none. */
const shFeed = (stdin: Stdin): string => {
  if (stdin._tag === 'text') return `printf '%s' ${quoteSh(stdin.text)} | `
  if (stdin._tag !== 'json') return ''
  // Each launch id slot becomes text: a JSON string around the mark.
  const parts = jsonParts(stdin.document, stdin.secrets, 0, stdin.launchId).map((p) =>
    p._tag === 'launchId' ? { _tag: 'text' as const, text: `"${launchIdMark}"` } : p,
  )
  if (stdin.secrets.length === 0) return `printf '%s' ${withShLaunchId(quoteSh(parts.map((p) => (p._tag === 'text' ? p.text : '')).join('')))} | `
  return `awk ${quoteSh(awkJsonProgram)} ${awkOperands(parts).map((o) => withShLaunchId(quoteSh(o))).join(' ')} </dev/null | `
}

/** The step's argv for sh: each launch id slot as its text followed by "$bottle_launch_id". */
const shArgv = (s: Step): string =>
  quoteShWords(s.argv)
    .map((q, i) => (s.launchId?.includes(i) ? `${s.argv[i] === '' ? '' : q}"$bottle_launch_id"` : q))
    .join(' ')

/** A command line with its env: host env plus assignments, or (bwrap) only the listed vars. */
const shCommand = (s: Step): string => {
  const argv = shArgv(s)
  const redirect = s.stdio === 'terminal' ? '' : ' </dev/null'
  const feed = shFeed(s.stdin)
  if (s.env.inheritHost) {
    // A secret under its own name is already in the host env the script runs with; plain vars,
    // and secrets under another name, are assignments (the latter a reference, not a value).
    const assigns = s.env.vars
      .map((v) =>
        v._tag === 'plain' ? `${v.name}=${quoteSh(v.value)} ` : secretSource(v) === v.name ? '' : `${v.name}="$${secretSource(v)}" `,
      )
      .join('')
    return `${feed}${assigns}${argv}${feed === '' ? redirect : ''}`
  }
  // Only the listed vars: keep the secrets in shell variables, unset every exported name,
  // then export what the step gets. `env -i NAME="$VALUE"` would put the value in argv.
  const keep = s.env.vars
    .map((v) => (v._tag === 'secret' ? `bottle_keep_${v.name}=$${secretSource(v)}; ` : ''))
    .join('')
  const exports = s.env.vars
    .map((v) => (v._tag === 'secret' ? `export ${v.name}="$bottle_keep_${v.name}"; ` : `export ${v.name}=${quoteSh(v.value)}; `))
    .join('')
  return `${feed}(${keep}bottle_clear; ${exports}exec ${argv})${feed === '' ? redirect : ''}`
}

const tolerateTest = (s: Step): string =>
  s.tolerate
    .map((t) => `{ [ "$bottle_rc" -eq ${t.exitCode} ] && grep -qF -e ${quoteSh(t.stderrIncludes)} "$bottle_err"; }`)
    .join(' || ')

/**
 * The script's interrupt handling, what `bottle run` does as far as POSIX sh can. A lifecycle
 * step runs as an asynchronous list, which a non-interactive sh starts with SIGINT ignored (and
 * it ignores the hangup itself), while the script waits for it with `wait`, which a trapped
 * signal interrupts: so the first Ctrl-C, SIGTERM or SIGHUP is announced, the step finishes,
 * then the undo runs with this run's launch id. A second one forces: the script stops and says
 * what may be left.
 */
const shInterrupts = (plan: Plan): string[] => {
  const left =
    plan.op === 'launch'
      ? `to remove it: bottle run down ${plan.bottle} -b ${plan.backend}`
      : 'see bottle plan for its undo steps'
  return [
    `bottle_left() { echo "bottle: this run\${bottle_launch_id:+ (launch id $bottle_launch_id)} may have left what it created; ${left.replace(/["$`\\]/g, '\\$&')}" >&2; }`,
    `bottle_force() { echo 'bottle: interrupted again: forcing: stopping now, nothing more is undone' >&2; [ -z "$bottle_pid" ] || kill "$bottle_pid" 2>/dev/null; bottle_left; rm -f "$bottle_err"; exit "\${bottle_sig:-130}"; }`,
    `bottle_on() { bottle_trapped=1; [ -z "$bottle_sig" ] || bottle_force; bottle_sig=$1; echo 'bottle: interrupted: letting the step in flight finish, then undoing what this run created (again to force)' >&2; }`,
    `bottle_fail() { bottle_status=$1; trap 'bottle_sig=\${bottle_sig:-130}; bottle_force' INT TERM HUP; bottle_bad=; eval "$bottle_undo"; bottle_undo=':'; [ -z "$bottle_bad" ] || bottle_left; rm -f "$bottle_err"; exit "$bottle_status"; }`,
    `bottle_wait() { bottle_pid=$!; while :; do bottle_trapped=; wait "$bottle_pid"; bottle_w=$?; [ "$bottle_w" -gt 128 ] && [ -n "$bottle_trapped" ] || break; done; bottle_pid=; return "$bottle_w"; }`,
    `trap 'bottle_on 130' INT`,
    `trap 'bottle_on 143' TERM`,
    `trap 'bottle_on 129' HUP`,
  ]
}

/** 16 hex digits from /dev/urandom: POSIX od and tr, so every run of the script has its own id. */
const shLaunchId = [
  `bottle_launch_id=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')`,
  `[ "\${#bottle_launch_id}" -eq 16 ] || { echo 'bottle: cannot make a launch id from /dev/urandom' >&2; exit 1; }`,
]

/**
 * After the guest command, as `bottle run` does: interrupted, its stop steps and 130/143 (a
 * client such as `docker exec` lets go of the command and exits 0); a code the client also uses
 * for its own failures, the live check, and 125 with one line when the bottle is not running.
 * sh runs a trap only once the foreground command has ended: Ctrl-C ends the client, then this
 * stops what it left running; a `kill` of the script alone waits for the client to end.
 */
const shResultChecks = (plan: Plan, s: Step): string[] => {
  const out: string[] = []
  const stops = s.onInterrupt ?? []
  if (stops.length > 0)
    out.push(`if [ -n "$bottle_sig" ]; then ${stops.map((u) => `${shCommand(u)} >/dev/null 2>&1;`).join(' ')} rm -f "$bottle_err"; exit "$bottle_sig"; fi`)
  const check = s.liveCheck
  if (check !== undefined) {
    const said = `bottle: ${plan.backend} could not run the command in the bottle ${plan.bottle} (its exit $bottle_rc was ${plan.backend}'s own, not the command's): `
    out.push(
      `case $bottle_rc in ${check.codes.join('|')})`,
      `  bottle_live=$(${shCommand(check.step)} 2>&1) || true`,
      `  [ "$bottle_live" = ${quoteSh(check.running)} ] || { printf '%s\\n' ${quoteSh(said).replace(/\$bottle_rc/g, `'"$bottle_rc"'`)}"$(printf '%s\\n' "$bottle_live" | head -n 1)" >&2; rm -f "$bottle_err"; exit 125; } ;;`,
      'esac',
    )
  }
  return out
}

export const renderSh = (plan: Plan): string => {
  const out: string[] = [
    '#!/bin/sh',
    `# bottle: ${plan.op}${plan.bottle === '' ? '' : ` ${plan.bottle}`} on ${plan.backend}, from \`bottle plan --format sh\`.`,
    '# Run it with the same host environment `bottle run` would have; it does the same steps.',
    ...plan.secrets.map((n) => `: "\${${n}?bottle: secret ${n} is not set in the host environment}"`),
    ...(usesLaunchId(plan) ? shLaunchId : []),
    `bottle_undo=':'`,
    `bottle_sig=`,
    `bottle_pid=`,
    // mktemp writes in $TMPDIR, which a secret of that name sets: one that is no directory falls back to /tmp.
    `bottle_err=$(mktemp 2>/dev/null || TMPDIR=/tmp mktemp) || exit 1`,
    `bottle_clear() { for bottle_v in $(awk 'BEGIN { for (k in ENVIRON) if (k ~ /^[A-Za-z_][A-Za-z0-9_]*$/) print k }' </dev/null); do unset "$bottle_v" 2>/dev/null; done; }`,
    ...shInterrupts(plan),
  ]
  const undoLines = (s: Step): string[] =>
    s.undo.map((u) => `bottle_undo=${quoteSh(`{ ${shCommand(u)} >/dev/null 2>&1 || bottle_bad=1; }; `)}"$bottle_undo"`)
  plan.steps.forEach((s, i) => {
    out.push('', `# [${i + 1}/${plan.steps.length}] ${s.title.replace(/\n/g, ' ')}`)
    if (s.stdio === 'capture') out.push('# bottle run reads this output (ls parses it); the script prints it as it comes')
    // POSIX sh has no time limit for a command (timeout(1) is not POSIX): the script says so.
    if (s.timeoutMs !== undefined) out.push(`# bottle run stops this step after ${seconds(s.timeoutMs)}; this script waits for it`)
    const isResult = plan.exitCodeFrom === i
    const capture = s.tolerate.length > 0 ? ` 2>"$bottle_err"` : ''
    // The guest command, or a step that owns the terminal, runs in the foreground: the key is its.
    const foreground = isResult || s.stdio === 'terminal'
    out.push(
      foreground
        ? `bottle_rc=0; ${shCommand(s)}${capture} || bottle_rc=$?`
        : `bottle_rc=0; ( trap '' HUP; ${shCommand(s)}${capture} ) & bottle_wait || bottle_rc=$?`,
    )
    if (isResult) {
      out.push(...shResultChecks(plan, s), `rm -f "$bottle_err"; exit "$bottle_rc"`)
      return
    }
    // Interrupted: this step's undo too, however it ended (it removes only this run's).
    if (s.undo.length > 0) out.push(`if [ -n "$bottle_sig" ]; then`, ...undoLines(s).map((l) => `  ${l}`), 'fi')
    out.push(`[ -z "$bottle_sig" ] || bottle_fail "$bottle_sig"`)
    if (s.tolerate.length > 0)
      out.push(`if [ "$bottle_rc" -ne 0 ] && ! { ${tolerateTest(s)}; }; then cat "$bottle_err" >&2; bottle_fail "$bottle_rc"; fi`)
    else out.push(`[ "$bottle_rc" -eq 0 ] || bottle_fail "$bottle_rc"`)
    out.push(...undoLines(s))
  })
  // A plan whose exit code is a step's has exited at that step already.
  if (plan.exitCodeFrom === null) out.push('', 'rm -f "$bottle_err"', 'exit 0')
  return `${out.join('\n')}\n`
}
