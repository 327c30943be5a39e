// Bundles the CLI into dist/ (or the directory given as the first argument, for tests that must
// not race over dist/): dist/cli.js, one file with all that `bottle plan` needs (the manifest
// reader included: its YAML parser is a few KiB of our own), and beside it dist/spawn.js (the
// interpreter with execa), which it imports only when it runs a plan. Minified, so `bottle plan`
// starts fast: start-up is mostly the time node spends loading and parsing modules, and each extra
// module file costs too, so the lazy part is a separate bundle rather than shared chunks.
// dist/bottle.js, the executable, is scripts/bottle-loader.cjs: it runs dist/cli.js with V8's code
// cache for it, dist/cli.js.cache, which the end of this script makes by a run of the bundle.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

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

// Further parts of execa bottle never uses: IPC with a node subprocess (sendMessage, ipcInput, a
// graceful cancelSignal), subprocess.pipe(), and subprocess.readable()/writable()/duplex()/
// iterable(). Each entry point into them becomes what the real one does when the feature is not
// asked for, and a clear error if it ever is; node:v8 (IPC's serializer) is no longer loaded.
// Together a quarter of the interpreter bundle, which node compiles on every `bottle run`.
const unused = (what) => `throw new Error('bottle built execa without ${what} (scripts/build.mjs)')`
const execaStubs = {
  'ipc/buffer-messages.js': [
    `export const waitForIpcOutput = async ({ ipc, ipcOutput }) => { if (ipc) ${unused('IPC')}; return ipcOutput }`,
    'export const getBufferedIpcOutput = async (promise, ipcOutput) => { await Promise.allSettled([promise]); return ipcOutput }',
  ],
  'ipc/ipc-input.js': [
    `export const validateIpcInputOption = ({ ipcInput }) => { if (ipcInput !== undefined) ${unused('ipcInput')} }`,
    `export const sendIpcInput = async (subprocess, ipcInput) => { if (ipcInput !== undefined) ${unused('ipcInput')} }`,
  ],
  'ipc/graceful.js': [`export const sendAbort = () => { ${unused('gracefulCancel')} }`],
  'ipc/methods.js': [
    `export const addIpcMethods = (subprocess, { ipc }) => { if (ipc) ${unused('IPC')} }`,
    // execa's own exports for a subprocess that is itself run by execa with IPC.
    `const none = () => { ${unused('IPC')} }`,
    'export const getIpcExport = () => ({ sendMessage: none, getOneMessage: none, getEachMessage: none, getCancelSignal: none })',
  ],
  'pipe/setup.js': [`export const pipeToSubprocess = () => { ${unused('subprocess.pipe()')} }`],
  'convert/add.js': ['export const addConvertedStreams = () => {}'],
}
const execaWithoutUnusedParts = {
  name: 'execa-without-unused-parts',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/execa\/lib\/(ipc|pipe|convert)\/[a-z-]+\.js$/ }, (args) => {
      const stub = execaStubs[args.path.split('/execa/lib/')[1]]
      return stub === undefined ? undefined : { contents: stub.join('\n') + '\n', loader: 'js' }
    })
  },
}

