/**
 * What docker, smolvm and kubectl print when they list, built by the tests from fields, and
 * stand-in `docker`/`smolvm` executables that print it and record their argv.
 *
 *   renderPs(format, [{ name: 'demo', state: 'running', … }])   // docker ps output for that --format
 *   renderMachines([{ name: 'demo', state: 'running', … }])      // smolvm machine ls --json output
 *   renderPods([{ name: 'demo', phase: 'Running', … }])          // kubectl get pods -o json output
 *   const s = standins(); s.reply('docker', 'ps', text); await main(['ls'], io(s.env)); s.calls()
 *
 * A stand-in is not the real tool: it plays the real output formats and exit codes described in
 * docs/backend-facts.md (from each tool's upstream source), nothing more.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// -------------------------------------------------------------------------------------------------
// docker ps --format TEMPLATE
// -------------------------------------------------------------------------------------------------

export interface Container {
  readonly name: string
  readonly state: string
  /** Whole seconds since the epoch, as the daemon keeps it. */
  readonly createdSec: number
  /** The client's zone: minutes east of UTC, and its abbreviation ('' for none). */
  readonly offsetMin: number
  readonly zone: string
  readonly image: string
  readonly labels: Readonly<Record<string, string>>
}

const two = (n: number): string => String(n).padStart(2, '0')

