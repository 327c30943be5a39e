/**
 * `bottle run … -b kubernetes` end to end, CLI and interpreter, against a stand-in kubectl on
 * PATH (tests/standins/kubectl) that records argv, env and stdin and answers with kubectl's
 * messages and exit codes from a state file. No cluster is involved: this checks what bottle
 * sends and how it reacts, not that a real cluster accepts it.
 */
import { fc, test } from '@fast-check/vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.js'
import { nastyString } from '../arbitraries.js'
import { standinPath, standinsDir } from '../standins/harness.js'
import { withKnobs } from '../standins/knobs.js'
import { userCheckScript } from '../../src/backends/backend.js'
import type { Plan } from '../../src/plan/types.js'
import { writeRecordOf } from '../records.js'

const scratch = mkdtempSync(join(tmpdir(), 'bottle-k8s-interpret-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Call {
  readonly argv: string[]
  readonly env: Record<string, string>
  readonly stdin: string | null
}

let log = ''
let statePath = ''
let n = 0
/** A new log and an empty cluster: before each test, and each run of a property. */
let home = ''
const fresh = (): void => {
  // HOME: bottle's launch records, and the stand-in's knobs (tests/standins/knobs.ts).
  home = join(scratch, `home-${n}`)
  mkdirSync(home)
  log = join(scratch, `calls-${n}.jsonl`)
  statePath = join(scratch, `state-${n++}.json`)
}
beforeEach(fresh)

const calls = (): Call[] =>
  existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Call) : []

/** The verb of a recorded kubectl call, after the cluster flags: `create`, `exec`, `delete pod`. */
const verbOf = (c: Call): string => {
  const words = c.argv.filter((w) => !w.startsWith('--context=') && !w.startsWith('--namespace='))
  return words[0] === 'delete' ? `delete ${words[1]}` : (words[0] ?? '')
}

interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** `bottle run ARGS` with the stand-in first on PATH and `env` as the rest of the host env. */
const bottle = async (args: readonly string[], env: Record<string, string> = {}): Promise<Run> => {
  let out = ''
  let err = ''
  const code = await main(['run', ...args], {
    out: (t) => void (out += t),
    err: (l) => void (err += `${l}\n`),
    env: withKnobs({
      PATH: standinPath,
      HOME: home,
      BOTTLE_KUBECTL_LOG: log,
      BOTTLE_KUBECTL_STATE: statePath,
      ...env,
    }),
  })
  return { code, out, err }
}

const demo = ['demo', '-b', 'kubernetes', '--context', 'lab', '-n', 'agents', '--workdir', '/src/app', '-e', 'CI=1', '--secret', 'TOKEN', '--network', 'open']

