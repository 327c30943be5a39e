/**
 * Provisioning a bottle at launch: the agent profile's default install (when the image lacks the
 * agent) and the user's own scripts, each run as root in the guest after start, before the prompt
 * copy (src/provision.ts builds the steps).
 *
 *   provision: false                       // { install: false, scripts: [], allow: [] }
 *   provision: ["apt-get install -y git"]  // { install: true, scripts: ['apt-get install -y git'], allow: [] }
 *   provision_allow: [deb.debian.org:80]   // hosts the egress proxy lets through during provisioning only
 *
 * The default is the install and no scripts. A user's list does not replace the install: the
 * install runs first (it does nothing when the image has the agent), then the scripts, so a
 * script may use the agent; `provision: false` turns both off.
 */
import * as E from 'fp-ts/lib/Either.js'
import { type AllowEntry, defaultPort, formatEntry } from '../egress/policy.js'
import { compileError } from '../plan/errors.js'
import { sha256 } from '../plan/hash.js'
import { type Checked, script } from './validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export interface Provision {
  /** Run the agent profile's default install (it installs only when the image lacks the agent). */
  readonly install: boolean
  /** POSIX sh scripts, run as root in the guest, in order, each its own plan step. */
  readonly scripts: readonly string[]
  /** Hosts the egress proxy lets through while the provision steps run, and not after. */
  readonly allow: readonly AllowEntry[]
}

export const defaultProvision: Provision = { install: true, scripts: [], allow: [] }

/** What a layer (the manifest, a launch record) gives: `provision` (false or scripts) and `provision_allow`. */
export interface ProvisionLayer {
  readonly run?: false | readonly string[]
  readonly allow?: readonly AllowEntry[]
}

/** The layers merged key by key, the later one winning. */
export const mergeProvision = (base: ProvisionLayer | undefined, top: ProvisionLayer | undefined): Provision => {
  const run = top?.run ?? base?.run ?? []
  return { install: run !== false, scripts: run === false ? [] : run, allow: top?.allow ?? base?.allow ?? [] }
}

// -------------------------------------------------------------------------------------------------
// the default installs
// -------------------------------------------------------------------------------------------------

/** How a built-in agent is installed into an image that lacks it: an npm package, from the npm registry. */
export interface AgentInstall {
  readonly npmPackage: string
  /** The registry host npm fetches it from: allowed through the door while provisioning. */
  readonly registry: AllowEntry
}

const npmRegistry: AllowEntry = { host: 'registry.npmjs.org', port: defaultPort, private: false }

/**
 * The install of each built-in profile. Kept beside the profiles (src/bottle-spec/agent.ts), not
 * in them, as the agent's hosts are: a profile is compared and recorded as a whole, and a launch
 * record written before installs existed must still read back as the same profile.
 */
export const agentInstalls: Readonly<Record<'claude' | 'codex', AgentInstall>> = {
  // https://docs.claude.com/en/docs/claude-code/setup: `npm install -g @anthropic-ai/claude-code`.
  claude: { npmPackage: '@anthropic-ai/claude-code', registry: npmRegistry },
  // https://developers.openai.com/codex/cli: `npm install -g @openai/codex`.
  codex: { npmPackage: '@openai/codex', registry: npmRegistry },
}

// -------------------------------------------------------------------------------------------------
// checks and words
// -------------------------------------------------------------------------------------------------

/** A provision script: any text without NUL, not blank (an empty step would run nothing and say it did). */
export const provisionScript = (s: string): Checked<string> =>
  s.trim() === '' ? E.left(compileError('a provision script must not be empty')) : script(s)

/**
 * The record's text of a provision (src/bottle-spec/record.ts), null for the default so a bottle
 * that says nothing keeps the hash it had before provisioning existed. Scripts as a digest: the
 * record becomes a label anyone who can inspect the container reads.
 */
export const provisionText = (p: Provision): string | null => {
  if (p.install && p.scripts.length === 0 && p.allow.length === 0) return null
  return [
    p.install ? 'install' : 'off',
    ...(p.scripts.length === 0 ? [] : [`scripts=${p.scripts.length}:${sha256(JSON.stringify(p.scripts)).slice(0, 16)}`]),
    ...(p.allow.length === 0 ? [] : [`allow=${p.allow.map(formatEntry).join(',')}`]),
  ].join(' ')
}
