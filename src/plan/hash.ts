/**
 * SHA-256 of a text, as hex. A pure function; node:crypto is loaded on the first call, because
 * loading it costs about as much as the rest of `bottle plan agent`'s own work, and only launch,
 * ls and smolvm's cp need a hash.
 *
 *   sha256('abc')   // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
import { createRequire } from 'node:module'

type Crypto = typeof import('node:crypto')

let oneShot: ((text: string) => string) | undefined

const load = (): ((text: string) => string) => {
  const crypto = createRequire(import.meta.url)('node:crypto') as Crypto
  // crypto.hash (Node 20.12+) hashes a short text in a third of createHash's time; launch hashes
  // every env entry, so it shows in plans per second.
  return typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex')
}

export const sha256 = (text: string): string => {
  oneShot ??= load()
  return oneShot(text)
}