describe('launch', () => {
  it('creates the Secret from stdin, creates the Pod, waits, checks the user, makes the workdir', async () => {
    const r = await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 'tok-123' })
    expect(r).toStrictEqual({ code: 0, out: '', err: '' })
    const [secret, pod, ...others] = calls()
    expect(others.map((c) => c.argv.join(' '))).toStrictEqual([
      '--context=lab --namespace=agents wait --for=condition=Ready pod/demo --timeout=300s',
      `--context=lab --namespace=agents exec -c bottle demo -- runuser -u root -- env -u TOKEN HOME=/root USER=root /bin/sh -c cd "$1" && shift && exec "$@" bottle / /bin/sh -c ${userCheckScript} sh node`,
      `--context=lab --namespace=agents exec -c bottle demo -- runuser -u root -- env -u TOKEN HOME=/root USER=root /bin/sh -c cd "$1" && shift && exec "$@" bottle / sh -c [ -d "$1" ] || { mkdir -p -- "$1" && chown -- "$2" "$1"; } bottle /src/app node`,
    ])
    expect(secret?.argv).toStrictEqual(['--context=lab', '--namespace=agents', 'create', '-f', '-'])
    expect(JSON.parse(secret?.stdin ?? '')).toMatchObject({ kind: 'Secret', metadata: { name: 'demo-secrets' }, stringData: { TOKEN: 'tok-123' } })
    // create, not apply: apply would take over a Pod of that name that another run made.
    expect(pod?.argv).toStrictEqual(['--context=lab', '--namespace=agents', 'create', '-f', '-'])
    expect(JSON.parse(pod?.stdin ?? '')).toMatchObject({ kind: 'Pod', metadata: { name: 'demo' } })
    // Both carry this run's launch id, one and the same.
    const idOf = (c: Call | undefined): unknown => (JSON.parse(c?.stdin ?? '{}') as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.['dev.bottle.launch-id']
    expect(idOf(pod)).toMatch(/^[0-9a-f]{16}$/)
    expect(idOf(secret)).toBe(idOf(pod))
    expect(Object.keys(JSON.parse(readFileSync(statePath, 'utf8')) as object)).toStrictEqual(['Secret/agents/demo-secrets', 'Pod/agents/demo'])
  })

  it('failing at wait undoes the Pod, then the Secret, and exits with kubectl\'s code', async () => {
    const r = await bottle(['launch', ...demo, '--no-provision'], { TOKEN: 'tok-123', BOTTLE_KUBECTL_FAIL: 'wait' })
    expect(r.code).toBe(1)
    // Each undo looks for what carries this run's launch id, then deletes by it.
    expect(calls().map(verbOf)).toStrictEqual(['create', 'create', 'wait', 'get', 'delete pod', 'get', 'delete secret'])
    const deletes = calls().filter((c) => verbOf(c).startsWith('delete'))
    const id = (JSON.parse(calls()[1]?.stdin ?? '{}') as { metadata: { labels: Record<string, string> } }).metadata.labels['dev.bottle.launch-id']
    for (const d of deletes) expect(d.argv).toContain(`dev.bottle.name=demo,dev.bottle.launch-id=${id ?? 'none'}`)
    expect(r.err).toContain('error: timed out waiting for the condition on pods/demo')
    expect(r.err).toContain('bottle: step 3/6 failed with exit code 1: wait until the Pod is ready (at most 300s)')
    expect(r.err.indexOf('undo: delete the Pod demo')).toBeLessThan(r.err.indexOf('undo: delete the Secret demo-secrets'))
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
  })

  it('a second launch is refused by the first one\'s launch record: exit 2, nothing run', async () => {
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 'tok-123' })).code).toBe(0)
    const again = await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 'tok-123' })
    expect([again.code, again.err]).toStrictEqual([2, `bottle: demo is launched already on kubernetes (its launch record is ${home}/.local/state/bottle/kubernetes/demo/record.json); take it down first: bottle run down demo\n`])
    expect(calls().map(verbOf).slice(5)).toStrictEqual([])
  })

  it('a second launch with no record (an older bottle\'s) stops at the Secret that exists, and removes nothing', async () => {
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 'tok-123' })).code).toBe(0)
    rmSync(`${home}/.local/state/bottle/kubernetes/demo/record.json`)
    const again = await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 'tok-123' })
    expect(again.code).toBe(1)
    expect(again.err).toContain('Error from server (AlreadyExists): error when creating "STDIN": secrets "demo-secrets" already exists')
    expect(calls().map(verbOf).slice(5)).toStrictEqual(['create'])
    expect(Object.keys(JSON.parse(readFileSync(statePath, 'utf8')) as object)).toHaveLength(2)
  })

  it('a user the image does not have: exit 2 right after the Pod is ready, a line naming the user, the Pod and Secret undone', async () => {
    const r = await bottle(['launch', ...demo, '--no-provision', '--user', 'nosuchuser'], { TOKEN: 'tok-123' })
    expect(r.code).toBe(2)
    expect(r.err).toContain('bottle: the image has no user nosuchuser: choose one it has (--user), or add it to the image')
    // Nothing after the check ran (the workdir is not made); the undo removed both objects.
    expect(calls().map(verbOf)).toStrictEqual(['create', 'create', 'wait', 'exec', 'get', 'delete pod', 'get', 'delete secret'])
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
  })

  it('a user the stand-in image has (STANDIN_GUEST_USERS): the check passes', async () => {
    const r = await bottle(['launch', ...demo, '--no-provision', '--user', 'agent', '-q'], { TOKEN: 'tok-123', STANDIN_GUEST_USERS: 'root agent' })
    expect(r).toStrictEqual({ code: 0, out: '', err: '' })
  })

  it('a secret missing from the host env: exit 2, nothing run', async () => {
    const r = await bottle(['launch', ...demo, '--no-provision'])
    expect(r).toStrictEqual({ code: 2, out: '', err: 'bottle: secret TOKEN not set in the host environment; nothing was run\n' })
    expect(calls()).toStrictEqual([])
  })

  it('no kubectl on PATH: exit 127, saying how to install it', async () => {
    let err = ''
    const code = await main(['run', 'down', ...demo, '-q'], { out: () => {}, err: (l) => void (err += l), env: { PATH: scratch } })
    expect(code).toBe(127)
    expect(err).toBe('bottle: kubectl is not installed (not found on PATH): install kubectl (https://kubernetes.io/docs/tasks/tools/) and give it a kubeconfig context for your cluster')
  })
})

