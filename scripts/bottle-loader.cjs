#!/usr/bin/env node
// dist/bottle.js, the `bottle` executable (copied there by scripts/build.mjs): runs the CLI
// bundle, dist/cli.js, with V8's code cache for it, dist/cli.js.cache, made at build time by a
// run of the bundle; and the interpreter's bundle, dist/spawn.js, which the CLI requires when it
// runs a plan, with dist/spawn.js.cache. Compiling the 140 KiB CLI bundle is a fifth of `bottle
// plan`'s start-up; with the cache V8 reads the compiled code back instead. Node 20 has no module.enableCompileCache,
// so the bundle goes through vm.Script with cachedData, wrapped as node wraps a CommonJS file.
// V8 refuses a cache made by another node or V8 version, or with other V8 flags
// (script.cachedDataRejected): it then compiles the source itself, as plain `require` would.
'use strict'
// CommonJS on purpose: an ES module entry would start node's ES module loader (scripts/build.mjs).
/* eslint-disable @typescript-eslint/no-require-imports */
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { Script } = require('node:vm')

/** The bundle wrapped as a CommonJS function: the build's training run compiles the same text. */
const wrapped = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

/**
 * Compiles dist/NAME.js with its code cache if there is one. The build checks that the cache
 * belongs to this very bundle (both are written by the one build, which empties dist/ first).
 */
const compileBundle = (name, cachedData) => {
  const filename = join(__dirname, `${name}.js`)
  const script = new Script(wrapped(readFileSync(filename, 'utf8')), { filename, cachedData })
  return { script, filename }
}

const readCache = (name) => {
  try {
    return readFileSync(join(__dirname, `${name}.js.cache`))
  } catch {
    return undefined
  }
}

/** The bundles compiled so far, by name: the build's training run makes their caches from these. */
const compiled = {}

/** The interpreter's bundle, compiled and run the first time the CLI requires it. */
let spawnExports
const requireFromBundle = (id) => {
  if (id !== './spawn.js') return require(id)
  if (spawnExports === undefined) spawnExports = run((compiled.spawn = compileBundle('spawn', readCache('spawn'))))
  return spawnExports
}

/** Runs a compiled bundle as node runs a CommonJS module: its own exports, our require. */
const run = ({ script, filename }) => {
  const mod = { exports: {} }
  script.runInThisContext().call(mod.exports, mod.exports, requireFromBundle, mod, filename, __dirname)
  return mod.exports
}

if (require.main === module) {
  // A stack trace read through the source map (node --enable-source-maps, see scripts/build.mjs)
  // needs node's own loader, which registers the map: vm.Script does not.
  if (process.sourceMapsEnabled === true || process.execArgv.includes('--enable-source-maps')) require('./cli.js')
  else run((compiled.cli = compileBundle('cli', readCache('cli'))))
} else module.exports = { compileBundle, run, compiled }
