/**
 * kubernetes: a long-lived Pod per bottle, driven by kubectl; every op execs into it.
 *
 *   kubernetes.exec(spec, intent, host).framing
 *   // ['kubectl','--context=lab','--namespace=agents','exec','-i','-t','-c','bottle','demo','--',
 *   //  'runuser','-u','node','--','env','HOME=/home/node','USER=node','CI=1',
 *   //  '/bin/sh','-c','cd "$1" && shift && exec "$@"','bottle','/src/app']
 *
 * Traps this file exists to handle (docs/backend-facts.md §3):
 * - `kubectl exec` has no user, env or workdir flag ("TODO support UID"), so the guest argv does
 *   it: `runuser -u U --` (no login shell), then `env` (after runuser, because `runuser -u` sets
 *   HOME, and USER for a non-root user, from passwd: seen with util-linux 2.38), then a `cd` in
 *   `/bin/sh -c`, the one way to change directory that every image has (`env -C` is GNU-only).
 *   Secrets are already in the container's env (below); plumbing steps that must not see them
 *   drop them with `env -u`.
 * - Secrets travel in a Secret object whose values the interpreter writes to kubectl's stdin; the
 *   Pod takes them with `secretKeyRef`. The Secret is made with `kubectl create`, not `apply`:
 *   client-side apply keeps the whole object, values included, in the
 *   `kubectl.kubernetes.io/last-applied-configuration` annotation, which `kubectl describe`
 *   prints (kubernetes/kubernetes#23564, #29923). `create` also refuses to take over a Secret
 *   of the same name that is not ours.
 * - The Pod too is made with `kubectl create`: `apply` takes over an object of the same name. Both
 *   carry the run's launch id as a label, and launch's undo deletes by it (`delete -l`), so the
 *   loser of two same-name launches never deletes the winner's Pod or Secret.
 * - `kubectl wait` fails at once on a Pod that does not exist yet, so it runs after the create.
 * - `kubectl cp` runs `tar` in the container, and reads any `:` in a local path as `pod:path`.
 * - The workdir cannot be bound from the host: launch makes it in the Pod, and copies the
 *   repository the workdir is in into it (workspace: copy, the default here; src/workspace.ts).
 *
 * The egress door (issue 13; docs/egress.md): a bottle with an allow-list gets a proxy Pod of its
 * own, `egress-NAME` (a sidecar would share the bottle's network namespace, and so its way out),
 * running dist/egress-proxy.js on TCP 3128 behind a Service of that name, and two NetworkPolicies:
 * the bottle's Pod may send only to the proxy Pod's port 3128 and take nothing in; the proxy Pod
 * takes only the bottle's connections. The bottle resolves no name (DNS would be a way out of its
 * own): its relay (127.0.0.1:3128, as on every backend) reaches the Service by the
 * `EGRESS_NAME_SERVICE_HOST`/`_PORT` env vars the kubelet sets in a Pod made after the Service.
 * A NetworkPolicy is enforced only by a network plugin that implements it; the probe at the end
 * of launch checks that this cluster's does (a direct connection to the API server must fail).
 */
import { sequenceS } from 'fp-ts/lib/Apply.js'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { compileError, show } from '../plan/errors.js'
import { type Json, type OpName, type Step, info, inheritEnv, step } from '../plan/types.js'
import type { BottleSpec, Resources } from '../bottle-spec/spec.js'
import { isDns1123Label } from '../bottle-spec/validate.js'
import { memoryQuantity } from '../bottle-spec/limits.js'
import {
  type Backend,
  type BottleRow,
  type ClusterScope,
  type CopyIn,
  type GuestStep,
  type HostFacts,
  type ListingError,
  type ParsedListing,
  launchIdLabel,
  launchLabels,
  listingError,
  listingReader,
  managedLabel,
  nameLabel,
  ownedByUser,
  specHashLabel,
  undoTries,
  userCheck,
} from './backend.js'
import { stagedCopy } from './staged-copy.js'
import { type Door, allowArgs, doorOf, relayStartArgvTo, unreadEgressFacts } from './egress.js'
import { defaultDirectTargets, probeArgv, relayPort } from '../egress/probe.js'

/** The Pod's one container; every exec and cp names it. */
const containerName = 'bottle'

/** How long launch waits for the Pod to be Ready: a first pull of node:22 on a cold node is slow. */
const readyTimeout = '300s'

/** Runs "$@" in directory $1: the cwd for `kubectl exec`, which has no workdir flag. */
const cdScript = 'cd "$1" && shift && exec "$@"'