/** Go's time.Time.String() for a whole second: `2026-05-01 12:34:56 +0200 CEST`. */
export const goTimeString = (sec: number, offsetMin: number, zone: string): string => {
  const d = new Date((sec + offsetMin * 60) * 1000)
  const sign = offsetMin < 0 ? '-' : '+'
  const abs = Math.abs(offsetMin)
  const date = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`
  return `${date} ${time} ${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}${zone === '' ? '' : ` ${zone}`}`
}

const psField = (c: Container, field: string): string => {
  switch (field) {
    case 'Names':
      return c.name
    case 'State':
      return c.state
    case 'CreatedAt':
      return goTimeString(c.createdSec, c.offsetMin, c.zone)
    case 'Image':
      return c.image
    default:
      throw new Error(`the stand-in does not know the ps field .${field}`)
  }
}

/**
 * Evaluates the subset of Go templates bottle's ps format uses: `{{json .Field}}` and
 * `{{json (.Label "key")}}` (a missing label is ""), everything else literal. Reading the format
 * from the plan, rather than writing the expected keys here, is what tests the template itself.
 */
const psAction = /\{\{json (?:\.(\w+)|\(\.Label "([^"]*)"\))\}\}/g

export const renderPs = (format: string, containers: readonly Container[]): string => {
  // Checked on the format, not on a line: a label value may itself contain "{{".
  if (format.replace(psAction, '').includes('{{')) throw new Error(`the stand-in cannot evaluate ${format}`)
  return containers
    .map((c) => {
      const line = format.replace(psAction, (_m, field: string | undefined, label: string | undefined) =>
        JSON.stringify(field !== undefined ? psField(c, field) : (c.labels[label ?? ''] ?? '')),
      )
      return `${line}\n`
    })
    .join('')
}

// -------------------------------------------------------------------------------------------------
// smolvm machine ls --json
// -------------------------------------------------------------------------------------------------

export interface Machine {
  readonly name: string
  readonly state: string
  readonly createdSec: number
  readonly image: string | null
  /** Absent: a machine created without labels. */
  readonly labels?: Readonly<Record<string, string>>
}

/** The pretty array smolvm prints, with the fields bottle ignores too (vm_common.rs machine_status_json). */
export const renderMachines = (machines: readonly Machine[]): string =>
  `${JSON.stringify(
    machines.map((m) => ({
      name: m.name,
      state: m.state,
      cpus: 4,
      memory_mib: 8192,
      pid: m.state === 'running' ? 4242 : null,
      mounts: 1,
      ports: 0,
      created_at: m.createdSec,
      storage_gb: null,
      overlay_gb: null,
      image: m.image,
      entrypoint: [],
      cmd: [],
      ephemeral: false,
      gpu: false,
      gpu_vram_mib: null,
      restart_policy: 'never',
      restart_max_retries: 0,
      restart_count: 0,
      health_cmd: null,
      network: false,
      ...(m.labels === undefined ? {} : { labels: m.labels }),
    })),
    null,
    2,
  )}\n`

// -------------------------------------------------------------------------------------------------
// kubectl get pods -o json
// -------------------------------------------------------------------------------------------------

export interface Pod {
  readonly name: string
  /** status.phase: Pending, Running, Succeeded, Failed or Unknown. */
  readonly phase: string
  /** A delete has begun: metadata.deletionTimestamp is set (kubectl get shows "Terminating"). */
  readonly terminating: boolean
  readonly createdSec: number
  /** The `bottle` container's image. */
  readonly image: string
  /** Another container listed before `bottle` (a sidecar an admission webhook injected). */
  readonly sidecarFirst: boolean
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

/** RFC 3339 in UTC, whole seconds, as the API server writes a timestamp: `2026-05-01T12:34:56Z`. */
export const kubeTime = (sec: number): string => new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')

/**
 * The List that `kubectl get pods -o json` prints (4-space indent, as kubectl does), with the
 * fields bottle does not read too, so the parser is shown the whole shape.
 */
export const renderPods = (pods: readonly Pod[]): string =>
  `${JSON.stringify(
    {
      apiVersion: 'v1',
      items: pods.map((p, i) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...(Object.keys(p.annotations).length === 0 ? {} : { annotations: p.annotations }),
          creationTimestamp: kubeTime(p.createdSec),
          ...(p.terminating ? { deletionGracePeriodSeconds: 30, deletionTimestamp: kubeTime(p.createdSec + 60) } : {}),
          ...(Object.keys(p.labels).length === 0 ? {} : { labels: p.labels }),
          name: p.name,
          namespace: 'agents',
          resourceVersion: String(1000 + i),
          uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            ...(p.sidecarFirst ? [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0' }] : []),
            { command: ['sleep', 'infinity'], image: p.image, imagePullPolicy: 'IfNotPresent', name: 'bottle' },
          ],
          restartPolicy: 'Never',
          shareProcessNamespace: true,
        },
        status: {
          phase: p.phase,
          ...(p.phase === 'Pending' ? {} : { startTime: kubeTime(p.createdSec + 1), podIP: '10.244.0.7' }),
        },
      })),
      kind: 'List',
      metadata: { resourceVersion: '' },
    },
    null,
    4,
  )}\n`

// -------------------------------------------------------------------------------------------------
// stand-in executables
// -------------------------------------------------------------------------------------------------

/**
 * Each stand-in appends its argv to a log (NUL-terminated: the count, then each word, so any
 * word survives), then answers from files the test wrote: `<bin>-<verb>.out` on stdout, `.err` on
 * stderr, `.rc` as the exit code; a verb with no files prints nothing and exits 0 (like
 * `docker rm -f` and `smolvm machine stop`).
 */
export const standins = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-standins-'))
  const log = join(dir, 'calls.log')
  writeFileSync(log, '')
  for (const bin of ['docker', 'smolvm']) {
    // smolvm's verb is its second word (`machine ls`); docker's its first.
    const verb = bin === 'smolvm' ? '$2' : '$1'
    writeFileSync(
      join(dir, bin),
      `#!/bin/sh
{ printf '%s\\0' "$(($# + 1))" ${bin}; for a in "$@"; do printf '%s\\0' "$a"; done; } >>${JSON.stringify(log)}
base=${JSON.stringify(dir)}/${bin}-${verb}
[ -f "$base.out" ] && /bin/cat "$base.out"
[ -f "$base.err" ] && /bin/cat "$base.err" >&2
[ -f "$base.sleep" ] && /bin/sleep "$(/bin/cat "$base.sleep")"
[ -f "$base.rc" ] && exit "$(/bin/cat "$base.rc")"
exit 0
`,
    )
    chmodSync(join(dir, bin), 0o755)
  }
  return {
    dir,
    /**
     * PATH holds the stand-ins only (the real docker client may be installed elsewhere); bottle's
     * state root (launch records) is private to these stand-ins, never the user's.
     */
    env: { PATH: dir, XDG_STATE_HOME: join(dir, 'state') },
    /** Only `bins` on PATH: the others move to a directory that is not on it. */
    envWith: (bins: readonly ('docker' | 'smolvm')[]) => {
      const only = mkdtempSync(join(dir, 'path-'))
      for (const b of bins) writeFileSync(join(only, b), readFileSync(join(dir, b)), { mode: 0o755 })
      return { PATH: only, XDG_STATE_HOME: join(dir, 'state') }
    },
    /** What `bin verb` prints, its exit code, and how long it waits first (an engine that never answers). */
    reply: (bin: 'docker' | 'smolvm', verb: string, out: string, more: { err?: string; rc?: number; sleepMs?: number } = {}) => {
      writeFileSync(join(dir, `${bin}-${verb}.out`), out)
      if (more.err !== undefined) writeFileSync(join(dir, `${bin}-${verb}.err`), more.err)
      else rmSync(join(dir, `${bin}-${verb}.err`), { force: true })
      if (more.rc !== undefined) writeFileSync(join(dir, `${bin}-${verb}.rc`), String(more.rc))
      if (more.sleepMs !== undefined) writeFileSync(join(dir, `${bin}-${verb}.sleep`), String(more.sleepMs / 1000))
      else rmSync(join(dir, `${bin}-${verb}.sleep`), { force: true })
    },
    /** Every call so far: [bin, ...args]. */
    calls: (): string[][] => {
      const fields = readFileSync(log, 'utf8').split('\0').slice(0, -1)
      const out: string[][] = []
      for (let i = 0; i < fields.length;) {
        const n = Number(fields[i])
        out.push(fields.slice(i + 1, i + 1 + n))
        i += 1 + n
      }
      return out
    },
    clearCalls: () => writeFileSync(log, ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
