/**
 * Auto-detection, backend by backend: each Backend's `unusable` is a pure function of a host
 * probe, so every case is checked here with made-up hosts (tests/host.test.ts checks the probe
 * src/host.ts builds from the real one).
 */
import { describe, expect, it } from 'vitest'
import type { HostProbe } from '../../src/backends/backend.js'
import { backends } from '../../src/backends/index.js'

/** A host with these binaries on PATH, these sockets and these other files. */
const probe = (o: { readonly binaries?: readonly string[]; readonly sockets?: readonly string[]; readonly files?: readonly string[]; readonly env?: Readonly<Record<string, string>>; readonly platform?: string }): HostProbe => ({
  env: o.env ?? {},
  platform: o.platform ?? 'linux',
  home: '/home/me',
  onPath: (b) => (o.binaries ?? []).includes(b),
  isSocket: (p) => (o.sockets ?? []).includes(p),
  exists: (p) => [...(o.sockets ?? []), ...(o.files ?? [])].includes(p),
})

describe('which backends are usable, and why not', () => {
  it.each([
    ['no client', {}, 'docker is not on PATH'],
    ['a client and no engine socket', { binaries: ['docker'] }, 'docker is on PATH but no engine socket was found (/var/run/docker.sock; DOCKER_HOST is unset)'],
    ['the system socket', { binaries: ['docker'], sockets: ['/var/run/docker.sock'] }, null],
    ['a rootless socket', { binaries: ['docker'], sockets: ['/run/user/1000/docker.sock'], env: { XDG_RUNTIME_DIR: '/run/user/1000' } }, null],
    ["Docker Desktop's socket", { binaries: ['docker'], sockets: ['/home/me/.docker/desktop/docker.sock'] }, null],
    ['DOCKER_HOST set: docker itself is trusted to reach it', { binaries: ['docker'], env: { DOCKER_HOST: 'tcp://10.0.0.1:2375' } }, null],
    ['a socket path that is a plain file', { binaries: ['docker'], files: ['/var/run/docker.sock'] }, 'docker is on PATH but no engine socket was found (/var/run/docker.sock; DOCKER_HOST is unset)'],
  ] as const)('docker: %s', (_label, host, why) => {
    expect(backends.docker.unusable(probe(host))).toBe(why)
  })

  it.each([
    ['not installed', {}, 'smolvm is not on PATH'],
    ['Linux without /dev/kvm', { binaries: ['smolvm'] }, 'smolvm is on PATH but /dev/kvm does not exist'],
    ['Linux with KVM', { binaries: ['smolvm'], files: ['/dev/kvm'] }, null],
    ['macOS, which has no /dev/kvm and needs none', { binaries: ['smolvm'], platform: 'darwin' }, null],
  ] as const)('smolvm: %s', (_label, host, why) => {
    expect(backends.smolvm.unusable(probe(host))).toBe(why)
  })

  it.each([
    ['podman', 'podman', 'podman is not on PATH'],
    ['bwrap', 'bwrap', 'bwrap is not on PATH'],
    ['kubernetes', 'kubectl', 'kubectl is not on PATH'],
  ] as const)('%s: installed is usable', (name, binary, why) => {
    expect(backends[name].unusable(probe({}))).toBe(why)
    expect(backends[name].unusable(probe({ binaries: [binary] }))).toBeNull()
  })
})