/** Makes the workdir for the user, but leaves an existing directory (/home/node, /usr) alone. */
const makeWorkdirScript = '[ -d "$1" ] || { mkdir -p -- "$1" && chown -- "$2" "$1"; }'

const secretName = (spec: BottleSpec): string => `${spec.name}-secrets`

/** `kubectl [--context=C] [--namespace=N] ARGS…`: one word per flag, so a context can be any text. */
const kubectl = (where: ClusterScope, ...args: string[]): string[] => {
  const argv = ['kubectl']
  if (where.context !== null) argv.push(`--context=${where.context}`)
  if (where.namespace !== null) argv.push(`--namespace=${where.namespace}`)
  argv.push(...args)
  return argv
}

/**
 * What marks the Secret as bottle's: it is no bottle, so it records no spec. The launch id label
 * is an empty slot here, filled with the run's id when the step runs (launchIdSlot).
 */
const secretLabels = (spec: BottleSpec): Json => ({ [managedLabel]: 'true', [nameLabel]: spec.name, [launchIdLabel]: '' })

/**
 * What launch puts on the Pod: the name and the 12-digit spec hash fit a label's 63 characters,
 * and so does the 16-digit launch id (an empty slot here, as on the Secret).
 */
const podMetadata = (spec: BottleSpec): Json => {
  const labels: Record<string, string> = {}
  for (const [k, v] of launchLabels(spec, kubernetes.defaultImage)) labels[k] = v
  labels[launchIdLabel] = ''
  return { name: spec.name, labels }
}

/** Where the run's launch id goes in the Pod's and the Secret's JSON. */
const launchIdSlot = ['metadata', 'labels', launchIdLabel] as const

/**
 * The container's resources: the spec's `resources` (requests, and limits of other kinds), with
 * `limits.cpus` and `limits.memory` as the limits cpu and memory (resolveSpec has refused a
 * bottle that gives either both ways).
 */
const containerResources = (spec: BottleSpec): Resources => ({
  requests: spec.resources.requests,
  limits: [
    ...spec.resources.limits,
    ...(spec.limits.cpus === null ? [] : [['cpu', spec.limits.cpus] as const]),
    ...(spec.limits.memory === null ? [] : [['memory', memoryQuantity(spec.limits.memory)] as const]),
  ],
})

const resourcesJson = (r: Resources): Json => ({
  ...(r.requests.length === 0 ? {} : { requests: Object.fromEntries(r.requests) }),
  ...(r.limits.length === 0 ? {} : { limits: Object.fromEntries(r.limits) }),
})

/** `resources`, or nothing when there are none. */
const resourcesField = (r: Resources): { resources?: Json } => (r.requests.length + r.limits.length === 0 ? {} : { resources: resourcesJson(r) })

/** The Pod: the image's entrypoint replaced by a sleep, every secret taken from the Secret. */
const podManifest = (spec: BottleSpec): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: podMetadata(spec),
  spec: {
    containers: [
      {
        name: containerName,
        image: spec.image ?? kubernetes.defaultImage,
        command: ['sleep', 'infinity'],
        ...(spec.secrets.length === 0
          ? {}
          : {
            env: spec.secrets.map((k) => ({
              name: k,
              valueFrom: { secretKeyRef: { name: secretName(spec), key: k } },
            })),
          }),
        ...resourcesField(containerResources(spec)),
      },
    ],
    // A restarted container would come back with a fresh filesystem: the agent's work gone
    // without a word. Never restarting leaves a stopped Pod that exec reports on.
    restartPolicy: 'Never',
    // The agent gets no Kubernetes API credentials of the namespace's service account.
    automountServiceAccountToken: false,
    // The pause container becomes PID 1: it reaps the agent's orphaned processes (docker's
    // --init), and sleep, no longer PID 1, dies on SIGTERM instead of holding `delete` for the
    // whole grace period.
    shareProcessNamespace: true,
    ...(spec.network.mode === 'host' ? { hostNetwork: true } : {}),
    // The relay finds the proxy Service by the env vars the kubelet sets only with service links
    // (the default, said here so that nothing in between turns it off).
    ...(spec.network.mode === 'egress' ? { enableServiceLinks: true } : {}),
  },
})

/** The Secret, with an empty placeholder for each value: the interpreter fills them in. */
const secretManifest = (spec: BottleSpec): Json => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: secretName(spec), labels: secretLabels(spec) },
  type: 'Opaque',
  stringData: Object.fromEntries(spec.secrets.map((k) => [k, ''])),
})

