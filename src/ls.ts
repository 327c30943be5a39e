/**
 * `bottle ls`: the parsed listings of one or more backends, compared with the manifest and printed
 * as a table or as JSON. Pure: the clock (`now`) and the manifest are read at the CLI edge.
 *
 *   renderLsText([{ name: 'demo', backend: 'docker', state: 'running', createdAt, image: 'node:22', …, drift }], now)
 *   // NAME  BACKEND  STATE    AGE  IMAGE    DRIFT
 *   // demo  docker   running  3m   node:22  image
 *   //
 *   // demo (docker) has drifted from bottle.yaml: image node:22 → node:24 (…)
 */
import * as E from 'fp-ts/lib/Either.js'
import type { BottleRow } from './backends/backend.js'
import { backends } from './backends/index.js'
import { oneLine } from './plan/errors.js'
import type { Manifest } from './bottle-spec/manifest.js'
import { type Difference, type Drift, decodeRecord, describeDifferences, driftFields, driftOf, recordOf } from './bottle-spec/record.js'
import { type BottleSpec, resolveSpec } from './bottle-spec/spec.js'

/** A listed bottle, with how it compares to the manifest. */
export interface ListedBottle extends BottleRow {
  readonly drift: Drift
}

// -------------------------------------------------------------------------------------------------
// drift against the manifest
// -------------------------------------------------------------------------------------------------

/**
 * The spec the manifest gives this bottle today, as `bottle run OP NAME -f FILE` would resolve it
 * (no flags; the workdir defaults to `cwd`). Null when the manifest does not declare it, or
 * declares it for another backend.
 */
export const declaredSpec = (row: BottleRow, manifest: Manifest | null, cwd: string): E.Either<string, BottleSpec> | null => {
  if (manifest === null || !Object.hasOwn(manifest.bottles, row.name)) return null
  const entry = manifest.bottles[row.name] ?? {}
  const backend = entry.backend ?? manifest.backend
  if (backend !== undefined && backend !== row.backend) return null
  return E.mapLeft((e: { message: string }) => e.message)(resolveSpec({ name: row.name, fromManifest: entry, fromFlags: {}, cwd }))
}

/** How a listed bottle compares with the spec that would shape it today. */
export const driftAgainst = (row: BottleRow, spec: BottleSpec): Drift =>
  driftOf(
    { hash: row.specHash, spec: row.spec },
    recordOf(spec, backends[row.backend].defaultImage),
    { secrets: backends[row.backend].secretsAtLaunch === true },
  )

export const driftFor = (row: BottleRow, manifest: Manifest | null, cwd: string): Drift => {
  const spec = declaredSpec(row, manifest, cwd)
  if (spec === null) return { _tag: 'undeclared' }
  if (E.isLeft(spec)) return { _tag: 'unknown', reason: `the manifest entry does not resolve: ${spec.left}` }
  return driftAgainst(row, spec.right)
}

/** One line for people: whether NAME has drifted from SOURCE, and how. */
export const driftSentence = (name: string, backend: string, source: string, drift: Drift): string => {
  const who = `${oneLine(name)} (${backend})`
  switch (drift._tag) {
    case 'undeclared':
      return `${who} is not declared in ${source}`
    case 'unknown':
      return `${who}: cannot tell whether it has drifted from ${source}: ${drift.reason}`
    case 'same':
      return `${who} matches ${source}`
    case 'drifted':
      return `${who} has drifted from ${source}: ${describeDifferences(drift.differences)}`
  }
}

// -------------------------------------------------------------------------------------------------
// text
// -------------------------------------------------------------------------------------------------

