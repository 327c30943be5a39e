// A stand-in for kubectl, for the interpreter tests: no cluster, only a state file. It is not
// kubectl and a run against it is no test of a real cluster; it plays kubectl's messages and exit
// codes for the verbs bottle uses (docs/backend-facts.md §3):
// - each call is one JSON line { argv, env, stdin } in $BOTTLE_KUBECTL_LOG;
// - the objects given to create/apply live in $BOTTLE_KUBECTL_STATE, by kind, namespace and name,
//   with what the API server adds: metadata.creationTimestamp, and for a Pod status.phase Running
//   (there is no scheduler: a Pod runs as soon as it exists); Pods, Secrets, Services and
//   NetworkPolicies (which nothing here enforces); `get KIND[,KIND…] -l K=V|K,… -o json|name`
//   lists them, `delete KIND -l K=V,…` deletes them, each deletion logged in
//   $BOTTLE_KUBECTL_REMOVED with the deleter's STANDIN_RUN_TAG;
// - $BOTTLE_KUBECTL_SLOW_MS: create/apply takes that long before the "server" acts;
// - $BOTTLE_KUBECTL_CREATE_DIES=1: create's client is killed (SIGKILL) once the server has acted
//   (created, or refused with AlreadyExists); =late: it is killed at once, and the server creates
//   the object ~800 ms later; $BOTTLE_KUBECTL_DIES_ON=KIND: only a create of that kind;
// - $BOTTLE_KUBECTL_FAIL=wait: wait times out; =create-echo: create fails and, like a careless
//   CLI, quotes its input (what bottle must not pass on); $BOTTLE_KUBECTL_EXEC_EXIT: exec's code;
//   $BOTTLE_KUBECTL_PROBE_EXIT: the code of an exec of the egress probe only (a door that does not hold).
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const argv = process.argv.slice(2)
// bottle starts kubectl with an allow-list of host variables (src/plan/client-env.ts), so a
// test's knobs (BOTTLE_KUBECTL_*) come in a file in $HOME (tests/standins/knobs.ts); `env` is
// what bottle gave, and is what the log records.
const env = process.env
const knobFile = env.HOME === undefined ? null : `${env.HOME}/.bottle-standin-knobs.json`
const knobs = { ...(knobFile !== null && existsSync(knobFile) ? JSON.parse(readFileSync(knobFile, 'utf8')) : {}), ...env }
const statePath = knobs.BOTTLE_KUBECTL_STATE
const readState = () => (statePath !== undefined && existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {})
const state = readState()
/** Takes in what other calls wrote meanwhile (a slow create). */
const reload = () => {
  for (const k of Object.keys(state)) delete state[k]
  Object.assign(state, readState())
}
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
/** Ends this client as a signal would: no message, no exit code of its own. */
const killed = () => {
  process.kill(process.pid, 'SIGKILL')
  sleep(10_000)
}

// `-f -`, and the exec that pipes the egress proxy bundle into its Pod (`cat > …/.incoming`).
const readsStdin = argv.some((a, i) => (a === '-f' || a === '--filename') && argv[i + 1] === '-') ||
  (argv.includes('exec') && argv.includes('-i') && argv.some((a) => a.startsWith('cat > ') && a.includes('/.incoming')))
const stdin = readsStdin ? readFileSync(0, 'utf8') : null
if (knobs.BOTTLE_KUBECTL_LOG !== undefined) appendFileSync(knobs.BOTTLE_KUBECTL_LOG, `${JSON.stringify({ argv, env, stdin })}\n`)

const finish = (code, out = '', err = '') => {
  if (statePath !== undefined) writeFileSync(statePath, JSON.stringify(state))
  if (out !== '') process.stdout.write(`${out}\n`)
  if (err !== '') process.stderr.write(`${err}\n`)
  process.exit(code)
}

// Global flags, then the verb and its words; only the attached and separate forms bottle could use.
let namespace = 'default'
const words = []
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--') { words.push(...argv.slice(i)); break }
  if (a.startsWith('--namespace=')) namespace = a.slice('--namespace='.length)
  else if (a === '-n' || a === '--namespace') namespace = argv[++i]
  else if (a.startsWith('--context=')) continue
  else words.push(a)
}
const [verb, ...rest] = words
const kinds = { pod: 'Pod', pods: 'Pod', secret: 'Secret', secrets: 'Secret', service: 'Service', services: 'Service', networkpolicy: 'NetworkPolicy', networkpolicies: 'NetworkPolicy' }
const plural = { Pod: 'pods', Secret: 'secrets', Service: 'services', NetworkPolicy: 'networkpolicies.networking.k8s.io' }
const key = (kind, name) => `${kind}/${namespace}/${name}`