const checkSpec = (spec: BottleSpec, op: OpName) => {
  // A Pod's container has no process limit: the kubelet's podPidsLimit is one number for every
  // Pod of the node, set by whoever runs the cluster.
  if (op === 'launch' && spec.limits.pids !== null)
    return E.left(compileError('limits.pids cannot be enforced on kubernetes: a container spec has no process limit (the node\'s kubelet sets podPidsLimit for every Pod); remove pids'))
  if (!isDns1123Label(spec.name))
    return E.left(compileError(
      `bottle name ${show(spec.name)} is not a valid Kubernetes pod name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`,
    ))
  // A Pod always has a network; only a NetworkPolicy (enforced by some network plugins, not
  // all) takes it away. Saying "none" and getting a network would be worse than refusing.
  if (spec.network.mode === 'none')
    return E.left(compileError('network "none" is not available on kubernetes: a Pod always has a network; restrict it with a NetworkPolicy'))
  // The proxy Pod and Service are named egress-NAME: a label of at most 63 characters.
  if (spec.network.mode === 'egress' && op === 'launch' && spec.name.length > longestDoorName)
    return E.left(compileError(`bottle name ${show(spec.name)} is too long for an allow-list on kubernetes: its egress proxy Pod and Service are named egress-NAME, at most 63 characters, so the name may have at most ${longestDoorName}`))
  return E.right(spec)
}

/**
 * kubectl cp reads a `:` in the local path as `pod:path`, so such a file is first staged at a path
 * without one. A directory travels as one tar archive unpacked in the container: `kubectl cp DIR
 * pod:DEST` would land in DEST/DIR when DEST exists, and compile.ts makes it.
 */
const copyOnly = (spec: BottleSpec, copy: CopyIn, host: HostFacts, inGuest: GuestStep) =>
  stagedCopy({
    spec, copy, host, inGuest,
    upload: (source, dest, title) =>
      step(`${title} (kubectl cp needs tar in the container image)`, kubectl(spec, 'cp', '-c', containerName, source, `${spec.name}:${dest}`)),
    readsColonAs: 'kubectl cp reads as a pod name',
  })

/** kubectl cp unpacks as the container's user (root here): the parent made first, the copy chowned after. */
const copyIn = (spec: BottleSpec, copy: CopyIn, host: HostFacts, inGuest: GuestStep) =>
  E.map((steps: readonly Step[]) => ownedByUser(spec, copy, inGuest, steps))(copyOnly(spec, copy, host, inGuest))

const deletePod = (spec: BottleSpec): Step =>
  step(`delete the Pod ${spec.name}`, kubectl(spec, 'delete', 'pod', spec.name, '--ignore-not-found'))

const deleteSecret = (spec: BottleSpec): Step =>
  step(`delete the Secret ${secretName(spec)}`, kubectl(spec, 'delete', 'secret', secretName(spec), '--ignore-not-found'))

/**
 * `sh -c deleteOwnScript KUBECTL TRIES KIND SELECTOR [GLOBAL FLAGS…]`: delete the objects of KIND
 * that the selector (this name and this run's launch id) finds; none yet: look again, once a
 * second, TRIES times in all, since a create whose client was stopped may still be finished by the
 * API server. The delete goes by the selector again, not by the names the look found: a name may
 * have been taken over since by another run's object, which the selector does not match.
 */
const deleteOwnScript = [
  'bin=$0 tries=$1 kind=$2 sel=$3; shift 3',
  'i=0',
  'while :; do',
  '  found=$("$bin" "$@" get "$kind" -l "$sel" -o name) || exit',
  '  if [ -n "$found" ]; then exec "$bin" "$@" delete "$kind" -l "$sel" --ignore-not-found; fi',
  '  i=$((i + 1)); [ "$i" -lt "$tries" ] || exit 0',
  '  sleep 1',
  'done',
].join('\n')

/**
 * The create's undo: the object of that name that carries this run's launch id; one of that name
 * that another run made (the winner of two same-name launches) does not match and is left alone.
 */
const deleteOwn = (spec: BottleSpec, kind: 'pod' | 'secret' | 'service' | 'networkpolicy', what: string, selector = `${nameLabel}=${spec.name},${launchIdLabel}=`): Step => {
  const global = kubectl(spec).slice(1)
  return step(`delete ${what} if this run created it`, [
    'sh', '-c', deleteOwnScript, 'kubectl', String(undoTries), kind,
    selector,
    ...global,
  ], { launchId: [6] })
}

