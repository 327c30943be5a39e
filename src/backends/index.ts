/**
 * Every backend by name.
 *
 *   backends.docker.binary   // 'docker'
 */
import type { BackendName } from '../plan/types.js'
import type { Backend } from './backend.js'
import { docker } from './docker.js'
import { kubernetes } from './kubernetes.js'
import { smolvm } from './smolvm.js'

export const backends: Readonly<Record<BackendName, Backend>> = { smolvm, docker, kubernetes }

/**
 * The order auto-detection tries, most isolated first. kubernetes is never auto-detected: kubectl
 * is on many laptops with a production cluster as its current context, and a bottle must not
 * land there because nothing else was installed. It is chosen with -b or `backend:` only.
 */
export const detectionOrder: readonly BackendName[] = ['smolvm', 'docker']