/** `42s`, `5m`, `3h`, `12d`: the largest unit below two of the next (hours up to 47). */
export const ageText = (createdAt: number | null, now: number): string => {
  if (createdAt === null) return '-'
  const s = Math.max(0, Math.floor((now - createdAt) / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

export const driftCell = (d: Drift): string => {
  switch (d._tag) {
    case 'undeclared':
      return '-'
    case 'unknown':
      return 'unknown'
    case 'same':
      return 'no'
    case 'drifted':
      return d.differences.length === 0 ? 'yes' : driftFields(d.differences)
  }
}

/**
 * The network the bottle was launched with, from its launch record: `egress: 4 allowed` for an
 * allow-list (the record writes `allow` and the entries), else the mode (`default`, the old name
 * of open, as open); `-` when there is no record to read.
 */
export const networkCell = (label: string | null): string => {
  if (label === null) return '-'
  const r = decodeRecord(label)
  if (E.isLeft(r)) return '-'
  const [word = '', ...entries] = r.right.network.split(' ')
  return word === 'allow' ? `egress: ${entries.length} allowed` : word === 'default' ? 'open' : word
}

/** Width in code points: an image or name may hold `é`, which is one column, two UTF-16 units. */
const width = (s: string): number => [...s].length

/** Columns padded to their widest cell, two spaces apart; the last one is not padded. */
const table = (rows: readonly (readonly string[])[]): string[] => {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => width(r[i] ?? ''))))
  return rows.map((r) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell)))).join('  ').trimEnd(),
  )
}

/**
 * The table, then a line for each bottle that has drifted or cannot be compared. Every cell goes
 * through oneLine: names and images come from the backend, and a label may hold anything.
 */
export const renderLsText = (bottles: readonly ListedBottle[], now: number, source: string): string => {
  const rows = [
    ['NAME', 'BACKEND', 'STATE', 'AGE', 'IMAGE', 'NETWORK', 'DRIFT'],
    ...bottles.map((b) => [b.name, b.backend, b.state, ageText(b.createdAt, now), b.image ?? '-', networkCell(b.spec), driftCell(b.drift)].map(oneLine)),
  ]
  const details = bottles
    .filter((b) => b.drift._tag === 'drifted' || b.drift._tag === 'unknown')
    .map((b) => driftSentence(b.name, b.backend, source, b.drift))
  return `${[...table(rows), ...(details.length === 0 ? [] : ['', ...details])].join('\n')}\n`
}

// -------------------------------------------------------------------------------------------------
// json
// -------------------------------------------------------------------------------------------------

/** The recorded spec for people and programs: env by key only (the record keeps digests, not values). */
const recordedSpecJson = (label: string | null) => {
  if (label === null) return null
  const r = decodeRecord(label)
  if (E.isLeft(r)) return null
  const { v: _v, env, ...rest } = r.right
  return { ...rest, env: env.map(([k]) => k) }
}

const driftJson = (d: Drift, source: string): { status: Drift['_tag']; source: string | null; reason?: string; differences: readonly Difference[] } => {
  switch (d._tag) {
    case 'undeclared':
      return { status: d._tag, source: null, differences: [] }
    case 'unknown':
      return { status: d._tag, source, reason: d.reason, differences: [] }
    case 'same':
      return { status: d._tag, source, differences: [] }
    case 'drifted':
      return { status: d._tag, source, differences: d.differences }
  }
}

/** ISO 8601, or null for a time a Date cannot hold (a backend may print any number). */
const isoTime = (ms: number | null): string | null => {
  if (ms === null) return null
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}

/** A backend `ls` could not list, and why (one clause). */
export interface Unreachable {
  readonly backend: string
  readonly reason: string
}

/**
 * One object: `bottles`, an array with one object per bottle (`created` in ISO 8601, `age` as in
 * the table), and `unreachable`, the backends that could not be listed and why.
 */
export const renderLsJson = (bottles: readonly ListedBottle[], unreachable: readonly Unreachable[], now: number, source: string): string =>
  `${JSON.stringify(
    {
      bottles: bottles.map((b) => ({
        name: b.name,
        backend: b.backend,
        state: b.state,
        created: isoTime(b.createdAt),
        age: b.createdAt === null ? null : ageText(b.createdAt, now),
        image: b.image,
        specHash: b.specHash,
        spec: recordedSpecJson(b.spec),
        drift: driftJson(b.drift, source),
      })),
      unreachable,
    },
    null,
    2,
  )}\n`
