// Bundles the CLI into dist/ (or the directory given as the first argument, for tests that must
// not race over dist/): dist/bottle.js, one file with all that `bottle plan` needs, and beside it
// dist/spawn.js (the interpreter with execa) and dist/manifest.js (yaml), which it imports only
// when it runs a plan or reads a manifest. Minified, so `bottle plan` starts fast: start-up is
// mostly the time node spends loading and parsing modules, and each extra module file costs too,
// so the lazy parts are separate bundles rather than shared chunks.
import { build } from 'esbuild'
import { chmodSync, rmSync } from 'node:fs'
import { join } from 'node:path'

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

// `import { statSync } from 'node:fs'` in an ES module makes node build an ES facade of node:fs,
// which reads every export, streams included; `require` does not. Our own modules' imports of
// node built-ins therefore become requires (the banner defines `require`).
const builtinsAsRequires = {
  name: 'builtins-as-requires',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.importer.includes('/src/') ? { path: args.path, namespace: 'builtin-require' } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

// execa's verbose output (the `verbose` option, or NODE_DEBUG=execa) is a log bottle never asks
// for: its printer (log.js: colours, figures) and its end-of-run line (complete.js: pretty-ms)
// become no-ops in the interpreter bundle, a tenth of what that bundle loads. The rest of execa is
// the real thing (tests/interpret, tests/undo and tests/engines run against it).
const execaWithoutVerboseLog = {
  name: 'execa-without-verbose-log',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/execa\/lib\/verbose\/(log|complete)\.js$/ }, (args) => ({
      contents: args.path.endsWith('/log.js')
        ? 'export const verboseLog = () => {}\nexport const serializeVerboseMessage = (message) => String(message)\n'
        : 'export const logResult = () => {}\n',
      loader: 'js',
    }))
  },
}

// cli.ts imports these two at run time; in the bundle they are the sibling files built below.
const lazyBundles = {
  name: 'lazy-bundles',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/(spawn|bottle-spec\/manifest)\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: `./${args.path.split('/').at(-1)}`, external: true } : undefined,
    )
  },
}

const outdir = process.argv[2] ?? 'dist'
rmSync(outdir, { recursive: true, force: true })
const common = {
  bundle: true,
  minify: true,
  // A crash's stack trace reads through the source map: `node --enable-source-maps dist/bottle.js …`.
  // (esbuild's keepNames would keep names in the bundle itself, at about 1 ms of start-up.)
  sourcemap: 'linked',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __bottleRequire } from "node:module"; const require = __bottleRequire(import.meta.url);' },
  logLevel: 'warning',
}
await build({
  ...common,
  entryPoints: { bottle: 'src/main.ts' },
  outdir,
  plugins: [fpTsAsEsModules, builtinsAsRequires, lazyBundles],
})
await build({
  ...common,
  entryPoints: { spawn: 'src/spawn.ts', manifest: 'src/bottle-spec/manifest.ts' },
  outdir,
  plugins: [fpTsAsEsModules, builtinsAsRequires, execaWithoutVerboseLog],
})
chmodSync(join(outdir, 'bottle.js'), 0o755)
