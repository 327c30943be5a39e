/**
 * The host reads that depend on the request: the manifest (a regular file of bounded size, its
 * parser loaded only when there is one) and a bottle's launch record (refused unless bottle
 * could have written it).
 *
 *   await loadManifest(undefined, '/src/app')      // Right(null) when ./bottle.yaml is absent
 *   readRecorded(host, 'docker', 'demo')           // Right({ _tag: 'recorded', path, layer, text }) or { _tag: 'absent', path }
 */
import * as E from 'fp-ts/lib/Either.js'
import { readdirSync } from 'node:fs'
import { egressDir, proxyRunning } from '../egress/state.js'
import { dirname, resolve } from 'node:path'
import { type Surroundings, manifestLimit, readRecordFile, readRegularFile } from '../host.js'
import { bottleStateDir, decodeLaunchRecord, recordFile } from '../bottle-spec/record.js'
import { show } from '../plan/errors.js'
import type { BackendName } from '../plan/types.js'
import type { Manifest } from '../bottle-spec/manifest.js'
import type { SpecLayer } from '../bottle-spec/spec.js'
import { type Checked, bottleName } from '../bottle-spec/validate.js'
import { fail } from './spec-layers.js'

export const loadManifest = async (file: string | undefined, cwd: string): Promise<Checked<Manifest | null>> => {
  const path = resolve(cwd, file ?? 'bottle.yaml')
  // A regular file of at most manifestLimit bytes: `-f FIFO` must not wait forever for a writer,
  // nor `-f /dev/zero` read without end.
  const read = readRegularFile(path, manifestLimit)
  switch (read._tag) {
    case 'missing':
      return file === undefined ? E.right(null) : fail(`manifest ${show(file)} does not exist`)
    case 'refused':
      return fail(`manifest ${show(file ?? path)} ${read.reason}`)
    case 'text': {
      const { parseManifest } = await import('../bottle-spec/manifest.js')
      return parseManifest(file ?? 'bottle.yaml', read.text, dirname(path))
    }
  }
}

/** A bottle name that can be one path segment below the state root (every backend's names are). */
const stateSegment = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/

/** What a bottle's launch record says, read at the edge: the layer it gives, or why there is none. */
export type Recorded =
  | { readonly _tag: 'absent'; readonly path: string }
  | { readonly _tag: 'recorded'; readonly path: string; readonly layer: SpecLayer; readonly text: string }

export const readRecorded = (host: Surroundings, backend: BackendName, name: string): Checked<Recorded> => {
  const valid = bottleName(name)
  if (E.isLeft(valid)) return valid
  if (!stateSegment.test(name))
    return fail(`bottle name ${show(name)} cannot name a state directory: letters, digits, _, . and -, starting with a letter or digit`)
  const path = `${bottleStateDir(host.stateRoot, backend, name)}/${recordFile}`
  const read = readRecordFile(path, host)
  if (read._tag === 'absent') return E.right({ _tag: 'absent', path })
  if (read._tag === 'refused') return fail(`the launch record of ${name} is refused: ${read.reason}`)
  const layer = decodeLaunchRecord(read.text, backend, name)
  return E.isLeft(layer) ? fail(`${path}: ${layer.left}`) : E.right({ _tag: 'recorded', path, layer: layer.right, text: read.text })
}

/**
 * The bottles of a backend whose egress proxy runs on the host (STATE/BACKEND/NAME/egress, its
 * pidfile naming a live proxy of that directory), sorted: what down --all compares with the
 * backend's listing to find the proxy of a bottle removed behind bottle's back. Only real
 * directories whose name could be a bottle's; none when the backend's directory is not there.
 * A stopped proxy is not listed again, so a second down --all has nothing left to do.
 */
export const bottlesWithRunningProxy = (host: Surroundings, backend: BackendName): string[] => {
  let entries: { name: string; isDirectory: () => boolean }[]
  try {
    entries = readdirSync(`${host.stateRoot}/${backend}`, { withFileTypes: true })
  } catch {
    return []
  }
  return entries
    .filter((e) => e.isDirectory() && stateSegment.test(e.name) && E.isRight(bottleName(e.name)))
    .map((e) => e.name)
    .filter((name) => proxyRunning(egressDir(host.stateRoot, backend, name)))
    .sort()
}
