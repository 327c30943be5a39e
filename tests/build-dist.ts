/**
 * vitest global setup: builds dist/bottle.js once before any test file runs, so the tests that
 * spawn the real executable never run a stale or missing build (`npx vitest run` alone is enough).
 * Its teardown fails the run if the tests left egress proxies running (tests/leftover-proxies.ts).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { leftoverMessage, proxiesOf } from './leftover-proxies.js'

export default function setup(): () => Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' })
  const script = `${root.replace(/\/$/, '')}/dist/egress-proxy.js`
  // Proxies of an earlier run (or of a bottle someone launched by hand) are not this run's.
  const before = new Set(proxiesOf(script).map((p) => p.pid))
  return async () => {
    // A proxy being stopped by a test's last down may take a moment to go.
    let left = proxiesOf(script).filter((p) => !before.has(p.pid))
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      left = left.filter((p) => proxiesOf(script).some((q) => q.pid === p.pid))
    }
    if (left.length === 0) return
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGTERM')
      } catch {
        // gone meanwhile
      }
    }
    // The run fails (vitest exits 0 after an error thrown here, so the exit code is set instead).
    process.exitCode = 1
    process.stderr.write(`\nbottle tests: ${leftoverMessage(left)}\n`)
  }
}
