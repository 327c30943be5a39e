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
