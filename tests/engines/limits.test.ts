/**
 * Limits enforced on the real docker engine and podman (scripts/test-engines.sh; skipped with the
 * reason when an engine is not there). Not the argv: what the kernel does to the guest. These
 * hosts have cgroup v1, where the engines write pids.max, memory.limit_in_bytes and
 * cpu.cfs_quota_us for the container.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type EngineName, client, enginesRequired, findEngine } from './engines.js'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'bottle.js')

const suite = (engineName: EngineName): void => {
  const found = findEngine(engineName)
  if (typeof found === 'string') {
    if (enginesRequired)
      it(`${engineName} is required (BOTTLE_REQUIRE_ENGINES=1) but ${found}`, () => {
        throw new Error(found)
      })
    else it.skip(`${engineName}: skipped, ${found}`, () => {})
    return
  }
  const engine = found
  const root = mkdtempSync(join(tmpdir(), `bottle-limits-${engineName}-`))
  const ws = join(root, 'ws')
  mkdirSync(ws)
  const name = `bt-${randomBytes(3).toString('hex')}-lim`
  const env = { ...(process.env as Record<string, string>), ...engine.clientEnv, XDG_STATE_HOME: join(root, 'state') }
  const bottle = (args: readonly string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: ws, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  /**
   * How many tasks the container's pids cgroup holds now, read on the host (cgroup v1 here): its
   * init's line in /proc/PID/cgroup names the cgroup. Read outside the container, since an exec
   * into a full cgroup is the thing that fails.
   */
  const pidsNow = (): number => {
    const pid = client(engine, ['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim()
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:pids:/.test(l)) ?? ''
    return Number(readFileSync(`/sys/fs/cgroup/pids${line.replace(/^\d+:pids:/, '')}/pids.current`, 'utf8'))
  }
  /**
   * Waits until the cgroup is down to `idle` tasks. A shell that cannot fork exits at once and
   * leaves the sleepers it did start running, reparented to the container's init, until their
   * sleep ends; an exec meanwhile finds the cgroup full. The engine's exec starts `runc init`
   * inside the container's cgroup, and runc init (Go) needs several tasks of its own: with one
   * left it dies, and podman's exec exits 255 with runc's "read init-p: connection reset by peer"
   * (seen with podman 4.3.1 and runc 1.1.5 here, within the sleepers' 2 s, in most runs; docker's
   * slower exec path mostly started after they were gone).
   */
  const drained = (idle: number): void => {
    const until = Date.now() + 20_000
    while (pidsNow() > idle) {
      if (Date.now() > until) throw new Error(`the container still has ${pidsNow()} tasks after 20 s`)
      spawnSync('sleep', ['0.2'])
    }
  }

  afterAll(() => {
    client(engine, ['rm', '-f', name])
    rmSync(root, { recursive: true, force: true })
  }, 180_000)

  describe(`limits on the real ${engineName}`, { timeout: 240_000 }, () => {
    it('launch applies the manifest limits and a flag on top of them', () => {
      writeFileSync(join(ws, 'bottle.yaml'), [`backend: ${engineName}`, 'bottles:', `  ${name}:`, `    image: ${engine.image}`, '    network: open', '    limits: { memory: 64m, pids: 40 }', ''].join('\n'))
      expect(bottle(['run', 'launch', name, '-b', engineName, '--cpus', '0.5', '-q'])).toMatchObject({ status: 0, stderr: '' })
      const cg = bottle(['run', 'exec', name, 'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'])
      expect(cg.status).toBe(0)
      const [pids, memory, quota, period] = cg.stdout.trim().split('\n').map(Number)
      expect({ pids, memory, cpus: (quota ?? 0) / (period ?? 1) }).toStrictEqual({ pids: 40, memory: 64 * 1024 ** 2, cpus: 0.5 })
    })

    it('a process past the pids limit fails to start; within it, all start', () => {
      // What the idle container holds: its init and `sleep infinity`.
      const idle = pidsNow()
      expect(idle).toBeLessThanOrEqual(3)
      // 60 sleepers cannot fit under 40 processes; 5 can.
      const fork = (n: number) => bottle(['run', 'exec', name, `for i in $(seq ${n}); do sleep 2 & done; echo started; wait`])
      const over = fork(60)
      expect(over.stderr).toMatch(/fork/i)
      expect(over.status).not.toBe(0)
      expect(over.stdout).not.toContain('started')
      // The limit held: the cgroup filled to it, no further.
      expect(pidsNow()).toBeLessThanOrEqual(40)
      drained(idle)
      expect(fork(5)).toMatchObject({ status: 0, stdout: 'started\n' })
    })

    it('memory past the limit is killed (exit 137, SIGKILL from the OOM killer); under it, the program runs', () => {
      const allocate = (mib: number) =>
        bottle(['run', 'exec', name, `node -e 'const a = []; for (let i = 0; i < ${mib}; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log("allocated")'`])
      const over = allocate(200)
      expect(over.status).toBe(137)
      expect(over.stdout).not.toContain('allocated')
      expect(allocate(8)).toMatchObject({ status: 0, stdout: 'allocated\n' })
    })

    it('the limits are in the spec hash: a manifest with other limits is drift, and update says it needs a relaunch', () => {
      writeFileSync(join(ws, 'bottle.yaml'), [`backend: ${engineName}`, 'bottles:', `  ${name}:`, `    image: ${engine.image}`, '    network: open', '    limits: { memory: 128m, pids: 40, cpus: 0.5 }', ''].join('\n'))
      const ls = bottle(['run', 'ls', '-b', engineName])
      expect(ls.stdout).toMatch(new RegExp(`${name}.*limits`))
      const upd = bottle(['plan', 'update', name, '-b', engineName])
      expect(upd.status).toBe(0)
      expect(upd.stdout).toContain('limits cpus=0.5 memory=64m pids=40 → cpus=0.5 memory=128m pids=40 (relaunch to apply)')
    })
  })
}

suite('docker')
suite('podman')
