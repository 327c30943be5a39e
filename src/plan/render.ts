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
import { type JsonPart, jsonParts } from './json.js'
import { quoteSh, quoteShArgument, quoteShArgv } from './quote.js'
import { type EnvVar, type Plan, type Stdin, type Step, runIdMark, secretSource } from './types.js'

export const formats = ['text', 'json', 'sh'] as const
export type Format = (typeof formats)[number]

export const render = (plan: Plan, format: Format): string =>
  format === 'json' ? renderJson(plan) : format === 'sh' ? renderSh(plan) : renderText(plan)

export const renderJson = (plan: Plan): string => `${JSON.stringify(plan, null, 2)}\n`

/** The progress line `bottle run` prints as a step starts: `[2/4] smolvm machine start --name demo`. */
export const progressLine = (plan: Plan, index: number): string =>
  `[${index + 1}/${plan.steps.length}] ${quoteShArgv(plan.steps[index]?.argv ?? [])}`

const describeVar = (v: EnvVar): string =>
  v._tag === 'plain'
    ? `${v.name}=${quoteSh(v.value)}`
    : secretSource(v) === v.name
      ? `${v.name} (secret, from the host env)`
      : `${v.name} (secret: the host env's ${secretSource(v)})`

/** A JSON stdin as indented lines, each secret as its name: `"TOKEN": <secret TOKEN, from the host env>`. */
const jsonStdinLines = (stdin: Extract<Stdin, { _tag: 'json' }>, indent: string): string[] =>
  jsonParts(stdin.document, stdin.secrets, 2)
    .map((p) => (p._tag === 'text' ? p.text : `<secret ${p.name}, from the host env>`))
    .join('')
    .split('\n')
    .map((line) => `${indent}      ${line}`)

/** `inherited`: what the step's process starts from (a pane starts from the tmux server's env). */
const stepText = (s: Step, label: string, indent: string, inherited = 'host env'): string[] => {
  const lines = [`${indent}${label} ${s.title}`, `${indent}    ${quoteShArgv(s.argv)}`]
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
  for (const t of s.tolerate) lines.push(`${indent}    ok if it exits ${t.exitCode} with ${JSON.stringify(t.stderrIncludes)} on stderr`)
  if (s.pane !== undefined) lines.push(...stepText(s.pane, 'in the pane:', `${indent}    `, "the tmux server's env"))
  if ((s.runIdAt ?? []).length > 0) lines.push(`${indent}    ${runIdMark}: a fresh random id, made by bottle run each time it runs the plan`)
  for (const u of s.undo) lines.push(...stepText(u, 'undo:', `${indent}    `))
  for (const u of s.onInterrupt ?? []) lines.push(...stepText(u, 'if interrupted while it runs:', `${indent}    `))
  if (s.liveCheck !== undefined)
    lines.push(...stepText(s.liveCheck.step, `if it exits ${s.liveCheck.codes.join(' or ')} (the backend's own code too), and this does not print ${quoteSh(s.liveCheck.running)}, exit 125:`, `${indent}    `))
  return lines
}

