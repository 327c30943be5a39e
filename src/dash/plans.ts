/**
 * The dashboard's plans: an action's CLI words compiled exactly as `bottle plan WORDS --format
 * json` compiles them (the same parser, the same planFor), so the plan a key runs is the plan the
 * CLI prints. A refusal is its one-line message, as the CLI would print it after `bottle: `.
 *
 *   await compileWords(['agent', 'web', '-b', 'docker'], cli)   // { _tag: 'plan', plan }
 */
import * as E from 'fp-ts/lib/Either.js'
import { planFor } from '../cli/plan-for.js'
import { parseRequest } from '../cli/request.js'
import type { Cli } from '../cli/io.js'
import type { PlanResult } from './model.js'

export const compileWords = async (words: readonly string[], cli: Cli): Promise<PlanResult> => {
  const parsed = parseRequest(['plan', ...words, '--format', 'json'])
  if (parsed._tag === 'invalid') return { _tag: 'refused', message: parsed.message }
  if (parsed._tag !== 'request') return { _tag: 'refused', message: `not an operation: ${words.join(' ')}` }
  const planned = await planFor(parsed.request, cli)
  return E.isLeft(planned) ? { _tag: 'refused', message: planned.left.message } : { _tag: 'plan', plan: planned.right }
}