// The CLI imports the interpreter at run time (`import('./spawn.js')`, from src/ or src/cli/). In
// the bundle that becomes a `require` of the sibling file built below, run the first time the
// import is reached: an import() would start node's ES module loader for that one file.
const lazySpawn = {
  name: 'lazy-spawn',
  setup(b) {
    // (dash.js, the dashboard's bundle, is loaded the same way by `bottle dash`.)
    b.onResolve({ filter: /^(\.\.?\/)+(spawn|dash)\.js$/ }, (args) =>
      args.kind === 'dynamic-import'
        ? { path: args.path.replace(/^.*\//, ''), namespace: 'lazy-spawn' }
        : args.namespace === 'lazy-spawn'
          ? { path: args.path, external: true }
          : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'lazy-spawn' }, (args) => ({ contents: `module.exports = require('./${args.path}')`, loader: 'js' }))
  },
}

// `await import('node:readline')` (a built-in loaded only when needed) stays lazy as a `require`
// run when the import is reached, without starting the ES module loader.
const builtinImportsAsRequires = {
  name: 'builtin-imports-as-requires',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin-require' } : undefined))
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)})`, loader: 'js' }))
  },
}

const outdir = process.argv[2] ?? 'dist'
rmSync(outdir, { recursive: true, force: true })
// CommonJS, not ES modules: an ES module entry starts node's ES module loader (URL resolution, a
// module map, fs/promises), about a sixth of `bottle plan`'s start-up; a CommonJS file does not.
// Sources stay ES modules (tsc, vitest and tsx read them as such); dist/package.json makes the
// bundles' .js files CommonJS. The one use of import.meta (a createRequire base) gets the file's URL.
const common = {
  bundle: true,
  minify: true,
  // A crash's stack trace reads through the source map: `node --enable-source-maps dist/bottle.js …`.
  // (esbuild's keepNames would keep names in the bundle itself, at about 1 ms of start-up.)
  sourcemap: 'linked',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // import.meta.url (a createRequire base, rarely reached) is worked out when read, not at each start.
  // import.meta.dirname is the bundle's own __dirname (dist/): src/host.ts finds the proxy bundle by it.
  define: { 'import.meta.url': '__bottleModule.url', 'import.meta.dirname': '__dirname' },
  banner: { js: 'const __bottleModule = { get url() { return require("node:url").pathToFileURL(__filename).href } };' },
  logLevel: 'warning',
}
await build({
  ...common,
  entryPoints: { cli: 'src/main.ts' },
  outdir,
  plugins: [fpTsAsEsModules, lazySpawn, builtinImportsAsRequires],
})
await build({
  ...common,
  entryPoints: { spawn: 'src/spawn.ts' },
  outdir,
  plugins: [fpTsAsEsModules, execaWithoutVerboseLog, execaWithoutUnusedParts, builtinImportsAsRequires],
})
await build({
  ...common,
  entryPoints: { dash: 'src/dash.ts' },
  outdir,
  plugins: [fpTsAsEsModules, lazySpawn, builtinImportsAsRequires],
})
// The egress proxy (src/egress/proxy-main.ts): its own program, run by plan steps, never loaded by bottle.js.
await build({ ...common, entryPoints: { 'egress-proxy': 'src/egress/proxy-main.ts' }, outdir, plugins: [fpTsAsEsModules] })
writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n')
copyFileSync('scripts/bottle-loader.cjs', join(outdir, 'bottle.js'))
chmodSync(join(outdir, 'bottle.js'), 0o755)

/**
 * V8's code caches for dist/cli.js and dist/spawn.js, made from a run of them: a cache then holds
 * the functions a plan compiles, not only the top level (a run-made cache saves twice what a
 * compile-only one does). The training run plans `agent` and `exec` on a launched docker bottle
 * (its launch record written from a `plan launch`, as the launch would) from a small bottle.yaml,
 * in a scratch directory of its own, and runs the exec against a stand-in docker that exits 0;
 * stdout goes nowhere. A failed training leaves no cache, and dist/bottle.js then compiles the
 * bundles as plain `require` would.
 */
const trainCodeCache = (dist) => {
  const scratch = mkdtempSync(join(tmpdir(), 'bottle-build-'))
  try {
    const ws = join(scratch, 'ws')
    mkdirSync(ws)
    // demo has the default network (the egress door), as most bottles do: the plans are made for
    // it, so the cache holds the door's code too. The run is made on open, since an egress
    // bottle's exec would start its proxy for real (and leave it running).
    writeFileSync(join(ws, 'bottle.yaml'), 'backend: docker\nbottles:\n  demo:\n    env:\n      CI: "1"\n  open:\n    network: open\n    env:\n      CI: "1"\n')
    const env = { PATH: `${join(scratch, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: scratch, XDG_STATE_HOME: join(scratch, 'state') }
    const bottle = join(dist, 'bottle.js')
    for (const name of ['demo', 'open']) {
      const launch = JSON.parse(execFileSync(process.execPath, [bottle, 'plan', 'launch', name, '--format', 'json'], { cwd: ws, env, encoding: 'utf8' }))
      // The launch plan's record step is `sh -c SCRIPT sh DIR`, the record on its stdin.
      const record = launch.steps.find((s) => s.title.startsWith('record the spec the bottle is launched with'))
      const dir = record?.argv[4]
      if (dir === undefined || record.stdin._tag !== 'text') throw new Error('no launch record step in the launch plan')
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      writeFileSync(join(dir, 'record.json'), record.stdin.text, { mode: 0o600 })
    }
    // A stand-in docker that answers every call with exit 0, for one `run exec` through the
    // interpreter's bundle (execa), which gets its own cache.
    const bin = join(scratch, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    const train = `
      const { compileBundle, run, compiled } = require(${JSON.stringify(bottle)})
      compiled.cli = compileBundle('cli')
      for (const args of [['plan', 'agent', 'demo', '--no-tty'], ['plan', 'exec', 'demo', 'true'], ['run', 'exec', 'open', 'true', '-q']]) {
        process.argv = [process.execPath, ${JSON.stringify(bottle)}, ...args]
        run(compiled.cli)
      }
      process.on('exit', (code) => {
        if (code !== 0) return
        for (const name of ['cli', 'spawn'])
          require('node:fs').writeFileSync(require('node:path').join(${JSON.stringify(dist)}, name + '.js.cache'), compiled[name].script.createCachedData())
      })
    `
    execFileSync(process.execPath, ['-e', train], { cwd: ws, env, stdio: ['ignore', 'ignore', 'inherit'] })
  } catch (e) {
    console.warn(`build: no code cache for ${dist}/cli.js (bottle starts without it): ${e.message.split('\n')[0]}`)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  for (const name of ['cli', 'spawn']) if (!existsSync(join(dist, `${name}.js.cache`))) console.warn(`build: no code cache for ${dist}/${name}.js`)
}
trainCodeCache(resolve(outdir))
