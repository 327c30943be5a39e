/**
 * SHA-256 of a text (its UTF-8 bytes), as hex, written out from FIPS 180-4
 * (section 6.2) rather than taken from node:crypto: loading node:crypto pulls in a score of
 * internal modules, which cost `bottle plan agent` with a manifest (its env entries are hashed to
 * compare with the launch record) more than all of its own work. The texts bottle hashes are short
 * (an env entry, a spec record), where this is as fast as node's; tests/plan/hash.test.ts holds it
 * to node:crypto on any text.
 *
 *   sha256('abc')   // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */

// FIPS 180-4, 4.2.2 and 5.3.3: the round constants are the first 32 bits of the fractional parts
// of the cube roots of the first 64 primes, the initial hash those of the square roots of the
// first 8. Written out as the standard publishes them, not derived at every start (a fraction of
// a millisecond of `bottle plan`); tests/plan/hash.test.ts derives both and compares.
export const roundConstants = Uint32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
)
export const initialHash = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))

// One message schedule and one hash state for every call (the module is single-threaded and
// sha256 does not re-enter): a short text then allocates nothing but its bytes.
const w = new Uint32Array(64)
const h = new Uint32Array(8)

/** Reads 4 bytes big-endian; past the message: the 0x80 after it, zeros, and its length in bits. */
const wordAt = (bytes: Uint8Array, length: number, blocksEnd: number, at: number): number => {
  if (at + 4 <= length) return ((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)
  if (at === blocksEnd - 8) return Math.floor((length * 8) / 2 ** 32)
  if (at === blocksEnd - 4) return (length * 8) >>> 0
  let word = 0
  for (let i = 0; i < 4; i++) word = (word << 8) | (at + i < length ? (bytes[at + i] as number) : at + i === length ? 0x80 : 0)
  return word
}

/** The written-out SHA-256: what every short-lived run uses (see sha256). */
export const sha256Written = (text: string): string => {
  const bytes = Buffer.from(text, 'utf8')
  const length = bytes.length
  // The message, a 1 bit, zeros, and its length in bits as 64 bits: a whole number of 64-byte blocks.
  const blocksEnd = Math.ceil((length + 9) / 64) * 64
  h.set(initialHash)
  for (let block = 0; block < blocksEnd; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = wordAt(bytes, length, blocksEnd, block + 4 * t)
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15] as number
      const y = w[t - 2] as number
      const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)
      const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10)
      w[t] = (w[t - 16] as number) + s0 + (w[t - 7] as number) + s1
    }
    let a = h[0] as number
    let b = h[1] as number
    let c = h[2] as number
    let d = h[3] as number
    let e = h[4] as number
    let f = h[5] as number
    let g = h[6] as number
    let k = h[7] as number
    for (let t = 0; t < 64; t++) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (roundConstants[t] as number) + (w[t] as number)) | 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0
      k = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    // A Uint32Array keeps each sum modulo 2^32.
    h[0] = (h[0] as number) + a
    h[1] = (h[1] as number) + b
    h[2] = (h[2] as number) + c
    h[3] = (h[3] as number) + d
    h[4] = (h[4] as number) + e
    h[5] = (h[5] as number) + f
    h[6] = (h[6] as number) + g
    h[7] = (h[7] as number) + k
  }
  let hex = ''
  for (let i = 0; i < 8; i++) hex += (h[i] as number).toString(16).padStart(8, '0')
  return hex
}

// A process that hashes many texts (plans compiled in a loop: a bench, a long-lived view of many
// bottles) pays node:crypto's load once and then hashes at its speed, about 3.5 times the written
// one's on a spec record; a CLI run hashes a handful of texts and never loads it. Both give the
// same digest (tests/plan/hash.test.ts holds each to createHash).
export const nodeCryptoAfter = 64
let calls = 0
let nodeSha256: ((text: string) => string) | null = null

const loadNodeSha256 = (): ((text: string) => string) | null => {
  // process.getBuiltinModule (node 20.16+) loads a built-in without the ES module loader; on an
  // older node the written hash simply stays.
  const crypto = process.getBuiltinModule?.('node:crypto') as typeof import('node:crypto') | undefined
  if (crypto === undefined) return null
  // crypto.hash (node 20.12+), one call with no Hash object, is about three times createHash's
  // speed on a spec record's few hundred bytes.
  const oneShot = (crypto as { hash?: (algorithm: string, text: string, encoding: 'hex') => string }).hash
  return oneShot !== undefined ? (text) => oneShot('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex')
}

/** SHA-256 of a text's UTF-8 bytes, as hex. */
export const sha256 = (text: string): string => {
  if (nodeSha256 !== null) return nodeSha256(text)
  if (++calls > nodeCryptoAfter) nodeSha256 = loadNodeSha256()
  return sha256Written(text)
}
