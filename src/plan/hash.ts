/**
 * SHA-256 of a text, as hex. A pure function; node:crypto is loaded on the first call, because
 * loading it costs about as much as the rest of `bottle plan agent`'s own work, and only launch,
 * ls and smolvm's cp need a hash.
 *
 *   sha256('abc')   // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
import { createRequire } from 'node:module'

type CreateHash = typeof import('node:crypto').createHash

let createHash: CreateHash | undefined

export const sha256 = (text: string): string => {
  createHash ??= (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).createHash
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