// -------------------------------------------------------------------------------------------------
// the egress door: a proxy Pod, its Service, two NetworkPolicies
// -------------------------------------------------------------------------------------------------

/** On the proxy Pod, its Service and both NetworkPolicies: which bottle's door they are. */
export const egressOfLabel = 'dev.bottle.egress-of'
/** Which part of the door an object is, so that each create's undo finds its own object only. */
const egressPartLabel = 'dev.bottle.egress-part'
type EgressPart = 'bottle-policy' | 'proxy-policy' | 'service' | 'proxy'

/**
 * The proxy Pod's and its Service's name. `egress-` first: a Service name must start with a letter
 * (RFC 1035), and a bottle name may start with a digit.
 */
export const proxyName = (spec: BottleSpec): string => `egress-${spec.name}`

/** The longest bottle name whose proxy name is still a 63-character label. */
const longestDoorName = 63 - 'egress-'.length

/** The bottle's NetworkPolicy (egress to the proxy only, no ingress) and the proxy's (ingress from the bottle only). */
const bottlePolicyName = (spec: BottleSpec): string => `${proxyName(spec)}-bottle`
const proxyPolicyName = (spec: BottleSpec): string => `${proxyName(spec)}-proxy`

/** The env vars the kubelet sets, in a Pod made after the Service, to the Service's ClusterIP and port. */
export const serviceEnv = (spec: BottleSpec): { hostVar: string; portVar: string } => {
  const base = proxyName(spec).toUpperCase().replace(/-/g, '_')
  return { hostVar: `${base}_SERVICE_HOST`, portVar: `${base}_SERVICE_PORT` }
}

/**
 * The proxy's image: it runs the proxy bundle, which needs node; not the bottle's image, which is
 * the agent's choice. The proxy's container runs as uid 1000 (node:22's `node`), no privileges.
 */
export const proxyImage = 'node:22'
const proxyContainer = 'proxy'
/** Where the proxy bundle lands in the proxy Pod: an emptyDir, which outlives a container restart. */
const proxyDir = '/opt/bottle-egress'
const proxyBundle = `${proxyDir}/egress-proxy.js`

/**
 * The proxy container's command: wait for the bundle (launch puts it there once the Pod runs: a
 * ConfigMap would need labels that `kubectl create configmap` cannot set, and the plan would
 * print the bundle), then serve. `sh -c waitThenServe sh --allow A …`.
 */
const waitThenServe = `until [ -f ${proxyBundle} ]; do sleep 1; done; exec node ${proxyBundle} serve --listen ${relayPort} "$@"`

const egressLabels = (spec: BottleSpec, part: EgressPart): Json => ({ [egressOfLabel]: spec.name, [egressPartLabel]: part, [launchIdLabel]: '' })
const bottleSelector = (spec: BottleSpec): Json => ({ matchLabels: { [managedLabel]: 'true', [nameLabel]: spec.name } })
const proxySelector = (spec: BottleSpec): Json => ({ matchLabels: { [egressOfLabel]: spec.name, [egressPartLabel]: 'proxy' } })
const proxyPortRule: Json = [{ protocol: 'TCP', port: relayPort }]

/** The bottle's fence: nothing in, and out only to the proxy Pod's port 3128. Made before the bottle's Pod. */
const bottlePolicyManifest = (spec: BottleSpec): Json => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: bottlePolicyName(spec), labels: egressLabels(spec, 'bottle-policy') },
  spec: {
    podSelector: bottleSelector(spec),
    policyTypes: ['Ingress', 'Egress'],
    // No ingress rule: nothing connects in (an inbound connection carries data out as well).
    ingress: [],
    egress: [{ to: [{ podSelector: proxySelector(spec) }], ports: proxyPortRule }],
  },
})

/** The proxy's fence: only the bottle's Pod connects in; out it goes anywhere (its allow-list decides). */
const proxyPolicyManifest = (spec: BottleSpec): Json => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: proxyPolicyName(spec), labels: egressLabels(spec, 'proxy-policy') },
  spec: {
    podSelector: proxySelector(spec),
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: bottleSelector(spec) }], ports: proxyPortRule }],
  },
})

const serviceManifest = (spec: BottleSpec): Json => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: proxyName(spec), labels: egressLabels(spec, 'service') },
  spec: { selector: { [egressOfLabel]: spec.name, [egressPartLabel]: 'proxy' }, ports: [{ protocol: 'TCP', port: relayPort, targetPort: relayPort }] },
})