describe('secrets travel on stdin only', () => {
  // Long hostile values; one that happens to be part of the plan's own text says nothing.
  const valueArb = nastyString({ minLength: 8 })

  test.prop([valueArb, fc.constantFrom('ok', 'wait', 'create-echo')], { numRuns: 12 })(
    'the value is in kubectl\'s stdin, and never in an argv or in bottle\'s output',
    async (value, fail) => {
      fresh()
      let planJson = ''
      await main(['plan', 'launch', ...demo, '--format', 'json'], { out: (t) => void (planJson += t), err: () => {}, env: {} })
      fc.pre(!planJson.includes(value))
      const r = await bottle(['launch', ...demo, '--no-provision'], { TOKEN: value, ...(fail === 'ok' ? {} : { BOTTLE_KUBECTL_FAIL: fail }) })
      expect(r.code).toBe(fail === 'ok' ? 0 : 1)
      const recorded = calls()
      const create = recorded.find((c) => verbOf(c) === 'create')
      expect((JSON.parse(create?.stdin ?? '{}') as { stringData?: { TOKEN?: string } }).stringData?.TOKEN).toBe(value)
      expect(recorded.flatMap((c) => c.argv).filter((w) => w.includes(value))).toStrictEqual([])
      expect(recorded.filter((c) => c !== create && c.stdin?.includes(value))).toStrictEqual([])
      // Nor as the JSON string that went to stdin, in case kubectl quotes its input.
      const inJson = JSON.stringify(value).slice(1, -1)
      expect([r.out, r.err].filter((o) => o.includes(value) || o.includes(inJson))).toStrictEqual([])
      if (fail === 'create-echo') expect(r.err).toContain('<secret TOKEN>')
    },
  )
})

