/**
 * Resource limits of a bottle: how many CPUs, how much memory, how many processes. Read from
 * `limits: {cpus, memory, pids}` in the manifest or `--cpus`, `--memory`, `--pids`; each backend
 * spells them for its own CLI, or refuses the ones it cannot enforce (a limit written down and not
 * enforced would be worse than none).
 *
 *   cpusLimit('1.50')      // right('1.5')
 *   memoryLimit('512m')    // right(536870912)   (powers of 1024, as docker reads them)
 *   pidsLimit('0')         // left({ message: 'pids "0" must be a positive whole number …' })
 *   limitsText({ cpus: '2', memory: 536870912, pids: null })   // 'cpus=2 memory=512m'
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, show } from '../plan/errors.js'
import type { Checked } from './validate.js'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export interface Limits {
  /** A positive decimal number of CPUs, in its shortest text (`1.5`, `2`); null: no limit. */
  readonly cpus: string | null
  /** Bytes; null: no limit. */
  readonly memory: number | null
  /** The most processes (and threads) at once; null: no limit. */
  readonly pids: number | null
}

export const limitNames = ['cpus', 'memory', 'pids'] as const
export type LimitName = (typeof limitNames)[number]

export const noLimits: Limits = { cpus: null, memory: null, pids: null }

/** Some limits, as one layer (manifest or flags) gives them: a missing one falls through. */
export type LimitsLayer = Partial<{ -readonly [K in LimitName]: NonNullable<Limits[K]> }>

/** The layers merged limit by limit, the later one winning. */
export const mergeLimits = (base: LimitsLayer | undefined, top: LimitsLayer | undefined): Limits => ({
  cpus: top?.cpus ?? base?.cpus ?? null,
  memory: top?.memory ?? base?.memory ?? null,
  pids: top?.pids ?? base?.pids ?? null,
})

export const hasLimits = (l: Limits): boolean => l.cpus !== null || l.memory !== null || l.pids !== null

/** The limits that are set, in a fixed order. */
export const setLimits = (l: Limits): LimitName[] => limitNames.filter((n) => l[n] !== null)

// -------------------------------------------------------------------------------------------------
// parsing
// -------------------------------------------------------------------------------------------------

// Three decimals at most: Kubernetes counts CPU in thousandths, and docker's --cpus goes to 0.01.
const cpusRule = /^(\d+)(?:\.(\d{1,3}))?$/

export const cpusLimit = (text: string): Checked<string> => {
  const m = cpusRule.exec(text)
  const whole = m?.[1]?.replace(/^0+(?=\d)/, '')
  const fraction = (m?.[2] ?? '').replace(/0+$/, '')
  if (m === null || whole === undefined || (/^0+$/.test(whole) && fraction === ''))
    return E.left(compileError(`cpus ${show(text)} must be a positive decimal number of CPUs, such as 2 or 1.5 (at most 3 decimals)`))
  return E.right(fraction === '' ? whole : `${whole}.${fraction}`)
}

const unitBytes: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }
// docker's RAMInBytes (go-units): a number, then b, k, m, g or t in either case, each a power of
// 1024. Only a whole number: docker also takes 1.5g and cuts off a fraction of a byte, which the
// manifest's JSON Schema cannot say (0.0000001m floors to 0 bytes); 1536m says 1.5g exactly.
const memoryRule = /^(\d+)([bkmgt]?)$/i

export const memoryLimit = (text: string): Checked<number> => {
  const m = memoryRule.exec(text)
  const unit = unitBytes[(m?.[2] ?? '').toLowerCase()]
  const bytes = m === null || unit === undefined ? NaN : Math.floor(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    return E.left(compileError(`memory ${show(text)} must be a positive whole number of bytes or of a unit b, k, m, g or t (powers of 1024), such as 512m, 4g or 1536m`))
  return E.right(bytes)
}

// Linux's pid_max is at most 2^22; any count above it limits nothing.
export const maxPids = 4194304

export const pidsLimit = (text: string): Checked<number> =>
  /^[1-9]\d{0,6}$/.test(text) && Number(text) <= maxPids
    ? E.right(Number(text))
    : E.left(compileError(`pids ${show(text)} must be a positive whole number of processes, at most ${maxPids}`))

// -------------------------------------------------------------------------------------------------
// words
// -------------------------------------------------------------------------------------------------

/** Bytes in docker's units, the largest that divides them whole: 536870912 → `512m`. */
export const memoryText = (bytes: number): string => {
  for (const u of ['t', 'g', 'm', 'k'] as const) {
    const size = unitBytes[u] as number
    if (bytes % size === 0) return `${bytes / size}${u}`
  }
  return String(bytes)
}

/** Bytes as a Kubernetes quantity (binary suffixes): 536870912 → `512Mi`. */
export const memoryQuantity = (bytes: number): string => {
  const text = memoryText(bytes)
  const suffix: Readonly<Record<string, string>> = { t: 'Ti', g: 'Gi', m: 'Mi', k: 'Ki' }
  const last = text.slice(-1)
  return suffix[last] === undefined ? text : `${text.slice(0, -1)}${suffix[last]}`
}

/** One limit's value as a person reads it (and the manifest takes it). */
export const limitValueText = (l: Limits, name: LimitName): string | null => {
  switch (name) {
    case 'cpus':
      return l.cpus
    case 'memory':
      return l.memory === null ? null : memoryText(l.memory)
    case 'pids':
      return l.pids === null ? null : String(l.pids)
  }
}

/** `cpus=2 memory=512m pids=100`, the set ones only; null when none is set. */
export const limitsText = (l: Limits): string | null =>
  hasLimits(l) ? setLimits(l).map((n) => `${n}=${limitValueText(l, n) ?? ''}`).join(' ') : null