const proxyPodManifest = (spec: BottleSpec, door: Door): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: proxyName(spec), labels: egressLabels(spec, 'proxy') },
  spec: {
    containers: [
      {
        name: proxyContainer,
        image: proxyImage,
        command: ['/bin/sh', '-c', waitThenServe, 'sh', ...allowArgs(door.allow)],
        ports: [{ containerPort: relayPort, protocol: 'TCP' }],
        readinessProbe: { tcpSocket: { port: relayPort }, periodSeconds: 2 },
        volumeMounts: [{ name: 'proxy', mountPath: proxyDir }],
        securityContext: {
          runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true,
          allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
        },
      },
    ],
    volumes: [{ name: 'proxy', emptyDir: {} }],
    // Unlike the bottle's, the proxy keeps nothing of the agent's: the kubelet restarts it, and the
    // bundle waits in the emptyDir. No later op restarts it from the host.
    restartPolicy: 'Always',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
  },
})

const kindOf: Record<EgressPart, 'networkpolicy' | 'service' | 'pod'> = { 'bottle-policy': 'networkpolicy', 'proxy-policy': 'networkpolicy', service: 'service', proxy: 'pod' }

/** `kubectl create -f -` of one door object, with the run's launch id, and its undo: this part, this run's. */
const createDoorObject = (spec: BottleSpec, part: EgressPart, what: string, why: string, document: Json): Step =>
  step(`create ${what}: ${why}`, kubectl(spec, 'create', '-f', '-'), {
    stdin: { _tag: 'json', document, secrets: [], launchId: [launchIdSlot] },
    undo: [deleteOwn(spec, kindOf[part], what, `${egressOfLabel}=${spec.name},${egressPartLabel}=${part},${launchIdLabel}=`)],
  })

/**
 * `sh -c putBundle BUNDLE KUBECTL…`: the proxy bundle from the host into the proxy Pod, on
 * exec's stdin, under a temporary name and then renamed: the waiting container never starts half a file.
 */
const putBundleScript = 'f=$1; shift; exec "$@" < "$f"'
const receiveBundle = `cat > ${proxyDir}/.incoming && mv ${proxyDir}/.incoming ${proxyBundle}`

/** The door's steps, before the Secret and the bottle's Pod: the fence first, so the bottle never runs unfenced. */
const doorSteps = (spec: BottleSpec, door: Door, proxyScript: string): Step[] => [
  createDoorObject(spec, 'bottle-policy', `the NetworkPolicy ${bottlePolicyName(spec)}`, `the bottle sends only to its proxy, port ${relayPort}, and takes nothing in`, bottlePolicyManifest(spec)),
  createDoorObject(spec, 'proxy-policy', `the NetworkPolicy ${proxyPolicyName(spec)}`, 'the proxy takes connections from the bottle only', proxyPolicyManifest(spec)),
  createDoorObject(spec, 'service', `the Service ${proxyName(spec)}`, 'the address of the egress proxy, in the env of the bottle made after it', serviceManifest(spec)),
  createDoorObject(spec, 'proxy', `the egress proxy Pod ${proxyName(spec)}`, `${door.allow.length} allowed (image ${proxyImage})`, proxyPodManifest(spec, door)),
  step(`wait until the egress proxy Pod runs (at most ${readyTimeout})`, kubectl(spec, 'wait', '--for=jsonpath={.status.phase}=Running', `pod/${proxyName(spec)}`, `--timeout=${readyTimeout}`)),
  step(`put the egress proxy (${proxyScript}) into its Pod`, [
    'sh', '-c', putBundleScript, 'sh', proxyScript,
    ...kubectl(spec, 'exec', '-i', '-c', proxyContainer, proxyName(spec), '--', '/bin/sh', '-c', receiveBundle),
  ], { env: inheritEnv }),
  step('wait until the egress proxy serves (at most 60s)', kubectl(spec, 'wait', '--for=condition=Ready', `pod/${proxyName(spec)}`, '--timeout=60s')),
]

/** down: the door's objects, by label (a NotFound is no error); after the bottle's Pod, which they fence. */
const removeDoor = (spec: BottleSpec): Step[] => [
  step(`delete the egress proxy of ${spec.name} (Pod, Service, NetworkPolicies)`, kubectl(spec, 'delete', doorKinds, '-l', `${egressOfLabel}=${spec.name}`, '--ignore-not-found')),
]

