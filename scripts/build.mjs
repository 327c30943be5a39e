// Bundles the CLI into dist/: one entry file plus lazily loaded chunks (the manifest parser and
// the interpreter load only when needed), minified, so `bottle plan` starts fast: start-up is
// mostly the time node spends reading and parsing JavaScript.
import { build } from 'esbuild'
import { chmodSync, rmSync } from 'node:fs'

// fp-ts's default `lib/` build is CommonJS, which esbuild cannot tree-shake; its `es6/` build has
// the same modules as ES modules. Sources import `fp-ts/lib/…` (the only path Node and tsc resolve
// without an exports map); the bundle takes the ES module twin, a fifth of the size.
const fpTsAsEsModules = {
  name: 'fp-ts-es6',
  setup(b) {
    b.onResolve({ filter: /^fp-ts\/lib\// }, (args) =>
      b.resolve(args.path.replace('fp-ts/lib/', 'fp-ts/es6/'), { kind: args.kind, resolveDir: args.resolveDir }),
    )
  },
}

rmSync('dist', { recursive: true, force: true })
await build({
  entryPoints: { bottle: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  minify: true,
  // Minified names would make a crash's stack trace unreadable; keeping them costs a few bytes.
  keepNames: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [fpTsAsEsModules],
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __bottleRequire } from "node:module"; const require = __bottleRequire(import.meta.url);' },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
})
chmodSync('dist/bottle.js', 0o755)
