/**
 * Reads a note back from a plan's JSON (`bottle plan --format json`): the typed value, checked
 * field by field, so a saved plan's notes are the values `render` prints, never guessed from text.
 *
 *   decodeNote({ _tag: 'drift', against: 'live', text: 'demo (docker) matches this spec' })
 *   // right({ _tag: 'drift', against: 'live', text: 'demo (docker) matches this spec' })
 *   decodeNote('drift: demo …')   // left('a note is an object with a _tag, not "drift: demo …"')
 */
import * as E from 'fp-ts/lib/Either.js'
import { show } from './errors.js'
import { type BackendName, type Note, backendNames } from './types.js'

type Fields = Readonly<Record<string, unknown>>

const text = (o: Fields, key: string): E.Either<string, string> => {
  const v = o[key]
  return typeof v === 'string' ? E.right(v) : E.left(`a ${String(o._tag)} note's ${key} must be a string`)
}

/** The keys a note of this tag has: any other key is refused, so a note cannot smuggle data. */
const keysOf: Record<Note['_tag'], readonly string[]> = {
  backend: ['backend', 'why'],
  drift: ['against', 'text'],
  update: ['change'],
  notApplied: ['change'],
  nothingToUpdate: ['bottle'],
  signIn: ['how', 'secrets', 'dir'],
  info: ['text'],
}

const isTag = (t: unknown): t is Note['_tag'] => typeof t === 'string' && Object.hasOwn(keysOf, t)

export const decodeNote = (json: unknown): E.Either<string, Note> => {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return E.left(`a note is an object with a _tag, not ${show(JSON.stringify(json) ?? String(json))}`)
  const o = json as Fields
  const tag = o._tag
  if (!isTag(tag)) return E.left(`unknown note tag ${show(String(tag))}: one of ${Object.keys(keysOf).join(', ')}`)
  const extra = Object.keys(o).filter((k) => k !== '_tag' && !keysOf[tag].includes(k))
  if (extra.length > 0) return E.left(`a ${tag} note has no ${extra.map((k) => show(k)).join(', ')}`)
  switch (tag) {
    case 'backend': {
      const b = o.backend
      if (typeof b !== 'string' || !(backendNames as readonly string[]).includes(b))
        return E.left(`a backend note's backend must be one of ${backendNames.join(', ')}`)
      return E.map((why: string): Note => ({ _tag: 'backend', backend: b as BackendName, why }))(text(o, 'why'))
    }
    case 'drift': {
      const against = o.against
      if (against !== 'manifest' && against !== 'live') return E.left('a drift note\'s against must be "manifest" or "live"')
      return E.map((t: string): Note => ({ _tag: 'drift', against, text: t }))(text(o, 'text'))
    }
    case 'update':
    case 'notApplied':
      return E.map((change: string): Note => ({ _tag: tag, change }))(text(o, 'change'))
    case 'nothingToUpdate':
      return E.map((bottle: string): Note => ({ _tag: 'nothingToUpdate', bottle }))(text(o, 'bottle'))
    case 'signIn': {
      const { how, secrets, dir } = o
      if (how !== 'token' && how !== 'shared') return E.left('a signIn note\'s how must be "token" or "shared"')
      if (!Array.isArray(secrets) || !secrets.every((x) => typeof x === 'string')) return E.left('a signIn note\'s secrets must be a list of names')
      if (!(dir === null || typeof dir === 'string')) return E.left('a signIn note\'s dir must be a string or null')
      return E.right({ _tag: 'signIn', how, secrets: secrets as string[], dir })
    }
    case 'info':
      return E.map((t: string): Note => ({ _tag: 'info', text: t }))(text(o, 'text'))
  }
}
