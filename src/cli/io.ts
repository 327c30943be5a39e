/**
 * Where the CLI writes, and the host as main read it: the one value every CLI module takes.
 *
 *   const io: Io = { out: (t) => process.stdout.write(t), err: (l) => process.stderr.write(`${l}\n`), env: process.env }
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