/**
 * down --all, of a bottle whose Pod is gone: its door, and its Secret (the bottle's secrets, left
 * in the cluster otherwise), both by bottle's labels, never by a name another tool may use.
 */
const removeLeftovers = (spec: BottleSpec): Step[] => [
  ...removeDoor(spec),
  step(`delete the Secret of ${spec.name} that bottle made (by its labels: its Pod is gone)`, kubectl(spec, 'delete', 'secret', '-l', `${managedLabel}=true,${nameLabel}=${spec.name}`, '--ignore-not-found')),
]

/** The kinds a door is made of, as kubectl get and delete take them. */
const doorKinds = 'pod,service,networkpolicy'

/** down --all: every door object in the namespace, whoever's bottle it fences (read-only). */
const listDoors = (host: HostFacts): Step =>
  step('list the egress proxies\' objects bottle created (Pods, Services, NetworkPolicies)', kubectl(host.cluster, 'get', doorKinds, '-l', egressOfLabel, '-o', 'json'), { stdio: 'capture' })

/**
 * The bottles a List of door objects belongs to, each once, in the order first seen: the
 * `dev.bottle.egress-of` label's values. An item without one (a stand-in or a proxy that does not
 * filter) is not a door.
 */
export const parseDoors = (stdout: string): E.Either<ListingError, readonly string[]> => {
  const text = stdout.trim()
  if (text === '') return E.right([])
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return E.left(listingError(`kubectl get ${doorKinds} -o json printed something that is not JSON: ${show(text.slice(0, 80))}`))
  }
  if (!isObject(data) || !Array.isArray(data.items))
    return E.left(listingError(`kubectl get ${doorKinds} -o json printed JSON that is not a list (no items array)`))
  const names: string[] = []
  for (const item of data.items as unknown[]) {
    const metadata = isObject(item) && isObject(item.metadata) ? item.metadata : {}
    const labels = isObject(metadata.labels) ? metadata.labels : {}
    const of = Object.hasOwn(labels, egressOfLabel) ? labels[egressOfLabel] : undefined
    if (typeof of === 'string' && of !== '' && !names.includes(of)) names.push(of)
  }
  return E.right(names)
}

const create = (spec: BottleSpec, host: HostFacts, inGuest: GuestStep): Step[] => {
  const door = doorOf(spec)
  return [
    ...(door === null ? [] : doorSteps(spec, door, (host.egress ?? unreadEgressFacts).proxyScript)),
    // Always made, even empty, so that `down` and undo treat every bottle alike.
    step(`create the Secret ${secretName(spec)}, its values from the host env on stdin`, kubectl(spec, 'create', '-f', '-'), {
      stdin: {
        _tag: 'json',
        document: secretManifest(spec),
        secrets: spec.secrets.map((k) => ({ path: ['stringData', k], secret: k })),
        launchId: [launchIdSlot],
      },
      undo: [deleteOwn(spec, 'secret', `the Secret ${secretName(spec)}`)],
    }),
    // `create`, not `apply`: apply would take over a Pod of that name that another run (or anyone)
    // made, and this run's undo could then not tell it from its own. create fails (AlreadyExists).
    step(`create the Pod ${spec.name}`, kubectl(spec, 'create', '-f', '-'), {
      stdin: { _tag: 'json', document: podManifest(spec), secrets: [], launchId: [launchIdSlot] },
      undo: [deleteOwn(spec, 'pod', `the Pod ${spec.name}`)],
    }),
    step(`wait until the Pod is ready (at most ${readyTimeout})`, kubectl(spec, 'wait', '--for=condition=Ready', `pod/${spec.name}`, `--timeout=${readyTimeout}`)),
    // As on smolvm: runuser would fail only at the first command as the user, with exit 1.
    userCheck(spec, inGuest),
    inGuest(`make the workdir ${spec.workdir} for ${spec.user}`, ['sh', '-c', makeWorkdirScript, 'bottle', spec.workdir, spec.user]),
  ]
}

/** Which cluster and namespace: with no context, whatever kubectl's current context is at run time. */
const where = (scope: ClusterScope): string =>
  `cluster: ${scope.context === null ? "kubectl's current context" : `context ${show(scope.context)}`}, ${scope.namespace === null ? "the context's default namespace" : `namespace ${scope.namespace}`}`

