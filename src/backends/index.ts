/**
 * Every backend by name. Adding a backend is one line here (and its name in backendNames, which
 * the plan model and the manifest schema read without loading any backend).
 *
 *   backends.docker.binary   // 'docker'
 *   detectionOrder           // ['smolvm', 'docker', 'podman', 'bwrap']
 */
import type { BackendName } from '../plan/types.js'
import type { Backend } from './backend.js'
import { bwrap } from './bwrap.js'
import { docker } from './docker.js'
import { kubernetes } from './kubernetes.js'
import { podman } from './podman.js'
import { smolvm } from './smolvm.js'

/**
 * In the order auto-detection tries them, most isolated first. bwrap comes after every backend
 * that may be auto-detected: it needs nothing running, so it is the fallback that works on any
 * Linux machine with bubblewrap installed. kubernetes is never auto-detected (its autoDetected).
 */
export const backends: Readonly<Record<BackendName, Backend>> = { smolvm, docker, podman, bwrap, kubernetes }

/** The backends a bottle without -b or `backend:` may land on, in the order tried; `ls` without -b lists these. */
export const detectionOrder: readonly BackendName[] = Object.values(backends).filter((b) => b.autoDetected).map((b) => b.name)

/** The backend auto-detection falls back to: the last it tries, whose install line a "no usable backend" error ends with. */
export const fallbackBackend: Backend = (() => {
  const last = detectionOrder.at(-1)
  if (last === undefined) throw new Error('bug: no backend is auto-detected')
  return backends[last]
})()
