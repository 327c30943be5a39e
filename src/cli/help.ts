/**
 * The help pages and the version, read off the ops table (ops.ts): bottle's own page (every
 * operation with an example), a mode's (its operations), and an operation's (usage, flags, one
 * example that works as written).
 *
 *   helpText({ _tag: 'op', mode: 'plan', op: 'exec' })
 *   // "Usage: bottle plan exec [options] <name> <script>\n\nrun a POSIX sh script …\n\nOptions:\n  -b, --backend <backend> …\n\nExample:\n  bottle plan exec demo 'npm test' --user node\n"
 */
import packageJson from '../../package.json' with { type: 'json' }
import type { OpName } from '../plan/types.js'
import type { HelpTopic } from './request.js'
import { type FlagDoc, type FlagName, type Mode, argsUsage, flagDocs, flagsOf, opList, ops } from './ops.js'

/** bottle's version, from package.json (the bundle carries it: nothing is read at run time). */
export const version: string = packageJson.version

const modeSummary: Readonly<Record<Mode, string>> = {
  plan: 'print the plan for an operation; run nothing',
  run: 'run the plan for an operation',
}

/** Two columns, the left one padded to its widest entry. */
const columns = (rows: readonly (readonly [string, string])[]): string[] => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`)
}

/** An operation's example, for the mode asked about (`bottle ls` is its own spelling). */
const exampleFor = (mode: Mode, op: OpName, ls: boolean): string =>
  ls ? 'bottle ls --json' : ops[op].example.replace(/^bottle run /, `bottle ${mode} `)

const flagUsage = (name: FlagName): string => {
  const d: FlagDoc = flagDocs[name]
  const long = d.negatable === true ? `--${name}, --no-${name}` : `--${name}`
  return `${d.short === undefined ? '    ' : `-${d.short}, `}${long}${d.value === undefined ? '' : ` ${d.value}`}`
}

const opUsage = (op: OpName): string => {
  const args = argsUsage(ops[op].args)
  return `${op} [options]${args === '' ? '' : ` ${args}`}`
}

const bottleHelp = (): string =>
  [
    'Usage: bottle plan|run <operation> [options]',
    '',
    'Run coding agents in sandboxes, and show every command before it runs.',
    '',
    ...columns([
      ['bottle plan <operation> …', modeSummary.plan],
      ['bottle run <operation> …', modeSummary.run],
      ['bottle ls', 'list the bottles (the same as bottle run ls)'],
      ['bottle dash [-b <backend>] [-f <file>]', 'every bottle on one screen; each key runs a plan bottle plan prints (on a terminal)'],
      ['bottle <mode> <operation> --help', "an operation's flags, and an example"],
      ['bottle --version', "bottle's version"],
    ]),
    '',
    'Operations, each with an example:',
    ...opList.flatMap((op) => [`  ${opUsage(op)}`, `      ${ops[op].summary}`, `      e.g. ${ops[op].example}`]),
    '',
  ].join('\n')

const modeHelp = (mode: Mode): string =>
  [
    `Usage: bottle ${mode} <operation> [options]`,
    '',
    modeSummary[mode],
    '',
    'Operations:',
    ...columns(opList.map((op) => [opUsage(op), ops[op].summary])),
    ...(mode === 'run' ? ['', `A saved plan: bottle run --plan <file> [-q]   ${flagDocs.plan.description}`] : []),
    '',
    'Example:',
    `  ${exampleFor(mode, 'agent', false)}`,
    '',
    `bottle ${mode} <operation> --help: that operation's flags, and an example.`,
    '',
  ].join('\n')

const opHelp = (mode: Mode, op: OpName, ls: boolean): string => {
  const flagRows = flagsOf(mode, op).map((name): [string, string] => [
    flagUsage(name),
    name === 'backend' ? `${flagDocs.backend.description} (default: ${ops[op].backendDefault})` : flagDocs[name].description,
  ])
  return [
    `Usage: bottle ${ls ? '' : `${mode} `}${opUsage(op)}`,
    '',
    ops[op].summary,
    '',
    'Options:',
    ...columns([...flagRows, ['-h, --help', 'show this help']]),
    '',
    'Example:',
    `  ${exampleFor(mode, op, ls)}`,
    '',
  ].join('\n')
}

export const helpText = (topic: HelpTopic): string => {
  switch (topic._tag) {
    case 'bottle':
      return bottleHelp()
    case 'mode':
      return modeHelp(topic.mode)
    case 'op':
      return opHelp(topic.mode, topic.op, topic.ls === true)
  }
}
