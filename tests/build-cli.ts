/**
 * vitest globalSetup: build dist/bottle.js once per run, so tests that run the real CLI (the
 * bwrap sandboxes) test the current source even under a bare `npx vitest run`.
 */
import { execFileSync } from 'node:child_process'

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
}