export const kubernetes: Backend = {
  name: 'kubernetes',
  guestOutlivesClient: true,
  // kubectl's own failures (NotFound, a completed Pod, no cluster) exit 1 (checkErr).
  liveCheck: (spec) => ({
    codes: [1],
    step: step(`check that the Pod ${spec.name} is running`, kubectl(spec, 'get', 'pod', spec.name, '-o', 'jsonpath={.status.phase}')),
    running: 'Running',
  }),
  binary: 'kubectl',
  install: 'install kubectl (https://kubernetes.io/docs/tasks/tools/) and give it a kubeconfig context for your cluster',
  // Only a cluster could tell whether it is usable; kubectl on PATH is what can be seen.
  unusable: ({ onPath }) => (onPath('kubectl') ? null : 'kubectl is not on PATH'),
  // Never auto-detected, and `ls` without -b does not list it either: kubectl is on many laptops
  // with a production cluster as its current context, and a bottle must not land there, nor
  // bottle talk to it, because nothing else was installed. It is chosen with -b or `backend:` only.
  autoDetected: false,
  clusterScoped: true,
  checkSpec,
  defaultImage: 'node:22',
  // No host directory is bound: launch makes the workdir in the Pod, and copies the repository
  // in (workspace: copy, the default here; src/workspace.ts).
  bindsWorkdir: false,
  promptPath: () => '/opt/bottle/system-prompt.md',
  create,
  ownProxy: {
    relayStart: (spec) => relayStartArgvTo({ _tag: 'service env', ...serviceEnv(spec) }),
    probe: probeArgv(defaultDirectTargets, 'pod'),
    remove: removeDoor,
    leftovers: removeLeftovers,
    list: listDoors,
    parseList: parseDoors,
  },
  exec: (spec, intent) => {
    // Pushed word by word: a launch frames eight guest steps here (see docker's exec).
    const framing = kubectl(spec, 'exec')
    if (intent.stdin) framing.push('-i')
    if (intent.tty) framing.push('-t')
    framing.push('-c', containerName, spec.name, '--', 'runuser', '-u', intent.user, '--', 'env')
    // runuser without -l keeps the env, so the Pod's secrets are there; a step meant to run
    // without them (plumbing) drops them here.
    for (const k of spec.secrets) if (!intent.secrets.includes(k)) framing.push('-u', k)
    framing.push(`HOME=${intent.home}`, `USER=${intent.user}`)
    for (const [k, v] of intent.env) framing.push(`${k}=${v}`)
    // By path: env has just set the user's PATH, which need not lead to a shell.
    framing.push('/bin/sh', '-c', cdScript, 'bottle', intent.cwd)
    // kubectl needs the host's KUBECONFIG, HOME and PATH (auth plugins); no secret goes to it.
    return { framing, env: inheritEnv }
  },
  copyIn,
  // Pod first: it uses the Secret. `--ignore-not-found` makes a missing object a success.
  down: (spec) => [deletePod(spec), deleteSecret(spec)],
  list: (host) => [
    step('list the Pods bottle created', kubectl(host.cluster, 'get', 'pods', '-l', `${managedLabel}=true`, '-o', 'json'), { stdio: 'capture' }),
  ],
  ...listingReader((stdout) => parsePods(stdout)),
  secretsAtLaunch: true,
  notes: (op, spec, host) => {
    const notes = [info(where(spec ?? host.cluster))]
    if (op === 'launch')
      notes.push(info('no host directory is shared with the cluster: launch makes the workdir in the Pod (workspace: copy, the default here, then copies your repository into it)'))
    if ((op === 'agent' || op === 'exec' || op === 'shell' || op === 'resume') && spec !== null && spec.secrets.length > 0)
      notes.push(info("secrets reach the command from the Pod's env (the Secret made at launch): to change them, run down and launch again"))
    if (op === 'cp' || (op === 'launch' && spec?.prompt !== null)) notes.push(info('kubectl cp needs tar in the container image'))
    if (op === 'launch' && spec?.network.mode === 'egress') {
      notes.push(info(`the allow-list is enforced by the egress proxy Pod ${proxyName(spec)} (image ${proxyImage}) and two NetworkPolicies; a NetworkPolicy holds only where the cluster's network plugin enforces it (Calico, Cilium and others do, some do not): the probe at the end of launch checks it, and the launch fails and is undone if it does not hold`))
      notes.push(info(`the proxy logs each decision: kubectl logs ${proxyName(spec)}; the kubelet restarts it, no later op does`))
    }
    return notes
  },
}

