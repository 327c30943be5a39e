#!/usr/bin/env node
// dist/bottle.js, the `bottle` executable (copied there by scripts/build.mjs): runs the CLI
// bundle, dist/cli.js, with V8's code cache for it, dist/cli.js.cache, made at build time by a
// run of the bundle; and the bundles the CLI requires later (dist/spawn.js, the interpreter, when
// it runs a plan; dist/dash.js) each with its own cache when the build made one. Compiling the 140 KiB CLI bundle is a fifth of `bottle
// plan`'s start-up; with the cache V8 reads the compiled code back instead. Node 20 has no
// module.enableCompileCache, so a bundle goes through vm.Script with cachedData, wrapped as node
// wraps a CommonJS file.
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
 * Compiles dist/NAME.js with its code cache if there is one. V8 checks a cache against its own
 * version and flags and the source's length, not its text: a cache never meets another build's
 * bundle because one build writes both, into a dist/ it has emptied first.
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
const loaded = {}

/**
 * The require a bundle is run with. A sibling bundle (`./spawn.js`, `./dash.js`: the bundles
 * require each other by such names, scripts/build.mjs) is compiled with its cache the first time,
 * and run once: the dashboard and the CLI then share one interpreter. Anything else is node's.
 */
const requireFromBundle = (id) => {
  const sibling = /^\.\/([a-z-]+)\.js$/.exec(id)?.[1]
  if (sibling === undefined) return require(id)
  if (!Object.hasOwn(loaded, sibling)) loaded[sibling] = run((compiled[sibling] = compileBundle(sibling, readCache(sibling))))
  return loaded[sibling]
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
