/**
 * Every backend by name.
 *
 *   backends.docker.binary   // 'docker'
 */
import type { BackendName } from '../plan/types.js'
import type { Backend } from './backend.js'
import { bwrap } from './bwrap.js'
import { docker } from './docker.js'
import { podman } from './podman.js'
import { smolvm } from './smolvm.js'

export const backends: Readonly<Record<BackendName, Backend>> = { smolvm, docker, podman, bwrap }

/**
 * The order auto-detection tries, most isolated first. bwrap is last: it needs nothing running,
 * so it is the fallback that works on any Linux machine with bubblewrap installed.
 */
export const detectionOrder: readonly BackendName[] = ['smolvm', 'docker', 'podman', 'bwrap']
