/**
 * A backend is one source file, one kit and one line in the index: these check that the rest of
 * bottle reaches backends only through the Backend value, and that every backend has its kit.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backends, detectionOrder, fallbackBackend } from '../../src/backends/index.js'
import { backendNames } from '../../src/plan/types.js'
import { kits } from './kits.js'

const srcRoot = join(import.meta.dirname, '../../src')

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])

/** The code of a TypeScript file without its comments (header examples may name any backend). */
const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')

describe('a backend is one file, one kit and one line in the index', () => {
  it('every backend in the index is keyed by its own name, and has exactly one kit', () => {
    expect(Object.entries(backends).map(([key, b]) => [key, b.name])).toStrictEqual(backendNames.map((n) => [n, n]))
    expect(Object.keys(kits).sort()).toStrictEqual([...backendNames].sort())
    for (const name of backendNames) expect(kits[name].backend).toBe(backends[name])
  })

  it('auto-detection tries the backends that allow it, in the index order, and falls back to the last', () => {
    expect(detectionOrder).toStrictEqual(Object.values(backends).filter((b) => b.autoDetected).map((b) => b.name))
    expect(detectionOrder).not.toContain('kubernetes')
    expect(fallbackBackend.name).toBe(detectionOrder.at(-1))
  })

  it('no code outside src/backends/ names a backend: it asks the Backend value', () => {
    const quoted = new RegExp(`['"\`](${[...backendNames, 'kubectl'].join('|')})['"\`]`)
    const offenders = sourceFiles(srcRoot)
      .filter((f) => !relative(srcRoot, f).startsWith('backends/'))
      .flatMap((f) =>
        withoutComments(readFileSync(f, 'utf8'))
          .split('\n')
          .filter((line) => quoted.test(line))
          .map((line) => `${relative(srcRoot, f)}: ${line.trim()}`))
      // The one list of names: the plan model and the manifest schema read it without loading a backend.
      .filter((l) => !l.startsWith('plan/types.ts: export const backendNames'))
    expect(offenders).toStrictEqual([])
  })
})
