/**
 * podman's test kit (tests/backends/kit.ts): podman's exec has docker's flags (plus ones bottle
 * never uses), so docker's decoder reads it with the binary renamed.
 */
import { podman } from '../../src/backends/podman.js'
import type { ArgvDecoder } from '../laws/decode.js'
import { containerCreates, containerExec, containerUserSwitch } from './docker.kit.js'
import { type BackendKit, count } from './kit.js'

export const decodePodmanExec: ArgvDecoder = containerExec('podman')

export const kit: BackendKit = {
  backend: podman,
  decode: (step) => decodePodmanExec(step.argv),
  fit: (s) => s,
  userSwitchPrecedesTail: (framing, user, bottle) => containerUserSwitch(framing, user, bottle),
  envCount: (framing, k, v) => count(framing, `${k}=${v}`),
  ttyMarks: (framing) => count(framing, '-t'),
  secretsReachGuestVia: 'process env',
  createsSomething: containerCreates('podman'),
  scratchMadeBy: () => undefined,
  idempotentAsIs: (s) => s.argv[0] === 'podman' && s.argv[1] === 'rm' && s.argv.includes('-f'),
  listsWithItsBinary: true,
}
