/**
 * Every backend by name.
 *
 *   backends.docker.binary   // 'docker'
 */
import type { BackendName } from '../plan/types.js'
import type { Backend } from './backend.js'
import { bwrap } from './bwrap.js'
import { docker } from './docker.js'
import { kubernetes } from './kubernetes.js'
import { podman } from './podman.js'
import { smolvm } from './smolvm.js'

export const backends: Readonly<Record<BackendName, Backend>> = { smolvm, docker, podman, bwrap, kubernetes }

/**
 * The order auto-detection tries, most isolated first. bwrap is last: it needs nothing running,
 * so it is the fallback that works on any Linux machine with bubblewrap installed.
 *
 * kubernetes is never auto-detected, and `ls` without -b does not list it either: kubectl is on
 * many laptops with a production cluster as its current context, and a bottle must not land
 * there, nor bottle talk to it, because nothing else was installed. It is chosen with -b or
 * `backend:` only.
 */
export const detectionOrder: readonly BackendName[] = ['smolvm', 'docker', 'podman', 'bwrap']