describe('--format sh does what bottle run does', () => {
  /** Runs `bottle plan … --format sh` under dash, with the same env `bottle run` gets. */
  const viaScript = async (args: readonly string[], env: Record<string, string>): Promise<number | null> => {
    let script = ''
    expect(await main(['plan', ...args, '--format', 'sh'], { out: (t) => void (script += t), err: () => {}, env: { HOME: home } })).toBe(0)
    const r = spawnSync('/usr/bin/dash', ['-c', script], {
      env: {
        HOME: home,
        PATH: standinPath,
        BOTTLE_KUBECTL_LOG: log,
        BOTTLE_KUBECTL_STATE: statePath,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return r.status
  }
  /**
   * A call as compared: argv, and stdin parsed (awk escapes control characters differently); each
   * run has a launch id of its own, so every id is shown as ID.
   */
  const anyId = (t: string): string => t.replace(/(dev\.bottle\.launch-id[=":]+)[0-9a-f]{16}/g, '$1ID')
  const seen = (cs: Call[]) => cs.map((c) => ({ argv: c.argv.map(anyId), stdin: c.stdin === null ? null : (JSON.parse(anyId(c.stdin)) as unknown) }))

  it.each([
    ['succeeds', {}, 0],
    ['fails at wait and undoes', { BOTTLE_KUBECTL_FAIL: 'wait' }, 1],
  ] as const)('launch %s: the same kubectl calls, stdin included', async (_label, extra, code) => {
    const env = { TOKEN: 'a "quoted"\nvalue $(id) ✓', ...extra }
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], env)).code).toBe(code)
    const byRun = seen(calls())
    fresh()
    expect(await viaScript(['launch', ...demo, '--no-provision'], env)).toBe(code)
    expect(seen(calls())).toStrictEqual(byRun)
  })
})

describe('exec, down, ls', () => {
  /** A Pod that launch made, and its launch record, without running launch. */
  const seedPod = async (): Promise<void> => {
    let out = ''
    await main(['plan', 'launch', ...demo, '--format', 'json'], { out: (t) => void (out += t), err: () => {}, env: { HOME: home } })
    writeRecordOf(JSON.parse(out) as Plan)
    writeFileSync(statePath, JSON.stringify({
      'Pod/agents/demo': { kind: 'Pod', metadata: { name: 'demo', labels: { 'dev.bottle.managed': 'true' } }, status: { phase: 'Running' } },
      'Secret/agents/demo-secrets': { kind: 'Secret', metadata: { name: 'demo-secrets' } },
    }))
  }

  it.each([0, 3, 130])('exec passes the command\'s exit code %i through', async (code) => {
    await seedPod()
    const r = await bottle(['exec', ...demo, `exit ${code}`], { BOTTLE_KUBECTL_EXEC_EXIT: String(code) })
    expect(r.code).toBe(code)
    const [call] = calls()
    expect(call?.argv.slice(-3)).toStrictEqual(['sh', '-c', `exit ${code}`])
    // The Pod has the secrets: exec needs none from the host, and sends kubectl nothing on stdin.
    expect(call?.stdin).toBe(null)
  })

  it('exec on a bottle that is not there: kubectl\'s NotFound (its exit 1) is a backend failure, 125, said in one line', async () => {
    await seedPod()
    writeFileSync(statePath, '{}')
    const r = await bottle(['exec', ...demo, 'true'])
    expect(r.code).toBe(125)
    expect(r.err).toContain('bottle: kubernetes could not run the command in the bottle demo (its exit 1 was kubernetes\'s own, not the command\'s): Error from server (NotFound): pods "demo" not found')
  })

  it('exec whose command exits 1 in a running Pod: the command\'s own 1, passed through', async () => {
    await seedPod()
    const r = await bottle(['exec', ...demo, 'true'], { BOTTLE_KUBECTL_EXEC_EXIT: '1' })
    expect(r.code).toBe(1)
    expect(r.err).not.toContain('could not run')
  })

  it('exec on a bottle with no launch record: exit 2, nothing run', async () => {
    const r = await bottle(['exec', ...demo, 'true'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^bottle: demo has no launch record on kubernetes \(.*\): launch it first/)
    expect(calls()).toStrictEqual([])
  })

  it('down deletes the Pod and the Secret; run again, it still succeeds', async () => {
    await seedPod()
    expect((await bottle(['down', ...demo, '-q'])).code).toBe(0)
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
    expect((await bottle(['down', ...demo, '-q'])).code).toBe(0)
    // The door's objects too, by label, whatever the record says: they may be all that is left.
    expect(calls().map((c) => c.argv.slice(2).join(' '))).toStrictEqual([
      'delete pod demo --ignore-not-found',
      'delete secret demo-secrets --ignore-not-found',
      'delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
      'delete pod demo --ignore-not-found',
      'delete secret demo-secrets --ignore-not-found',
      'delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
    ])
  })

  it('the stand-in answers a delete without --ignore-not-found as kubectl does', () => {
    const r = spawnSync(join(standinsDir, 'kubectl'), ['delete', 'pod', 'gone'], {
      env: { PATH: `${dirname(process.execPath)}${delimiter}/usr/bin${delimiter}/bin`, BOTTLE_KUBECTL_STATE: statePath },
    })
    expect({ status: r.status, stderr: r.stderr.toString() }).toStrictEqual({ status: 1, stderr: 'Error from server (NotFound): pods "gone" not found\n' })
  })

  it('ls asks for the labelled Pods as JSON', async () => {
    await seedPod()
    expect((await bottle(['ls', '-b', 'kubernetes', '-n', 'agents'])).code).toBe(0)
    expect(calls().map((c) => c.argv)).toStrictEqual([['--namespace=agents', 'get', 'pods', '-l', 'dev.bottle.managed=true', '-o', 'json']])
  })
})

describe('ls, --check-drift and down --all read what launch recorded on the Pod', () => {
  const cluster = ['-b', 'kubernetes', '--context', 'lab', '-n', 'agents']

  it('ls lists the launched bottle, with the spec it recorded', async () => {
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 't' })).code).toBe(0)
    const r = await bottle(['ls', ...cluster, '--json'])
    expect([r.code, r.err]).toStrictEqual([0, ''])
    const [row, ...others] = (JSON.parse(r.out) as { bottles: Record<string, unknown>[] }).bottles
    expect(others).toStrictEqual([])
    expect(row).toMatchObject({
      name: 'demo',
      backend: 'kubernetes',
      state: 'running',
      image: 'node:22',
      spec: { image: 'node:22', user: 'node', workdir: '/src/app', env: ['CI'], secrets: ['TOKEN'], network: 'open' },
      drift: { status: 'undeclared' },
    })
    expect(row?.specHash).toMatch(/^[0-9a-f]{12}$/)
    expect(Date.now() - Date.parse(String(row?.created))).toBeLessThan(60_000)
    // Another namespace holds none of them.
    const elsewhere = await bottle(['ls', '-b', 'kubernetes', '--context', 'lab', '-n', 'other'])
    expect(elsewhere.out).toBe('NAME  BACKEND  STATE  AGE  IMAGE  NETWORK  DRIFT\n')
  })

  it('--check-drift compares the Pod\'s record with the spec the op runs with', async () => {
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 't' })).code).toBe(0)
    const same = await bottle(['exec', ...demo, 'true', '--check-drift'])
    expect(same.err).toContain('bottle: drift: demo (kubernetes) matches this spec')
    const changed = await bottle(['exec', ...demo, '--image', 'node:24', 'true', '--check-drift'])
    expect(changed.err).toContain('bottle: drift: demo (kubernetes) has drifted from this spec: image node:22 → node:24')
  })

  it('down --all deletes every Pod bottle made there, its Secret, and its egress proxy if it has one (no record is read)', async () => {
    expect((await bottle(['launch', ...demo, '--no-provision', '-q'], { TOKEN: 't' })).code).toBe(0)
    const fenced = ['other', ...demo.slice(1).filter((w) => w !== '--network' && w !== 'open')]
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: 't' })).code).toBe(0)
    const r = await bottle(['down', '--all', ...cluster, '-q'])
    expect([r.code, r.err]).toStrictEqual([0, ''])
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
    expect(calls().slice(-8).map((c) => c.argv.join(' '))).toStrictEqual([
      '--context=lab --namespace=agents get pods -l dev.bottle.managed=true -o json',
      '--context=lab --namespace=agents get pod,service,networkpolicy -l dev.bottle.egress-of -o json',
      '--context=lab --namespace=agents delete pod demo --ignore-not-found',
      '--context=lab --namespace=agents delete secret demo-secrets --ignore-not-found',
      '--context=lab --namespace=agents delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
      '--context=lab --namespace=agents delete pod other --ignore-not-found',
      '--context=lab --namespace=agents delete secret other-secrets --ignore-not-found',
      '--context=lab --namespace=agents delete pod,service,networkpolicy -l dev.bottle.egress-of=other --ignore-not-found',
    ])
  })
})

