/**
 * The CLI's kubernetes surface, through `bottle plan` (nothing runs): --context and -n, the
 * manifest's context/namespace/resources, one-line refusals with exit 2, and auto-detection,
 * which never picks a cluster.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { backends } from '../../src/backends/index.js'
import { main } from '../../src/cli.js'
import type { Plan } from '../../src/plan/types.js'

const scratch = mkdtempSync(join(tmpdir(), 'bottle-k8s-cli-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A PATH holding kubectl and nothing else (never run here: plan only looks). */
const onlyKubectl = join(scratch, 'only-kubectl')
mkdirSync(onlyKubectl)
writeFileSync(join(onlyKubectl, 'kubectl'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })

const plan = async (args: readonly string[], env: Record<string, string> = {}) => {
  let out = ''
  let err = ''
  const code = await main(['plan', ...args], { out: (t) => void (out += t), err: (l) => void (err += `${l}\n`), env })
  return { code, out, err }
}

const planJson = async (args: readonly string[]): Promise<Plan> => {
  const r = await plan([...args, '--format', 'json'])
  if (r.code !== 0) throw new Error(r.err)
  return JSON.parse(r.out) as Plan
}

describe('kubernetes on the command line', () => {
  it('--context and -n go before the verb of every step', async () => {
    const p = await planJson(['down', 'demo', '-b', 'kubernetes', '--context', 'lab', '-n', 'agents'])
    expect(p.steps.filter((s) => s.argv[0] === 'kubectl').map((s) => s.argv.slice(0, 4))).toStrictEqual([
      ['kubectl', '--context=lab', '--namespace=agents', 'delete'],
      ['kubectl', '--context=lab', '--namespace=agents', 'delete'],
      // the egress proxy's Pod, Service and NetworkPolicies (the default network is the door)
      ['kubectl', '--context=lab', '--namespace=agents', 'delete'],
    ])
  })

  it('the manifest names the cluster and the resources; flags win over it', async () => {
    const file = join(scratch, 'bottle.yaml')
    writeFileSync(file, [
      'backend: kubernetes',
      'bottles:',
      '  demo:',
      '    context: from-file',
      '    namespace: file-ns',
      '    network: open',
      '    resources: { limits: { memory: 2Gi } }',
      '',
    ].join('\n'))
    const fromFile = await planJson(['launch', 'demo', '-f', file])
    expect(fromFile.steps[0]?.argv.slice(0, 3)).toStrictEqual(['kubectl', '--context=from-file', '--namespace=file-ns'])
    const pod = fromFile.steps[1]?.stdin
    expect(pod?._tag === 'json' && JSON.stringify(pod.document)).toContain('"resources":{"limits":{"memory":"2Gi"}}')
    const overridden = await planJson(['launch', 'demo', '-f', file, '--context', 'flag', '--namespace', 'flag-ns'])
    expect(overridden.steps[0]?.argv.slice(0, 3)).toStrictEqual(['kubectl', '--context=flag', '--namespace=flag-ns'])
  })

  it('ls takes --context and -n too', async () => {
    const p = await planJson(['ls', '-b', 'kubernetes', '-n', 'agents'])
    expect(p.steps[0]?.argv).toStrictEqual(['kubectl', '--namespace=agents', 'get', 'pods', '-l', 'dev.bottle.managed=true', '-o', 'json'])
  })

  it.each([
    [['launch', 'demo', '-b', 'kubernetes', '-n', 'Agents'], 'bottle: --namespace: namespace "Agents" must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'],
    [['ls', '-b', 'kubernetes', '--context', ''], 'bottle: --context: context "" must be a kubeconfig context name: not empty, no control characters'],
    [['launch', 'demo', '-b', 'docker', '--context', 'lab'], 'bottle: --context applies only to the kubernetes backend, not docker'],
    [['ls', '-b', 'smolvm', '--context', 'lab', '-n', 'x'], 'bottle: --context and --namespace apply only to the kubernetes backend, not smolvm'],
    // Without -b, ls and down --all look at every backend on PATH but kubernetes.
    [['ls', '-n', 'agents'], 'bottle: --namespace applies only to the kubernetes backend, which is listed only when named: pass -b kubernetes'],
    [['down', '--all', '--context', 'lab'], 'bottle: --context applies only to the kubernetes backend, which is listed only when named: pass -b kubernetes'],
    [['launch', 'My_Bottle', '-b', 'kubernetes'], 'bottle: bottle name "My_Bottle" is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters'],
    [['launch', 'demo', '-b', 'kubernetes', '--network', 'none'], 'bottle: network "none" is not available on kubernetes: a Pod always has a network; restrict it with a NetworkPolicy'],
    [['launch', 'demo', '-b', 'kubernetes', '--secret', '_'], 'bottle: --secret: secret name "_" cannot be used: shells set $_ to the path of the command they run'],
  ])('refuses %j in one line, exit 2', async (args, message) => {
    expect(await plan(args)).toStrictEqual({ code: 2, out: '', err: `${message}\n` })
  })

  it('auto-detection never picks kubernetes, even with kubectl the only tool on PATH', async () => {
    expect(await plan(['launch', 'demo'], { PATH: onlyKubectl })).toStrictEqual({
      code: 2,
      out: '',
      err: `bottle: no usable backend: smolvm is not on PATH; docker is not on PATH; podman is not on PATH; bwrap is not on PATH; ${backends.bwrap.install}, or pass -b\n`,
    })
  })

  it('ls without -b does not list kubernetes, even with kubectl the only tool on PATH', async () => {
    expect(await plan(['ls'], { PATH: onlyKubectl })).toStrictEqual({
      code: 2,
      out: '',
      err: 'bottle: no backend found: none of smolvm, docker, podman, bwrap is on PATH; install one, or pass -b\n',
    })
  })
})