export const renderText = (plan: Plan): string => {
  const head = `${plan.op}${plan.bottle === '' ? '' : ` ${plan.bottle}`} on ${plan.backend}: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}`
  const lines = [head]
  if (plan.secrets.length > 0) lines.push(`secrets, by name, from the host env: ${plan.secrets.join(' ')}`)
  plan.steps.forEach((s, i) => lines.push(...stepText(s, `[${i + 1}/${plan.steps.length}]`, '')))
  if (plan.exitCodeFrom !== null) lines.push(`exit code: step ${plan.exitCodeFrom + 1}'s`)
  for (const n of plan.notes) lines.push(`note: ${n}`)
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
const awkOperands = (parts: readonly JsonPart[]): string[] => {
  const ops: string[] = []
  for (const p of parts) {
    if (p._tag === 'secret') ops.push(...(ops.length % 2 === 0 ? ['', p.name] : [p.name]))
    else if (ops.length % 2 === 1) ops[ops.length - 1] += p.text
    else ops.push(p.text)
  }
  return ops
}

/** The start of a pipeline that writes the step's stdin, or '' for none. */
const shFeed = (stdin: Stdin): string => {
  if (stdin._tag === 'text') return `printf '%s' ${quoteSh(stdin.text)} | `
  if (stdin._tag !== 'json') return ''
  const parts = jsonParts(stdin.document, stdin.secrets)
  if (stdin.secrets.length === 0) return `printf '%s' ${quoteSh(parts.map((p) => (p._tag === 'text' ? p.text : '')).join(''))} | `
  return `awk ${quoteSh(awkJsonProgram)} ${awkOperands(parts).map(quoteSh).join(' ')} </dev/null | `
}

/** The step's argv as sh words, the run id's words as "$bottle_run". */
const shArgv = (s: Step): string =>
  s.argv
    .map((w, i) => (i === 0 ? quoteShArgv([w]) : (s.runIdAt ?? []).includes(i) ? '"$bottle_run"' : quoteShArgument(w)))
    .join(' ')

/** Every step a plan may run: its steps, their undo, stop and live-check steps. */
const allSteps = (steps: readonly Step[]): Step[] =>
  steps.flatMap((s) => [s, ...allSteps([...s.undo, ...(s.onInterrupt ?? []), ...(s.liveCheck === undefined ? [] : [s.liveCheck.step])])])

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

export const renderSh = (plan: Plan): string => {
  const out: string[] = [
    '#!/bin/sh',
    `# bottle: ${plan.op}${plan.bottle === '' ? '' : ` ${plan.bottle}`} on ${plan.backend}, from \`bottle plan --format sh\`.`,
    '# Run it with the same host environment `bottle run` would have; it does the same steps.',
    ...plan.secrets.map((n) => `: "\${${n}?bottle: secret ${n} is not set in the host environment}"`),
    ...(allSteps(plan.steps).some((s) => (s.runIdAt ?? []).length > 0)
      ? [`bottle_run=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n') && [ -n "$bottle_run" ] || exit 1`]
      : []),
    `bottle_undo=':'`,
    `bottle_stop=':'`,
    `bottle_err=$(mktemp) || exit 1`,
    `bottle_fail() { bottle_status=$1; trap - INT TERM; eval "$bottle_stop"; eval "$bottle_undo"; rm -f "$bottle_err"; exit "$bottle_status"; }`,
    `bottle_clear() { for bottle_v in $(awk 'BEGIN { for (k in ENVIRON) if (k ~ /^[A-Za-z_][A-Za-z0-9_]*$/) print k }' </dev/null); do unset "$bottle_v" 2>/dev/null; done; }`,
    `trap 'bottle_fail 130' INT`,
    `trap 'bottle_fail 143' TERM`,
  ]
  plan.steps.forEach((s, i) => {
    out.push('', `# [${i + 1}/${plan.steps.length}] ${s.title.replace(/\n/g, ' ')}`)
    if (s.stdio === 'capture') out.push('# bottle run reads this output (ls parses it); the script prints it as it comes')
    const isResult = plan.exitCodeFrom === i
    const capture = s.tolerate.length > 0 ? ` 2>"$bottle_err"` : ''
    // An interrupt while this step runs: sh runs the trap once the step's process has ended.
    for (const stop of s.onInterrupt ?? [])
      out.push(`bottle_stop=${quoteSh(`echo ${quoteSh(`bottle: interrupted: ${stop.title}`)} >&2; ${shCommand(stop)} >/dev/null 2>&1; `)}"$bottle_stop"`)
    out.push(`bottle_rc=0; ${shCommand(s)}${capture} || bottle_rc=$?`)
    if ((s.onInterrupt ?? []).length > 0) out.push(`bottle_stop=':'`)
    if (s.liveCheck !== undefined) {
      const c = s.liveCheck
      out.push(
        `case "$bottle_rc" in ${c.codes.join('|')}) [ "$(${shCommand(c.step)} 2>/dev/null)" = ${quoteSh(c.running)} ] || { ` +
          `echo ${quoteSh(`bottle: ${plan.backend} could not run the command in the bottle ${plan.bottle} (its exit code was ${plan.backend}'s own, not the command's)`)} >&2; bottle_rc=125; };; esac`,
      )
    }
    if (isResult) {
      out.push(`rm -f "$bottle_err"; exit "$bottle_rc"`)
      return
    }
    if (s.tolerate.length > 0)
      out.push(`if [ "$bottle_rc" -ne 0 ] && ! { ${tolerateTest(s)}; }; then cat "$bottle_err" >&2; bottle_fail "$bottle_rc"; fi`)
    else out.push(`[ "$bottle_rc" -eq 0 ] || bottle_fail "$bottle_rc"`)
    for (const u of s.undo)
      out.push(`bottle_undo=${quoteSh(`${shCommand(u)} >/dev/null 2>&1; `)}"$bottle_undo"`)
  })
  // A plan whose exit code is a step's has exited at that step already.
  if (plan.exitCodeFrom === null) out.push('', 'rm -f "$bottle_err"', 'exit 0')
  return `${out.join('\n')}\n`
}