describe('the egress door (an allow-list), against the stand-in kubectl', () => {
  /** demo with the agent profile's default network: its hosts through the proxy. */
  const fenced = demo.filter((w) => w !== '--network' && w !== 'open')
  // Long enough that bottle's redaction of it leaves kubectl's messages readable.
  const token = 'tok-fenced-123'
  const kindsInState = (): string[] => Object.keys(JSON.parse(readFileSync(statePath, 'utf8')) as object).sort()
  const doorObjects = [
    'NetworkPolicy/agents/egress-demo-bottle',
    'NetworkPolicy/agents/egress-demo-proxy',
    'Pod/agents/egress-demo',
    'Service/agents/egress-demo',
  ]

  it('launch: the fence, the Service and the proxy Pod before the bottle, the bundle piped in, the relay, the probe; no host proxy', async () => {
    const r = await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })
    expect([r.code, r.err]).toStrictEqual([0, ''])
    expect(kindsInState()).toStrictEqual([...doorObjects, 'Pod/agents/demo', 'Secret/agents/demo-secrets'].sort())
    const created = calls().filter((c) => verbOf(c) === 'create').map((c) => {
      const o = JSON.parse(c.stdin ?? '{}') as { kind: string; metadata: { name: string } }
      return `${o.kind}/${o.metadata.name}`
    })
    // The fence first: the bottle's Pod never runs unfenced; the Service before the Pod whose env names it.
    expect(created).toStrictEqual(['NetworkPolicy/egress-demo-bottle', 'NetworkPolicy/egress-demo-proxy', 'Service/egress-demo', 'Pod/egress-demo', 'Secret/demo-secrets', 'Pod/demo'])
    // The proxy bundle reached its Pod whole, on exec's stdin.
    const bundle = calls().find((c) => c.argv.includes('egress-demo') && c.argv.includes('exec'))
    expect(bundle?.stdin).toBe(readFileSync(new URL('../../dist/egress-proxy.js', import.meta.url), 'utf8'))
    const execs = calls().filter((c) => verbOf(c) === 'exec' && c.argv.includes('demo')).map((c) => c.argv.join(' '))
    expect(execs.at(-2)).toContain('EGRESS_DEMO_SERVICE_HOST')
    expect(execs.at(-1)).toContain('KUBERNETES_SERVICE_HOST')
    // No host proxy: its directory in the bottle's state was never made.
    expect(existsSync(`${home}/.local/state/bottle/kubernetes/demo/egress`)).toBe(false)
  })

  it('down removes the bottle, then its door', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    const first = calls().length
    expect((await bottle(['down', ...fenced, '-q'])).code).toBe(0)
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
    expect(calls().slice(first).map((c) => c.argv.slice(2).join(' '))).toStrictEqual([
      'delete pod demo --ignore-not-found',
      'delete secret demo-secrets --ignore-not-found',
      'delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
    ])
  })

  it('a probe that fails (the network plugin enforces no NetworkPolicy) fails the launch, and all of it is undone', async () => {
    const r = await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token, BOTTLE_KUBECTL_PROBE_EXIT: '1' })
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/step 15\/15 failed with exit code 1: probe the egress door from inside the bottle/)
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toStrictEqual({})
  })

  it('a second launch of the name with no record stops at the first NetworkPolicy, and removes nothing of the first', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    rmSync(`${home}/.local/state/bottle/kubernetes/demo/record.json`)
    const before = kindsInState()
    const again = await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })
    expect(again.code).toBe(1)
    expect(again.err).toContain('networkpolicies.networking.k8s.io "egress-demo-bottle" already exists')
    expect(kindsInState()).toStrictEqual(before)
  })

  /** kubectl delete as the user runs it, behind bottle's back (the stand-in, straight). */
  const deleteBehindBack = (...args: string[]): void => {
    const r = spawnSync(join(standinsDir, 'kubectl'), ['--namespace=agents', 'delete', ...args], {
      env: { PATH: `${dirname(process.execPath)}${delimiter}/usr/bin${delimiter}/bin`, BOTTLE_KUBECTL_STATE: statePath },
    })
    expect(r.status).toBe(0)
  }

  const cluster = ['-b', 'kubernetes', '--context', 'lab', '-n', 'agents']

  it('down --all removes the door and the Secret of a bottle whose Pod was deleted with kubectl, by label, beside the bottles it lists, and says so', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    const live = ['live', ...fenced.slice(1)]
    expect((await bottle(['launch', ...live, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    deleteBehindBack('pod', 'demo')
    expect(kindsInState().filter((k) => k.includes('egress-demo'))).toStrictEqual(doorObjects)
    // The plan says what it will remove: the listed bottle, then what is left of the gone one.
    let plannedText = ''
    const planned = await main(['plan', 'down', '--all', ...cluster], {
      out: (t) => void (plannedText += t),
      err: () => {},
      env: withKnobs({ PATH: standinPath, HOME: home, BOTTLE_KUBECTL_LOG: log, BOTTLE_KUBECTL_STATE: statePath }),
    })
    expect(planned).toBe(0)
    expect(plannedText).toContain("note: down --all: what is left of 1 bottle kubernetes no longer has (removed behind bottle's back): demo; of each, its egress proxy's Pod, Service and NetworkPolicies and its Secret (each by bottle's labels) and its launch record are removed; nothing is found by its name alone")
    const r = await bottle(['down', '--all', ...cluster])
    expect(r.code).toBe(0)
    // Everything of both is gone: the live bottle and its door, and the gone bottle's door and Secret (its token).
    expect(kindsInState()).toStrictEqual([])
    const deletes = calls().filter((c) => verbOf(c).startsWith('delete')).slice(-5).map((c) => c.argv.slice(2).join(' '))
    expect(deletes).toStrictEqual([
      'delete pod live --ignore-not-found',
      'delete secret live-secrets --ignore-not-found',
      'delete pod,service,networkpolicy -l dev.bottle.egress-of=live --ignore-not-found',
      'delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found',
      'delete secret -l dev.bottle.managed=true,dev.bottle.name=demo --ignore-not-found',
    ])
    // Nothing of the gone bottle was deleted by its name alone.
    expect(deletes.filter((d) => / demo /.test(d))).toStrictEqual([])
    expect(existsSync(`${home}/.local/state/bottle/kubernetes/demo/record.json`)).toBe(false)
  })
  it('down --all leaves objects that carry no label of bottle\'s, whatever their names', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    deleteBehindBack('pod', 'demo')
    // Someone else's Pod named like a proxy, and Secret named like the bottle's, without bottle's labels.
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as Record<string, { metadata: { labels?: Record<string, string> } }>
    const proxy = state['Pod/agents/egress-demo']
    state['Pod/agents/egress-other'] = { ...proxy, metadata: { ...proxy?.metadata, name: 'egress-other', labels: { app: 'other' } } } as never
    const secret = state['Secret/agents/demo-secrets']
    state['Secret/agents/demo-other-secrets'] = { ...secret, metadata: { ...secret?.metadata, name: 'demo-other-secrets', labels: { app: 'other' } } } as never
    writeFileSync(statePath, JSON.stringify(state))
    expect((await bottle(['down', '--all', ...cluster, '-q'])).code).toBe(0)
    expect(kindsInState()).toStrictEqual(['Pod/agents/egress-other', 'Secret/agents/demo-other-secrets'])
  })

  it('down NAME of a bottle whose Pod was deleted with kubectl removes its door, and says what it deleted', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    deleteBehindBack('pod', 'demo')
    const r = await bottle(['down', ...fenced])
    expect(r.code).toBe(0)
    expect(kindsInState()).toStrictEqual([])
    expect(r.err).toContain('delete pod,service,networkpolicy -l dev.bottle.egress-of=demo --ignore-not-found')
  })

  it('exec on a fenced bottle starts no proxy from the host, whatever its state there', async () => {
    expect((await bottle(['launch', ...fenced, '--no-provision', '-q'], { TOKEN: token })).code).toBe(0)
    const first = calls().length
    expect((await bottle(['exec', ...fenced, 'true'])).code).toBe(0)
    expect(calls().slice(first).map(verbOf)).toStrictEqual(['exec'])
  })
})
