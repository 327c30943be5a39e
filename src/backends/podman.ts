/**
 * podman: docker's plans, spelled for podman (docs/backend-facts.md §2.4).
 *
 *   podman.create(spec, { ...host, uid: 1000 })[0].argv
 *   // ['podman','create','--name','demo',…,'--userns=keep-id','--init',…,'docker.io/library/node:22','infinity']
 *
 * What differs from docker, and why:
 * - Rootless podman (bottle's uid is not 0) maps the caller's uid to root in the container, so
 *   files the agent writes in the bind-mounted workdir would come back owned by a subuid.
 *   `--userns=keep-id` maps it to itself instead. It is refused for containers created by root,
 *   hence only when rootless; the uid is a host fact read at the CLI edge.
 * - The default image is fully qualified: podman resolves short names through registries.conf,
 *   and with no alias or search registry (Debian's default) `node:22` fails, or prompts on a TTY.
 * - Names may be one character long (libpod's NameRegex); docker wants two.
 * - `rm -f` of a missing container exits 0 since podman 4 (rm.go swallows "no such container"
 *   with --force); older podman exits 1 with that text, which down tolerates as well.
 * - exec, cp, `-e NAME` pass-through and the `label=KEY=VALUE` ps filter are docker's
 *   (podman-exec.1, podman-ps.1), so the exec framing is identical. The ps template reads labels
 *   with `index .Labels "k"`: `.Label "k"` fails before podman 5 (containers/podman#20957); and
 *   the state as `.ListContainer.State`, because podman 4's `.State` prints "Up 2 seconds ago".
 */
import { containerBackend } from './docker.js'

export const podman = containerBackend({
  name: 'podman',
  binary: 'podman',
  install: 'install podman (https://podman.io/docs/installation) and catatonit, which --init runs',
  // Rootless podman needs no daemon: installed is usable.
  unusable: ({ onPath }) => (onPath('podman') ? null : 'podman is not on PATH'),
  // libpod/define NameRegex.
  nameRule: /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
  defaultImage: 'docker.io/library/node:22',
  runFlags: (host) => (host.uid === 0 ? [] : ['--userns=keep-id']),
  removeTolerates: [{ exitCode: 1, stderrIncludes: 'no such container' }],
  // podman's .Labels is a map; `.Label "k"` exists only since podman 5 (containers/podman#20957).
  labelOf: (key) => `(index .Labels "${key}")`,
  // podman-exec(1): 125 is podman's own error (a missing container among them).
  execOwnFailures: [125],
  // podman 4's `.State` is the human status ("Up 2 seconds ago"), not the state word; the
  // ListContainer it wraps holds the word itself (seen with podman 4.3 on Debian 12).
  stateField: '.ListContainer.State',
  // podman 4.3 takes any memory limit at create (5m was accepted here; the kernel then OOM-kills early).
  minMemory: null,
  bindSourceChecked: 'create',
})
