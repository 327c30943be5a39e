/**
 * The probe as a Kubernetes Pod runs it (src/egress/probe.ts, `probeArgv(…, 'pod')`), run by dash
 * on this host: a Pod always has a route, so the fence is proven by direct connections to what an
 * unfenced Pod reaches: the API server from KUBERNETES_SERVICE_HOST (here a listener of the test's
 * own, which this host reaches: the check must fail) and the nameservers of /etc/resolv.conf.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { probeArgv } from '../../src/egress/probe.js'

const runProbe = (env: Record<string, string>, where: 'guest' | 'pod'): Promise<{ code: number | null; err: string }> =>
  new Promise((ok) => {
    // No direct targets of its own: only what the Pod variant adds.
    const [, ...args] = probeArgv([], where)
    const p = spawn('dash', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    p.on('close', (code) => ok({ code, err }))
  })

describe('the Pod probe, against a stand-in API server listening on this host', () => {
  const servers: net.Server[] = []
  const listen = (host: string): Promise<number> =>
    new Promise((ok, fail) => {
      const s = net.createServer((c) => c.destroy())
      servers.push(s)
      s.once('error', fail)
      s.listen(0, host, () => ok((s.address() as net.AddressInfo).port))
    })
  let v4 = 0
  let v6: number | null = null

  beforeAll(async () => {
    v4 = await listen('127.0.0.1')
    v6 = await listen('::1').catch(() => null)
  })
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r))
  })

  it('an API server the bottle reaches directly fails the probe, naming it', async () => {
    const r = await runProbe({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(v4) }, 'pod')
    expect(r.code).toBe(1)
    expect(r.err).toContain(`bottle: egress probe: a direct connection to 127.0.0.1:${v4}, bypassing the proxy, succeeded\n`)
  })

  it('an IPv6 API server address is tried in brackets', async ({ skip }) => {
    if (v6 === null) skip('no IPv6 loopback on this host')
    const r = await runProbe({ KUBERNETES_SERVICE_HOST: '::1', KUBERNETES_SERVICE_PORT: String(v6) }, 'pod')
    expect(r.code).toBe(1)
    expect(r.err).toContain(`bottle: egress probe: a direct connection to [::1]:${v6}, bypassing the proxy, succeeded\n`)
  })

  it('no KUBERNETES_SERVICE_HOST fails the probe: the fence could not be tested', async () => {
    const r = await runProbe({}, 'pod')
    expect(r.code).toBe(1)
    expect(r.err).toContain('bottle: egress probe: KUBERNETES_SERVICE_HOST is not set')
  })

  it('the other backends\' probe reads routes instead, and tries no API server', async () => {
    const r = await runProbe({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(v4) }, 'guest')
    expect(r.err).not.toContain(`127.0.0.1:${v4}`)
    // This host has routes: the route check fails here, as it must.
    expect(r.err).toMatch(/the bottle has an IPv[46] route on /)
  })
})
