/**
 * Every backend by name.
 *
 *   backends.docker.binary   // 'docker'
 */
import type { BackendName } from '../plan/types.js'
import type { Backend } from './backend.js'
import { docker } from './docker.js'
import { podman } from './podman.js'
import { smolvm } from './smolvm.js'

export const backends: Readonly<Record<BackendName, Backend>> = { smolvm, docker, podman }

/** The order auto-detection tries, most isolated first. */
export const detectionOrder: readonly BackendName[] = ['smolvm', 'docker', 'podman']