// -------------------------------------------------------------------------------------------------
// ls: `kubectl get pods -l dev.bottle.managed=true -o json`
// -------------------------------------------------------------------------------------------------

type JsonObject = Readonly<Record<string, unknown>>

const isObject = (x: unknown): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x)

/** RFC 3339 as the API server writes metadata.creationTimestamp: `2026-05-01T12:34:56Z`. */
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

export const parseRfc3339 = (text: unknown): number | null => {
  if (typeof text !== 'string' || !rfc3339.test(text)) return null
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? null : ms
}

/**
 * A List of Pods (`{"kind":"List","items":[…]}`). Per Pod: metadata.name (what `delete pod`
 * takes), status.phase lower-cased (`terminating` once a delete has begun, as kubectl get shows
 * it), metadata.creationTimestamp, the `bottle` container's image, the spec hash from a label and
 * the spec record from an annotation (see podMetadata).
 */
const parsePods = (stdout: string): E.Either<ListingError, ParsedListing> => {
  const text = stdout.trim()
  if (text === '') return E.right({ rows: [], skipped: [] })
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return E.left(listingError(`kubectl get pods -o json printed something that is not JSON: ${show(text.slice(0, 80))}`))
  }
  if (!isObject(data) || !Array.isArray(data.items))
    return E.left(listingError('kubectl get pods -o json printed JSON that is not a list of Pods (no items array)'))
  const rows: BottleRow[] = []
  const skipped: string[] = []
  for (const [i, item] of (data.items as unknown[]).entries()) {
    const row = parsePod(item, `kubectl get pods -o json: item ${i + 1}`)
    if (E.isLeft(row)) skipped.push(`${row.left}; skipped it`)
    else if (row.right !== null) rows.push(row.right)
  }
  return E.right({ rows, skipped })
}

/** One Pod of the List: a row, null for a Pod that is not bottle's, or why it cannot be read. */
const parsePod = (item: unknown, where: string): E.Either<string, BottleRow | null> => {
  if (!isObject(item)) return E.left(`${where} is not a JSON object`)
  const str = (o: JsonObject, key: string): string | null => {
    const v = Object.hasOwn(o, key) ? o[key] : undefined
    return typeof v === 'string' && v !== '' ? v : null
  }
  const rawMeta = Object.hasOwn(item, 'metadata') ? item.metadata : undefined
  const named = isObject(rawMeta) && str(rawMeta, 'name') !== null ? ` (${show((str(rawMeta, 'name') ?? '').slice(0, 80))})` : ''
  const at = `${where}${named}`
  /** An object-valued field; absent or null reads as empty. `what` is the phrase for the error. */
  const part = (o: JsonObject, key: string, what: string): E.Either<string, JsonObject> => {
    const v = Object.hasOwn(o, key) ? o[key] : undefined
    return v === undefined || v === null ? E.right({}) : isObject(v) ? E.right(v) : E.left(`${at} has ${what} not an object`)
  }
  // Each part is an object (or absent); the first that is not is the error, in this order.
  const parts = pipe(
    part(item, 'metadata', 'metadata that is'),
    E.flatMap((metadata) =>
      sequenceS(E.Apply)({
        metadata: E.right(metadata),
        labels: part(metadata, 'labels', 'labels that are'),
        annotations: part(metadata, 'annotations', 'annotations that are'),
        status: part(item, 'status', 'a status that is'),
        podSpec: part(item, 'spec', 'a spec that is'),
      })),
  )
  return pipe(parts, E.flatMap(({ metadata, labels, status, podSpec }): E.Either<string, BottleRow | null> => {
    // The selector asked kubectl for these only; a stand-in or a proxy may not filter.
    if (str(labels, managedLabel) !== 'true') return E.right(null)
    const name = str(metadata, 'name')
    if (name === null) return E.left(`${where} has no name`)
    const phase = Object.hasOwn(status, 'phase') ? status.phase : undefined
    if (phase !== undefined && typeof phase !== 'string') return E.left(`${at} has a status.phase that is not a string`)
    const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObject) : []
    const container = containers.find((c) => c.name === containerName) ?? containers[0]
    return E.right({
      name,
      backend: 'kubernetes',
      state: str(metadata, 'deletionTimestamp') !== null ? 'terminating' : (phase || 'Unknown').toLowerCase(),
      createdAt: parseRfc3339(metadata.creationTimestamp),
      image: container === undefined ? null : str(container, 'image'),
      specHash: str(labels, specHashLabel),
      spec: null,
    })
  }))
}
