/**
 * `bottle run update NAME`: what a changed manifest (and this command's flags) may change on a
 * live bottle, and what waits for a relaunch. Pure: the CLI reads the record and the manifest.
 *
 *   const u = updateOf(recorded, declared, { defaultImage: 'node:22', secretsAtLaunch: false })
 *   // right({ next: { ...recorded, env: declared.env, … }, applied: ['env FOO added'],
 *   //         fixed: ['image node:22 → node:24 (relaunch to apply)'], addedSecrets: [], promptChanged: false })
 *
 * `next` is the record as update writes it: the launch record with the new env, secret names,
 * agent and prompt, and every other field (image, workdir, network, user, allow_root, limits,
 * context, namespace) as it was at launch, whatever the manifest now says. The agent can write
 * the manifest; this is the one op that takes anything from it for a live bottle, and only this.
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, oneLine, show } from '../plan/errors.js'
import { type LaunchBaked, describeDifference, diffRecords, recordOf } from './record.js'
import type { BottleSpec, Resources } from './spec.js'
import type { Checked } from './validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export interface Update {
  /** The spec update records: the launch record with the live fields replaced. */
  readonly next: BottleSpec
  /** One line per change update applies: `env FOO added`, `agent claude → codex` (names only for env and secrets). */
  readonly applied: readonly string[]
  /** One line per change it does not: `image node:22 → node:24 (relaunch to apply)`. */
  readonly fixed: readonly string[]
  /** Secret names the bottle gets that it did not have: they must be in the host env to apply. */
  readonly addedSecrets: readonly string[]
  /** The prompt file is another one (or a first one): update copies it in. */
  readonly promptChanged: boolean
}

/** What update needs to know about the backend. */
export interface UpdateBackend {
  readonly defaultImage: string
  readonly secretsAtLaunch?: boolean
}

// -------------------------------------------------------------------------------------------------
// the fields recordOf does not compare (they shape only some backends)
// -------------------------------------------------------------------------------------------------

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const resourceText = (rs: Resources['requests']): string =>
  rs.length === 0 ? '(none)' : rs.map(([k, v]) => `${oneLine(k)}=${oneLine(v)}`).join(',')

const orNone = (v: string | null): string => (v === null ? '(none)' : oneLine(v))

/** allow_root, context, namespace, resources: fixed at launch (a Pod's spec, the agent's root env). */
const otherFixed = (recorded: BottleSpec, declared: BottleSpec): string[] => [
  ...(recorded.allowRoot === declared.allowRoot ? [] : [`allow_root ${recorded.allowRoot} → ${declared.allowRoot}`]),
  ...(recorded.context === declared.context ? [] : [`context ${orNone(recorded.context)} → ${orNone(declared.context)}`]),
  ...(recorded.namespace === declared.namespace ? [] : [`namespace ${orNone(recorded.namespace)} → ${orNone(declared.namespace)}`]),
  ...(['requests', 'limits'] as const).flatMap((k) =>
    sameJson(recorded.resources[k], declared.resources[k]) ? [] : [`${k} ${resourceText(recorded.resources[k])} → ${resourceText(declared.resources[k])}`],
  ),
]

// -------------------------------------------------------------------------------------------------
// update
// -------------------------------------------------------------------------------------------------

/** What updating a bottle recorded as `recorded` to `declared` applies, and what it leaves. */
export const updateOf = (recorded: BottleSpec, declared: BottleSpec, backend: UpdateBackend): Checked<Update> => {
  const baked: LaunchBaked = { secrets: backend.secretsAtLaunch === true }
  const differences = diffRecords(recordOf(recorded, backend.defaultImage), recordOf(declared, backend.defaultImage), baked)
  const live = differences.filter((d) => d.appliesAt === 'exec')
  // A profile is compared by name (or command) in the record; its other fields count too.
  const agentProfileOnly =
    !live.some((d) => d.field === 'agent') && !sameJson(recorded.agent, declared.agent) ? [`agent ${oneLine(declared.agent.command)} profile changed`] : []
  const secretsLive = !baked.secrets
  const next: BottleSpec = {
    ...recorded,
    env: declared.env,
    secrets: secretsLive ? declared.secrets : recorded.secrets,
    agent: declared.agent,
    prompt: declared.prompt,
  }
  // Only where the secrets stay as launched can a new plain env entry meet one of them.
  const clash = next.env.find(([k]) => next.secrets.includes(k))
  if (clash !== undefined)
    return E.left(compileError(`env ${show(clash[0])} would be both a plain env entry and a secret: the secrets of this bottle are fixed at launch`))
  return E.right({
    next,
    applied: [...live.map(describeDifference), ...agentProfileOnly],
    fixed: [
      ...differences.filter((d) => d.appliesAt === 'launch').map(describeDifference),
      ...otherFixed(recorded, declared),
    ].map((l) => `${l} (relaunch to apply)`),
    addedSecrets: secretsLive ? declared.secrets.filter((s) => !recorded.secrets.includes(s)) : [],
    promptChanged: recorded.prompt !== declared.prompt,
  })
}
