/**
 * Agent profiles: what bottle needs to know about a coding agent's CLI to run it in a bottle.
 *
 *   agentProfiles.claude   // { name: 'claude', command: 'claude', promptFlag: '--append-system-prompt-file', … }
 *   customProfile({ command: 'aider', continueArgs: ['--restore-chat-history'] })
 *   // right({ name: 'custom', command: 'aider', promptFlag: null, continueArgs: [...], refusesRoot: false, rootEnv: [] })
 *
 * A profile is plain data inside the spec, so the plan compiler stays generic: the tail is
 * `command [promptFlag PROMPT_PATH] ARGS…`, and resuming puts `continueArgs` before ARGS.
 */
import * as E from 'fp-ts/lib/Either.js'
import { type AllowEntry, defaultPort } from '../egress/policy.js'
import { compileError, show } from '../plan/errors.js'
import { type Checked, agentArg, agentCommand } from './validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export interface AgentProfile {
  /** `claude` or `codex` for the built-in profiles, `custom` for any other. */
  readonly name: 'claude' | 'codex' | 'custom'
  /** The binary: a name on the guest PATH, or a path. */
  readonly command: string
  /** The flag that takes a system-prompt file (the path is the next word); null: the agent has none. */
  readonly promptFlag: string | null
  /** Words that make the agent resume its last session; empty: it cannot resume. */
  readonly continueArgs: readonly string[]
  /** The agent will not run as root, so planning it as user root is an error unless the spec allows it. */
  readonly refusesRoot: boolean
  /** Guest env the agent needs to run as root once the spec allows it. */
  readonly rootEnv: readonly (readonly [string, string])[]
}

export const builtinAgents = ['claude', 'codex'] as const
export type BuiltinAgent = (typeof builtinAgents)[number]

// -------------------------------------------------------------------------------------------------
// the built-in profiles
// -------------------------------------------------------------------------------------------------

export const agentProfiles: Readonly<Record<BuiltinAgent, AgentProfile>> = {
  // Claude Code refuses --dangerously-skip-permissions (the mode a sandbox exists for) as root,
  // unless IS_SANDBOX=1 says the root is a sandbox's (anthropics/claude-code #3490, #9184).
  claude: {
    name: 'claude',
    command: 'claude',
    promptFlag: '--append-system-prompt-file',
    continueArgs: ['--continue'],
    refusesRoot: true,
    rootEnv: [['IS_SANDBOX', '1']],
  },
  // Codex has no flag that adds a system-prompt file: `-c model_instructions_file=PATH` replaces
  // its built-in instructions rather than adding to them, and its documented way to add guidance
  // is AGENTS.md (in CODEX_HOME or the project). So a bottle with a prompt and codex is a compile
  // error that says so, rather than a silent swap of codex's own instructions.
  codex: {
    name: 'codex',
    command: 'codex',
    promptFlag: null,
    continueArgs: ['resume', '--last'],
    refusesRoot: false,
    rootEnv: [],
  },
}

export const defaultAgent: AgentProfile = agentProfiles.claude

const https = (host: string): AllowEntry => ({ host, port: defaultPort, private: false })

/**
 * The hosts each agent needs, let through by a bottle's egress proxy unless the spec says
 * otherwise (so the agent works out of the box and nothing else is reachable). Kept beside the
 * profiles, not in them: a profile is compared as a whole, and the hosts are the policy's.
 */
const builtinHosts: Readonly<Record<BuiltinAgent, readonly AllowEntry[]>> = {
  // Claude Code's "Network access requirements" (https://code.claude.com/docs/en/network-config):
  // the API, and claude.ai and platform.claude.com for signing in with an account.
  claude: [https('api.anthropic.com'), https('claude.ai'), https('platform.claude.com')],
  // Codex CLI talks to the OpenAI API (https://developers.openai.com/codex/cli).
  codex: [https('api.openai.com')],
}

/** A built-in profile's hosts; none for a custom one (its manifest says what it needs). */
export const agentHosts = (p: AgentProfile): readonly AllowEntry[] => (p.name === 'custom' ? [] : builtinHosts[p.name])

export const isBuiltinAgent = (s: string): s is BuiltinAgent => (builtinAgents as readonly string[]).includes(s)

// -------------------------------------------------------------------------------------------------
// custom profiles
// -------------------------------------------------------------------------------------------------

/** The fields a manifest may give a custom profile; only the command is required. */
export interface CustomAgentFields {
  readonly command: string
  readonly promptFlag?: string | null
  readonly continueArgs?: readonly string[]
  readonly refusesRoot?: boolean
}

/** A prompt flag is one argv word before the path: anything but empty, or NUL. */
export const promptFlagWord = (flag: string): Checked<string> =>
  flag === ''
    ? E.left(compileError('promptFlag must not be empty (leave it out if the agent takes no prompt file)'))
    : E.isLeft(agentArg(flag))
      ? E.left(compileError(`promptFlag ${show(flag)} contains a NUL byte`))
      : E.right(flag)

export const customProfile = (fields: CustomAgentFields): Checked<AgentProfile> => {
  const command = agentCommand(fields.command)
  if (E.isLeft(command)) return command
  const flag = fields.promptFlag === undefined || fields.promptFlag === null ? E.right(null) : promptFlagWord(fields.promptFlag)
  if (E.isLeft(flag)) return flag
  const continueArgs = fields.continueArgs ?? []
  const bad = continueArgs.find((a) => E.isLeft(agentArg(a)))
  if (bad !== undefined) return E.left(compileError(`continueArgs word ${show(bad)} contains a NUL byte`))
  return E.right({
    name: 'custom',
    command: command.right,
    promptFlag: flag.right,
    continueArgs,
    refusesRoot: fields.refusesRoot ?? false,
    rootEnv: [],
  })
}

/** Checks a profile built elsewhere (a test, a caller): the same rules as customProfile. */
export const checkProfile = (p: AgentProfile): Checked<AgentProfile> =>
  p.name === 'custom'
    ? customProfile(p)
    : p === agentProfiles[p.name] || JSON.stringify(p) === JSON.stringify(agentProfiles[p.name])
      ? E.right(agentProfiles[p.name])
      : E.left(compileError(`agent profile ${p.name} differs from the built-in one; use a custom profile`))

/** `--agent claude|codex|COMMAND`: a built-in by name, else a command with no prompt flag and no resume. */
export const profileNamed = (nameOrCommand: string): Checked<AgentProfile> =>
  isBuiltinAgent(nameOrCommand) ? E.right(agentProfiles[nameOrCommand]) : customProfile({ command: nameOrCommand })