/**
 * The objects of a kind in the namespace that a selector matches: [key, object] pairs. A part is
 * `k=v` (that value) or `k` alone (the label is there, any value), as kubectl reads them.
 */
const matching = (kind, selector) => {
  const wanted = selector.split(',').filter((p) => p !== '').map((p) => p.split('='))
  const holds = (labels, [lk, lv]) => (lv === undefined ? Object.hasOwn(labels ?? {}, lk) : labels?.[lk] === lv)
  return Object.entries(state).filter(
    ([k, o]) => k.startsWith(`${kind}/${namespace}/`) && wanted.every((part) => holds(o.metadata.labels, part)),
  )
}

/**
 * Each deletion, as one JSON line in $BOTTLE_KUBECTL_REMOVED: who deleted (the knob
 * STANDIN_RUN_TAG, one per bottle process) what (kind, name, labels), for the undo properties.
 */
const removed = (o) => {
  if (knobs.BOTTLE_KUBECTL_REMOVED !== undefined)
    appendFileSync(knobs.BOTTLE_KUBECTL_REMOVED, `${JSON.stringify({ by: knobs.STANDIN_RUN_TAG ?? '', kind: o.kind, name: o.metadata.name, labels: o.metadata.labels ?? {} })}\n`)
}

switch (verb) {
  case 'create':
  case 'apply': {
    let obj
    try {
      obj = JSON.parse(stdin ?? '')
    } catch {
      finish(1, '', 'error: error parsing STDIN: error converting YAML to JSON: yaml: did not find expected node content')
    }
    const dies = verb === 'create' && [undefined, obj.kind].includes(knobs.BOTTLE_KUBECTL_DIES_ON) ? knobs.BOTTLE_KUBECTL_CREATE_DIES : undefined
    if (dies === 'late' && env.BOTTLE_KUBECTL_LATE_SERVER === undefined) {
      // The client dies at once; the "server" finishes the request later, in a process of its own.
      const server = spawn(process.execPath, [fileURLToPath(import.meta.url), ...argv], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { ...env, BOTTLE_KUBECTL_LATE_SERVER: '1' },
      })
      server.stdin.end(stdin)
      server.unref()
      killed()
    }
    // A slow API server: the request is in flight this long before the server decides; the state
    // is read again after it, as the server would see it then.
    const slowMs = env.BOTTLE_KUBECTL_LATE_SERVER === undefined ? knobs.BOTTLE_KUBECTL_SLOW_MS : '800'
    if (slowMs !== undefined) {
      sleep(Number(slowMs))
      reload()
    }
    // The client is stopped by a signal after the server acted (created, or refused), before it says which.
    if (dies === '1') process.on('exit', killed)
    if (verb === 'create' && knobs.BOTTLE_KUBECTL_FAIL === 'create-echo')
      finish(1, '', `error: error validating "STDIN": error validating data: ${stdin}`)
    const k = key(obj.kind, obj.metadata.name)
    const what = `${obj.kind.toLowerCase()}/${obj.metadata.name}`
    if (verb === 'create' && state[k] !== undefined)
      finish(1, '', `Error from server (AlreadyExists): error when creating "STDIN": ${plural[obj.kind]} "${obj.metadata.name}" already exists`)
    const existed = state[k] !== undefined
    // RFC 3339, whole seconds; an apply over an existing object keeps its creation time.
    const creationTimestamp = existed ? state[k].metadata.creationTimestamp : new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
    state[k] = {
      ...obj,
      metadata: { ...obj.metadata, namespace, creationTimestamp },
      ...(obj.kind === 'Pod' ? { status: { phase: 'Running' } } : {}),
    }
    finish(0, `${what} ${verb === 'apply' && existed ? 'configured' : 'created'}`)
    break
  }
  case 'wait': {
    const target = rest.find((w) => w.startsWith('pod/'))?.slice(4)
    if (state[key('Pod', target)] === undefined) finish(1, '', 'error: no matching resources found')
    if (knobs.BOTTLE_KUBECTL_FAIL === 'wait') finish(1, '', `error: timed out waiting for the condition on pods/${target}`)
    finish(0, `pod/${target} condition met`)
    break
  }
  case 'delete': {
    const [kindWord, name] = rest
    const kind = kinds[kindWord]
    // `delete KIND[,KIND…] -l SELECTOR`: every object of those kinds the selector matches; none is no error.
    if (name === '-l') {
      const found = kindWord.split(',').flatMap((w) => matching(kinds[w], rest[2]))
      for (const [k, o] of found) {
        removed(o)
        delete state[k]
      }
      finish(0, found.length === 0 ? '' : found.map(([, o]) => `${o.kind.toLowerCase()} "${o.metadata.name}" deleted`).join('\n'), found.length === 0 ? 'No resources found' : '')
    }
    if (state[key(kind, name)] === undefined) {
      if (rest.includes('--ignore-not-found')) finish(0)
      finish(1, '', `Error from server (NotFound): ${plural[kind]} "${name}" not found`)
    }
    removed(state[key(kind, name)])
    delete state[key(kind, name)]
    finish(0, `${kindWord} "${name}" deleted`)
    break
  }
  case 'exec': {
    const dash = rest.indexOf('--')
    const before = rest.slice(0, dash)
    const pod = before.filter((w, i) => !w.startsWith('-') && before[i - 1] !== '-c')[0]
    if (state[key('Pod', pod)] === undefined) finish(1, '', `Error from server (NotFound): pods "${pod}" not found`)
    // bottle's user check (`/bin/sh -c 'id -u "$1" …' sh USER`, last in the guest argv) runs for
    // real against the stand-in image's `id` (tests/standins/guest-bin: its users are
    // $STANDIN_GUEST_USERS); no other guest command runs on this host.
    const tail = rest.slice(-5)
    if (tail[0] === '/bin/sh' && tail[1] === '-c' && tail[2]?.startsWith('id -u "$1"') && tail[3] === 'sh') {
      const r = spawnSync('/bin/sh', tail.slice(1), {
        env: { PATH: `${join(dirname(fileURLToPath(import.meta.url)), 'guest-bin')}:/usr/bin:/bin`, ...(knobs.STANDIN_GUEST_USERS === undefined ? {} : { STANDIN_GUEST_USERS: knobs.STANDIN_GUEST_USERS }) },
        encoding: 'utf8',
      })
      process.stderr.write(r.stderr)
      finish(r.status, '', r.status === 0 ? '' : `command terminated with exit code ${r.status}`)
    }
    const isProbe = rest.some((w) => w.includes('bottle: egress probe:'))
    const code = Number((isProbe ? knobs.BOTTLE_KUBECTL_PROBE_EXIT : undefined) ?? knobs.BOTTLE_KUBECTL_EXEC_EXIT ?? '0')
    finish(code, '', code === 0 ? '' : `command terminated with exit code ${code}`)
    break
  }
  case 'cp': {
    const [src, dest] = rest.filter((w, i) => !w.startsWith('-') && rest[i - 1] !== '-c')
    if (!existsSync(src)) finish(1, '', `error: ${src} doesn't exist in local filesystem`)
    const pod = dest.slice(0, dest.indexOf(':'))
    if (state[key('Pod', pod)] === undefined) finish(1, '', `Error from server (NotFound): pods "${pod}" not found`)
    finish(0)
    break
  }
  case 'get': {
    // `get pod NAME -o jsonpath={.status.phase}`: the one field bottle reads of one Pod.
    if (rest[0] === 'pod' && rest[1] !== undefined && !rest[1].startsWith('-')) {
      const pod = state[key('Pod', rest[1])]
      if (pod === undefined) finish(1, '', `Error from server (NotFound): pods "${rest[1]}" not found`)
      if (rest.includes('jsonpath={.status.phase}')) finish(0, pod.status?.phase ?? '')
      finish(1, '', 'kubectl stand-in: only -o jsonpath={.status.phase} is played for one Pod')
    }
    // `get KIND[,KIND…] -l SELECTOR`: a List of every kind named, as kubectl prints several kinds.
    const found = (rest[0] ?? 'pods').split(',').flatMap((w) => matching(kinds[w] ?? 'Pod', rest[rest.indexOf('-l') + 1] ?? ''))
    // `-o name`: kind/name lines, nothing at all when there is none.
    if (rest.includes('name')) finish(0, found.map(([, o]) => `${o.kind.toLowerCase()}/${o.metadata.name}`).join('\n'))
    finish(0, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: found.map(([, o]) => o) }, null, 4))
    break
  }
  default:
    finish(1, '', `error: unknown command "${verb}" for "kubectl"`)
}
