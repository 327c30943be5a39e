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
import type { Json, SecretSlot } from './types.js'

export type JsonPart =
  | { readonly _tag: 'text'; readonly text: string }
  /** A JSON string holding the named host env var's value. */
  | { readonly _tag: 'secret'; readonly name: string }

const samePath = (a: readonly (string | number)[], b: readonly (string | number)[]): boolean =>
  a.length === b.length && a.every((k, i) => k === b[i])

/** Splits the document at its secret slots. A slot that names no place in it is a compiler bug. */
export const jsonParts = (document: Json, slots: readonly SecretSlot[], indent = 0): JsonPart[] => {
  const parts: JsonPart[] = []
  let text = ''
  let filled = 0
  const flush = (): void => {
    if (text !== '') parts.push({ _tag: 'text', text })
    text = ''
  }
  const write = (v: Json, path: readonly (string | number)[], depth: number): void => {
    const slot = slots.find((s) => samePath(s.path, path))
    if (slot !== undefined) {
      flush()
      parts.push({ _tag: 'secret', name: slot.secret })
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
  if (filled !== slots.length) throw new Error('a secret slot names no place in its document: a compiler bug')
  return parts
}

/** The document as it goes to stdin: each slot holds the value, JSON-escaped. */
export const fillJson = (parts: readonly JsonPart[], valueOf: (name: string) => string): string =>
  parts.map((p) => (p._tag === 'text' ? p.text : JSON.stringify(valueOf(p.name)))).join('')
