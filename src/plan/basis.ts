/**
 * What a plan was made against: the bottle's launch record as it was when the plan was compiled.
 * A saved plan (`bottle run --plan FILE`) runs only while the bottle is still that bottle; once its
 * record has changed (an update, a relaunch), or it has been launched or taken down since, the plan
 * is stale and refused, saying what changed.
 *
 *   basisOf(spec, 'node:22')   // { _tag: 'recorded', hash: 'c0ffee123456', record: { v: 1, image: 'node:22', … } }
 *   staleness(planBasis, liveBasis, 'demo', 'docker')
 *   // 'demo on docker: its launch record changed since the plan was made: image node:22 → node:24'
 *
 * The record holds no secret value (secrets by name) and no plain env value (a digest of each
 * KEY=VALUE), so it can sit in a plan file that is shown and shared.
 */
import { type SpecRecord, describeDifference, diffRecords, recordOf, specHash } from '../bottle-spec/record.js'
import { type BottleSpec, type SpecLayer, resolveSpec } from '../bottle-spec/spec.js'
import type { Checked } from '../bottle-spec/validate.js'
import * as E from 'fp-ts/lib/Either.js'

export type PlanBasis =
  /** No launch record when the plan was made: a launch, or a down of a bottle launched by an older bottle. */
  | { readonly _tag: 'unlaunched' }
  /** The record the plan was compiled from: its spec hash, and the record, to say what changed. */
  | { readonly _tag: 'recorded'; readonly hash: string; readonly record: SpecRecord }

export const unlaunched: PlanBasis = { _tag: 'unlaunched' }

/** The basis of a plan compiled from a launch record that resolves to `spec`. */
export const basisOf = (spec: BottleSpec, defaultImage: string): PlanBasis => {
  const record = recordOf(spec, defaultImage)
  return { _tag: 'recorded', hash: specHash(record), record }
}

/** The basis of a plan compiled from a launch record that gives `layer` (as decodeLaunchRecord reads it). */
export const basisOfLayer = (layer: SpecLayer, name: string, defaultImage: string, cwd: string): Checked<PlanBasis> =>
  E.map((spec: BottleSpec) => basisOf(spec, defaultImage))(resolveSpec({ name, fromManifest: layer, fromFlags: {}, cwd }))

/**
 * Null when a plan made against `planned` still fits the bottle as it is now (`live`); else one
 * clause saying what changed since.
 */
export const staleness = (planned: PlanBasis, live: PlanBasis, bottle: string, backend: string): string | null => {
  const who = `${bottle} on ${backend}`
  if (planned._tag === 'unlaunched')
    return live._tag === 'unlaunched' ? null : `${who} has been launched since the plan was made`
  if (live._tag === 'unlaunched') return `${who} has no launch record now: it has been taken down since the plan was made`
  if (planned.hash === live.hash) return null
  const changes = diffRecords(planned.record, live.record).map(describeDifference)
  return `the launch record of ${who} has changed since the plan was made (spec hash ${planned.hash} → ${live.hash}${changes.length === 0 ? '' : `: ${changes.join(', ')}`})`
}
