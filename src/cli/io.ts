/**
 * Where the CLI writes, and the host as main read it: the one value every CLI module takes.
 *
 *   const io: Io = { out: (t) => writeAll(1, t), err: (l) => writeAll(2, `${l}\n`), env: process.env }   // src/stdio.ts
 *   const cli: Cli = { ...io, host: readSurroundings(io.env) }   // main builds it, once
 */
import type { Surroundings } from '../host.js'

export interface Io {
  readonly out: (text: string) => void
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

/** What the CLI works with below main: where it writes, and the host as main read it, once. */
export interface Cli extends Io {
  readonly host: Surroundings
}
