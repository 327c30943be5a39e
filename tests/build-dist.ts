/**
 * vitest global setup: builds dist/bottle.js once before any test file runs, so the tests that
 * spawn the real executable never run a stale or missing build (`npx vitest run` alone is enough).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' })
}
