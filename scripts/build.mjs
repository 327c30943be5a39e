// Bundles the CLI into dist/ (or the directory given as the first argument, for tests that must
// not race over dist/): one entry file plus lazily loaded chunks (the manifest parser and the
// interpreter load only when needed), so `bottle plan` starts fast.
import { build } from 'esbuild'
import { chmodSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const outdir = process.argv[2] ?? 'dist'
rmSync(outdir, { recursive: true, force: true })
await build({
  entryPoints: { bottle: 'src/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __bottleRequire } from "node:module"; const require = __bottleRequire(import.meta.url);' },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
})
chmodSync(join(outdir, 'bottle.js'), 0o755)
