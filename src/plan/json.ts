/**
 * Writes a `json` stdin (src/plan/types.ts): the document, with each secret slot cut out as a part
 * of its own, so that each reader fills it its own way — the interpreter with the value, the text
 * rendering with the name, the sh rendering with an awk call that reads the env.
 *
 *   jsonParts({ a: '', b: 1 }, [{ path: ['a'], secret: 'TOKEN' }])
 *   // [{ _tag: 'text', text: '{"a":' }, { _tag: 'secret', name: 'TOKEN' }, { _tag: 'text', text: ',"b":1}' }]
 *   fillJson(parts, (name) => env[name])   // '{"a":"the value","b":1}'
 *
 * With `indent`, the layout is JSON.stringify(document, null, indent)'s.
 */
import type { Json, JsonPath, SecretSlot } from './types.js'

export type JsonPart =
  | { readonly _tag: 'text'; readonly text: string }
  /** A JSON string holding the named host env var's value. */
  | { readonly _tag: 'secret'; readonly name: string }
  /** A JSON string holding the run's launch id (src/plan/types.ts, Stdin). */
  | { readonly _tag: 'launchId' }

const samePath = (a: JsonPath, b: JsonPath): boolean => a.length === b.length && a.every((k, i) => k === b[i])

/**
 * Splits the document at its secret slots and launch id slots. A slot that names no place in it
 * is a compiler bug.
 */
export const jsonParts = (document: Json, slots: readonly SecretSlot[], indent = 0, launchIdSlots: readonly JsonPath[] = []): JsonPart[] => {
  const parts: JsonPart[] = []
  let text = ''
  let filled = 0
  const flush = (): void => {
    if (text !== '') parts.push({ _tag: 'text', text })
    text = ''
  }
  const write = (v: Json, path: JsonPath, depth: number): void => {
    const slot = slots.find((s) => samePath(s.path, path))
    if (slot !== undefined) {
      flush()
      parts.push({ _tag: 'secret', name: slot.secret })
      filled++
      return
    }
    if (launchIdSlots.some((p) => samePath(p, path))) {
      flush()
      parts.push({ _tag: 'launchId' })
      filled++
      return
    }
    if (v === null || typeof v !== 'object') {
      text += JSON.stringify(v)
      return
    }
    const inner = indent > 0 ? `\n${' '.repeat(indent * (depth + 1))}` : ''
    const outer = indent > 0 ? `\n${' '.repeat(indent * depth)}` : ''
    // readonly arrays are not narrowed by Array.isArray; the cast only restores that.
    const entries: [string | number, Json][] = Array.isArray(v)
      ? (v as readonly Json[]).map((x, i) => [i, x])
      : Object.entries(v as { readonly [key: string]: Json })
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}']
    if (entries.length === 0) {
      text += open + close
      return
    }
    text += open
    entries.forEach(([k, x], i) => {
      text += `${i > 0 ? ',' : ''}${inner}`
      if (typeof k === 'string') text += `${JSON.stringify(k)}:${indent > 0 ? ' ' : ''}`
      write(x, [...path, k], depth + 1)
    })
    text += outer + close
  }
  write(document, [], 0)
  flush()
  if (filled !== slots.length + launchIdSlots.length) throw new Error('a secret or launch id slot names no place in its document: a compiler bug')
  return parts
}

/**
 * The document as it goes to stdin: each slot holds the value, JSON-escaped; each launch id slot
 * `launchId`, which a document with such a slot must be given.
 */
export const fillJson = (parts: readonly JsonPart[], valueOf: (name: string) => string, launchId?: string): string =>
  parts
    .map((p) => {
      if (p._tag === 'text') return p.text
      if (p._tag === 'secret') return JSON.stringify(valueOf(p.name))
      if (launchId === undefined) throw new Error('a launch id slot with no launch id: interpret fills it')
      return JSON.stringify(launchId)
    })
    .join('')
